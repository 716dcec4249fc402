"""MLflow tracking: runs land in the configured store, nested runs nest, secrets never leave."""

from __future__ import annotations

from pathlib import Path

import mlflow

from domainteb.core.tracking import REDACTED, Tracker, flatten


def test_flatten_redacts_keys_urls_and_tokens() -> None:
    flat = flatten({
        "llm": {"api_key": "sk-live-abcdefghijkl", "base_url": "https://bob:hunter2@llm.example/v1?api_key=zzz",
                "model": "gpt-4o-mini"},
        "note": "uses sk-abcdefghijklmnop inline",
        "token": "",
    })
    assert flat["llm.api_key"] == REDACTED
    assert "hunter2" not in flat["llm.base_url"] and "zzz" not in flat["llm.base_url"]
    assert flat["llm.model"] == "gpt-4o-mini"
    assert "sk-abcdefghijklmnop" not in flat["note"]
    assert flat["token"] == ""


def test_runs_nest_and_log_to_the_given_store(tmp_path: Path) -> None:
    tracker = Tracker(tracking_uri=(tmp_path / "store").as_uri(), experiment="t")
    artifact = tmp_path / "r.json"
    artifact.write_text("{}")
    with tracker.run("parent", tags={"stage": "pipeline"}) as parent_id:
        with tracker.run("child", tags={"stage": "eval"}) as child_id:
            tracker.log_params({"llm": {"api_key": "sk-secretsecret"}, "model": "minilm-l6"})
            tracker.log_metrics({"main_score": 0.5, "nan": float("nan"), "text": "x"})
            tracker.log_artifact(artifact, "results")
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    child = client.get_run(child_id)
    assert child.data.tags["mlflow.parentRunId"] == parent_id
    assert child.data.params["llm.api_key"] == REDACTED
    assert child.data.metrics == {"main_score": 0.5}
    assert [a.path for a in client.list_artifacts(child_id, "results")] == ["results/r.json"]


def test_disabled_tracker_does_nothing(tmp_path: Path) -> None:
    tracker = Tracker(enabled=False, tracking_uri=(tmp_path / "s").as_uri())
    with tracker.run("x") as run_id:
        tracker.log_metrics({"a": 1.0})
    assert run_id is None and not (tmp_path / "s").exists()
