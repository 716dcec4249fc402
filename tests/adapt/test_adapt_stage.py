"""The ``adapt`` stage end to end: Hydra config → trained model folder, card, done.json, MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from domainteb.adapt.stage import METHODS, run
from domainteb.core.errors import ConfigError, DomainTebError

try:
    from .test_finetune import _one_torch_thread, base_model_dir, chemistry_pairs  # noqa: F401 (autouse fixture)
except ImportError:  # rootdir-style imports (tests/adapt has no __init__.py)
    from test_finetune import _one_torch_thread, base_model_dir, chemistry_pairs  # type: ignore[no-redef]  # noqa: F401


def _config(overrides: list[str]):  # type: ignore[no-untyped-def]
    """Compose conf/adapt.yaml; ``domain=`` is set after composing (conf/domain/ is also a config group)."""
    domain = [o.split("=", 1)[1] for o in overrides if o.startswith("domain=")]
    with initialize_config_module("domainteb.conf", version_base=None):
        cfg = compose("adapt", overrides=[o for o in overrides if not o.startswith("domain=")])
    if domain:
        cfg.domain = domain[0]
    return cfg


def _pairs_file(folder: Path, n: int = 32) -> Path:
    cols = chemistry_pairs(n)
    path = folder / "pairs.jsonl"
    personas = ["process chemist", "regulatory officer"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"query": cols["anchor"][i], "positive": cols["positive"][i],
                                 "negatives": [cols["negative"][i]], "persona": personas[i % 2],
                                 "query_type": "synonym"}) + "\n")
    (folder / "report.json").write_text(json.dumps({"filters": {"min_query_words": 1, "dedup": True}}))
    return path


def test_finetune_is_registered_and_config_composes() -> None:
    assert "finetune" in METHODS
    cfg = _config(["adapt=finetune", "domain=finance"])
    assert cfg.adapt.method == "finetune" and cfg.adapt.loss == "mnrl" and cfg.base == "minilm-l6"


@pytest.mark.slow
def test_stage_trains_saves_logs_to_mlflow_and_skips_a_finished_run(tmp_path: Path) -> None:
    import mlflow

    store = (tmp_path / "mlruns").as_uri()
    out = tmp_path / "adapted"
    overrides = [
        "adapt=finetune", f"base={base_model_dir()}", f"data={_pairs_file(tmp_path)}", "domain=chemistry",
        f"output_dir={out}", "device=cpu", "adapt.max_steps=3", "adapt.batch_size=8", "adapt.max_seq_length=32", "adapt.eval_task=null",
        "adapt.logging_steps=1", "adapt.save_steps=2", f"mlflow.tracking_uri={store}", "mlflow.experiment=adapt-test",
    ]
    assert run(_config(overrides)) == 0

    model_dir = out / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "modules.json").is_file()
    assert not list(model_dir.rglob("*.bin"))
    readme = (model_dir / "README.md").read_text()
    assert "process chemist (16)" in readme and "regulatory officer (16)" in readme
    assert "synonym (32)" in readme and "min_query_words=1" in readme
    done = json.loads((out / "done.json").read_text())
    assert done["global_step"] == 3 and done["n_pairs"] == 32
    assert not (out / "checkpoints").exists()

    from domainteb.core.tracking import normalize_tracking_uri

    client = mlflow.MlflowClient(tracking_uri=normalize_tracking_uri(store))
    exp = client.get_experiment_by_name("adapt-test")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    r = runs[0]
    assert r.info.run_name == "adapt-chemistry-finetune"
    assert r.data.tags["stage"] == "adapt" and r.data.tags["method"] == "finetune"
    assert r.data.params["config.adapt.loss"] == "mnrl"
    losses = client.get_metric_history(r.info.run_id, "loss")
    assert [m.step for m in losses] == [1, 2, 3]
    assert "training_loss" in r.data.metrics
    artifacts = [a.path for a in client.list_artifacts(r.info.run_id, "model")]
    assert "model/model.safetensors" in artifacts

    mtime = (model_dir / "model.safetensors").stat().st_mtime
    assert run(_config(overrides)) == 0
    assert (model_dir / "model.safetensors").stat().st_mtime == mtime
    assert len(client.search_runs([exp.experiment_id])) == 1


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["adapt=finetune"], ConfigError, "adapt needs domain="),
        (["adapt=finetune", "domain=finance", "adapt.loss=arcface"], ConfigError, "adapt.loss='arcface' is unknown"),
        (["adapt=finetune", "domain=finance", "+adapt.epochz=3"], ConfigError, "adapt.epochz is not a finetune setting"),
        (["adapt=finetune", "domain=finance", "adapt.method=distill"], DomainTebError, "unknown adapt method 'distill'"),
    ],
)
def test_stage_rejects_bad_input_before_heavy_work(
    tmp_path: Path, overrides: list[str], error: type[Exception], message: str
) -> None:
    cfg = _config([*overrides, f"output_dir={tmp_path}", "base=/nonexistent/model"])
    with pytest.raises(error, match=message):
        run(cfg)


def test_stage_names_the_bad_pairs_line_before_loading_the_model(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"query": "q", "positive": "p"}\n{"query": "q2"}\n')
    cfg = _config(["adapt=finetune", "domain=finance", f"data={bad}", "base=/nonexistent/model",
                   f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(DomainTebError, match=r"pairs.jsonl:2: missing field 'positive'"):
        run(cfg)
