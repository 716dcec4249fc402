#!/usr/bin/env bash
# GPU checks of the adapt stage on a CUDA machine (run from the repository root, domainteb importable).
#
#   BASE=minilm-l6 DOMAIN=medical RESULTS=outputs/gpu_check bash benchmarks/gpu_check.sh
#
# 1. fine-tuning on CUDA with precision=auto (bf16 where supported), evaluated during training;
# 2. the same through torchrun (DDP, one process per visible GPU);
# 3. GAPrune on CUDA (per-sample Fisher in fp32 on the GPU, bf16 prune-then-retrain);
# 4. evaluation of base vs fine-tuned vs pruned on the domain suite, on the GPU;
# 5. benchmarks/pruned_speed.py: structured export speed-up (CPU) and 2:4 semi-structured (GPU, fp16).
# Each step's summary (done.json / prune_report.json / results CSV) is copied into $RESULTS.
set -uo pipefail
BASE=${BASE:-minilm-l6}
DOMAIN=${DOMAIN:-medical}
RESULTS=${RESULTS:-outputs/gpu_check}
WORK=${WORK:-outputs/gpu_check_work}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}            # cpu: a quick dry run of this script on a machine without a GPU
EVAL_SIZE=${EVAL_SIZE:-tiny}
FT_EPOCHS=${FT_EPOCHS:-3}
DDP_STEPS=${DDP_STEPS:-20}
N_CALIBRATION=${N_CALIBRATION:-512}
RETRAIN_STEPS=${RETRAIN_STEPS:-100}
SPEED_RETRAIN_STEPS=${SPEED_RETRAIN_STEPS:-50}
N_TEXTS=${N_TEXTS:-2048}
DATA=${DATA:-}                    # pairs JSONL; empty: the domain suite's real training pairs
DT="$PY -m domainteb.cli"
COMMON="mlflow.enabled=false"
DATA_ARG=(); SPEED_DATA=()
if [ -n "$DATA" ]; then DATA_ARG=("data=$DATA"); SPEED_DATA=(--data "$DATA"); fi
mkdir -p "$RESULTS" "$WORK"
status=0
STEPS=${STEPS:-finetune torchrun gaprune eval speed}   # a subset reruns only those steps
step() {  # step <name> <command...>: run, time, and remember a failure without stopping the others
  local name=$1; shift
  case " $STEPS " in *" ${name%%-*} "*) ;; *) echo "=== $name: skipped (STEPS)"; return ;; esac
  echo "=== $name"
  local t0=$SECONDS
  "$@"
  local rc=$?
  echo "=== $name: rc=$rc in $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || status=1
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported(), 'transformers', transformers.__version__, 'sentence-transformers', st.__version__)"
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l); [ "$NGPU" -gt 0 ] || NGPU=1

step finetune-cuda $DT adapt method=finetune base="$BASE" domain="$DOMAIN" "${DATA_ARG[@]}" device=$DEVICE adapt.epochs=$FT_EPOCHS \
  adapt.batch_size=64 adapt.eval_steps=32 adapt.save_steps=32 $COMMON output_dir="$WORK/finetune"
cp "$WORK/finetune/done.json" "$RESULTS/finetune_done.json" 2>/dev/null

step torchrun-ddp $PY -m torch.distributed.run --standalone --nproc_per_node="$NGPU" -m domainteb.cli adapt \
  method=finetune base="$BASE" domain="$DOMAIN" "${DATA_ARG[@]}" device=$DEVICE adapt.max_steps=$DDP_STEPS adapt.batch_size=64 adapt.eval_steps=10 \
  adapt.save_steps=10 $COMMON output_dir="$WORK/finetune_ddp"
cp "$WORK/finetune_ddp/done.json" "$RESULTS/finetune_ddp_done.json" 2>/dev/null

step gaprune-cuda $DT adapt method=gaprune base="$BASE" domain="$DOMAIN" "${DATA_ARG[@]}" device=$DEVICE sparsity=0.5 retrain_steps=$RETRAIN_STEPS \
  adapt.n_calibration=$N_CALIBRATION $COMMON output_dir="$WORK/gaprune"
cp "$WORK/gaprune/prune_report.json" "$RESULTS/gaprune_report.json" 2>/dev/null

MODELS=$BASE
for m in "$WORK/finetune/model" "$WORK/gaprune/model"; do [ -f "$m/modules.json" ] && MODELS="$MODELS,$m"; done
step eval-cuda $DT eval "model=[$MODELS]" domain="$DOMAIN" size="$EVAL_SIZE" \
  device=$DEVICE $COMMON output_dir="$WORK/eval"
cp "$WORK"/eval/summary/*.csv "$RESULTS/" 2>/dev/null

step speed-pruned $PY benchmarks/pruned_speed.py --domain "$DOMAIN" --base "$BASE" "${SPEED_DATA[@]}" --retrain-steps "$SPEED_RETRAIN_STEPS" --n-texts "$N_TEXTS" --batch-size 64

exit $status
