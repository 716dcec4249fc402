"""`domainteb pipeline` end to end against a real OpenAI-compatible server on loopback:
synth → training data → fine-tune → eval → profile → report → leaderboard, then a rerun
that skips every finished step."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import pytest

from domainteb.cli import main
from domainteb.core.results import read_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synth"))
from fault_server import FaultPlan, FaultServer  # noqa: E402

pytestmark = pytest.mark.slow


def pipeline_args(base_url: str, method: str = "finetune") -> list[str]:
    return [
        "pipeline", "domain=medical", "size=tiny", "base=minilm-l3", "baselines=[bm25]", "real_pairs=64",
        f"adapt={method}",
        "gaprune_overrides=['sparsity=0.5','retrain_steps=2','adapt.n_calibration=16','adapt.held_out=8',"
        "'adapt.eval_task=null','adapt.general_eval_task=null']",
        "llm=openai", f"llm.base_url={base_url}", "llm.model=fault-model", "llm.api_key_env=null",
        "synth_overrides=['n_passages=4','queries_per_passage=2','timeout_s=10']",
        "finetune_overrides=['adapt.max_steps=2','adapt.eval_task=null','adapt.batch_size=16']",
        "eval_overrides=['types=[Retrieval,Reranking]']",
        "report_overrides=['n_boot=100']",
    ]


@pytest.mark.parametrize("method", ["finetune", "gaprune"])
def test_pipeline_runs_then_resumes(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    with FaultServer(FaultPlan(rate=0.0)) as server:
        assert main(pipeline_args(server.base_url, method)) == 0
        first = capsys.readouterr().out
        calls = server.stats.requests
        assert calls > 0
        adapted = f"minilm-l3-medical-{method}"
        files = sorted((tmp_path / "results" / adapted).glob("*.json"))
        assert {f.stem for f in files} == {"MedICD10SynonymRetrieval", "MedHPODefinitionRetrieval", "MedDrugSynonymReranking"}
        info = read_result(files[0]).domainteb["model"]
        assert "adapted" in info["labels"] and info["base_model"] == "minilm-l3"
        assert (tmp_path / "results" / "bm25" / "MedICD10SynonymRetrieval.json").is_file()
        assert (tmp_path / "results" / "profiles" / "medical.json").is_file()
        report = tmp_path / "results" / "report" / "medical" / "report.md"
        assert report.is_file() and "bm25" in report.read_text()
        assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "medical.html").is_file()
        assert "leaderboard" in first and "MLflow store" in first

        # a rerun changes nothing: every step is up to date and the LLM is not called again
        assert main(pipeline_args(server.base_url, method)) == 0
        second = capsys.readouterr().out
        assert server.stats.requests == calls
    steps = ["synth", "training-data", "finetune", "eval", "profile", "report", "leaderboard"]
    if method == "gaprune":
        steps.append("gaprune")
        assert "gaprune" in info["labels"]
        assert list((tmp_path / "outputs" / "pipeline" / "medical").glob("gaprune-*/prune_report.json"))
    for step in steps:
        assert f"{step}: up to date" in second, second

    runs = mlflow.search_runs(experiment_names=["domainteb"], output_format="list")
    parents = {r.info.run_id for r in runs if r.data.tags.get("stage") == "pipeline" and r.data.tags.get("method") == method}
    assert parents
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in parents]
    assert {r.data.tags.get("stage") for r in children} >= {"synth", "adapt", "eval"}
    if method == "gaprune":
        assert {r.data.tags.get("method") for r in children if r.data.tags.get("stage") == "adapt"} >= {"finetune", "gaprune"}


def test_bad_adapt_choice_is_a_one_line_error(capsys) -> None:
    assert main(["pipeline", "adapt=distill", "mlflow.enabled=false"]) == 2
    assert "adapt=finetune or adapt=gaprune" in capsys.readouterr().err
