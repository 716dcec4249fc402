"""Is the structured-pruned model faster, and what does it cost in domain quality? One run.

1. Score the FFN weights of the base model (GAPrune DAI from a small calibration pass, or
   ``--criterion magnitude``), aggregate per neuron, remove ``--neuron-sparsity`` of the FFN
   neurons in every layer (a standard, smaller BERT checkpoint).
2. Encode throughput on CPU, pruned / dense: same texts, same batch size, warm-up first,
   alternating dense and pruned repeats, median of ``--repeats``.
3. Domain score ratio pruned / dense after a short retrain of the pruned model (``--retrain-steps``
   MNRL steps on the domain's training triplets), on the domain's first retrieval task.
   Target: >= 1.3x faster at <= 3 % domain loss after retraining.
4. On a CUDA GPU (compute capability >= 8): 2:4 semi-structured FFN weights (fp16) vs dense fp16
   throughput; skipped with a message on CPU.

    python benchmarks/pruned_speed.py --domain finance --neuron-sparsity 0.5 --retrain-steps 50
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def throughput(model: Any, texts: list[str], batch: int) -> tuple[float, float]:
    """Texts per second of wall time and per second of this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=batch, convert_to_numpy=True)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def compare(models: dict[str, Any], texts: list[str], batch: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU-time) throughput per model; models alternate within each repeat."""
    for m in models.values():  # warm-up
        throughput(m, texts[: 2 * batch], batch)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in models}
    for _ in range(repeats):
        for k, m in models.items():
            runs[k].append(throughput(m, texts, batch))
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}


def main(argv: list[str] | None = None) -> int:
    import torch

    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.evaluator import resolve_eval_task
    from domainteb.adapt.gaprune.calibration import read_triplets_file, to_triplets
    from domainteb.adapt.gaprune.evaluation import task_score
    from domainteb.adapt.gaprune.prune import collect_stats
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.scoring import SCORERS, ScoringInputs
    from domainteb.adapt.gaprune.targets import prunable_targets
    from domainteb.adapt.structured import (
        apply_semi_structured,
        export_structured,
        ffn_blocks,
        semi_structured_available,
    )
    from domainteb.domains import general_triplets, train_pairs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", default="finance")
    p.add_argument("--base", default="minilm-l6")
    p.add_argument("--data", default=None, help="domain triplets JSONL (default: the domain suite's training pairs)")
    p.add_argument("--criterion", default="gaprune", choices=["gaprune", "magnitude"])
    p.add_argument("--neuron-sparsity", type=float, default=0.5)
    p.add_argument("--n-calibration", type=int, default=64)
    p.add_argument("--retrain-steps", type=int, default=50)
    p.add_argument("--n-texts", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--size", default="tiny")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    dense = load_sentence_transformer(args.base, device="cpu")
    n_pool = args.n_calibration + 32 * args.retrain_steps + args.n_texts
    if args.data:
        pool = read_triplets_file(args.data, n_pool, args.seed)
    else:
        pool = to_triplets(train_pairs(args.domain, n_pool), args.domain)
    calib, rest = pool[: args.n_calibration], pool[args.n_calibration :]
    texts = [t.positive for t in rest[-args.n_texts :]]
    train = rest[: -args.n_texts] or rest

    scores = None
    if args.criterion == "gaprune":
        gen = to_triplets(general_triplets(args.n_calibration, args.seed), "wordnet")
        targets = prunable_targets(dense)
        stats = collect_stats(dense, targets, {"domain": calib, "general": gen}, {"domain", "general"}, batch_size=32)
        scores = SCORERS.get("gaprune").fn(ScoringInputs(weights={t.name: t.module.weight for t in targets},
                                                         domain=stats.by_set["domain"], general=stats.by_set["general"]))
    with tempfile.TemporaryDirectory() as work:
        pruned = copy.deepcopy(dense)
        info = export_structured(pruned, Path(work) / "small", args.neuron_sparsity, scores)
        print(f"structured: FFN width {ffn_blocks(dense)[0].width} -> {info['intermediate_size']}, "
              f"parameters {info['params_before']:,} -> {info['params_after']:,} ({args.criterion} neuron ranking)")
        dense.eval(), pruned.eval()
        tp = compare({"dense": dense, "pruned": pruned}, texts, args.batch_size, args.repeats)
        (dw, dc), (pw, pc) = tp["dense"], tp["pruned"]
        print(f"CPU encode throughput ({len(texts)} texts, batch {args.batch_size}, {torch.get_num_threads()} threads, "
              f"median of {args.repeats}): wall dense {dw:.1f}/s, pruned {pw:.1f}/s, ratio {pw / dw:.2f}x "
              f"(target >= 1.3x); per CPU-second dense {dc:.1f}/s, pruned {pc:.1f}/s, ratio {pc / dc:.2f}x")

        task = resolve_eval_task("auto", args.domain, args.size)
        if task is None:
            print("no domain retrieval task available; domain score ratio skipped")
        else:
            s_dense = task_score(dense, task, args.seed)
            s_one = task_score(pruned, task, args.seed)
            if args.retrain_steps > 0:
                keep_all = {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in prunable_targets(pruned)}
                retrain(pruned, train, targets=prunable_targets(pruned), mask=keep_all, steps=args.retrain_steps,
                        output_dir=Path(work) / "rt", batch_size=32, seed=args.seed)
            s_retr = task_score(pruned, task, args.seed)
            print(f"domain score on {task.name} ({task.metadata.main_score}): dense {s_dense:.4f}, pruned one-shot "
                  f"{s_one:.4f} ({s_one / s_dense:.3f}x), pruned + {args.retrain_steps} retrain steps {s_retr:.4f} "
                  f"({s_retr / s_dense:.3f}x; target >= 0.97x)")

    reason = semi_structured_available()
    if reason:
        print(f"2:4 semi-structured: skipped ({reason})")
        return 0
    d16 = copy.deepcopy(dense).half().cuda().eval()
    s16 = copy.deepcopy(d16)
    n = apply_semi_structured(s16, [t.name for t in prunable_targets(s16)])
    tp = compare({"dense": d16, "2:4": s16}, texts * 8, 256, args.repeats)
    print(f"CUDA fp16 throughput: dense {tp['dense'][0]:.0f}/s, 2:4 on {n} FFN matrices {tp['2:4'][0]:.0f}/s, "
          f"ratio {tp['2:4'][0] / tp['dense'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
