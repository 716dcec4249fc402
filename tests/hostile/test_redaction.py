"""Redaction and file modes (issue 12, "Security").

Base URLs carrying credentials (``http://user:password@host/v1``, ``?api_key=``) never reach a
result file (``revision``, ``model_info``), the leaderboard data or a pipeline step's
``done.json``: they are redacted by the same function as MLflow params. Output files follow
the user's umask instead of being forced to 0600.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from domainteb.core.io import atomic_write_json, atomic_write_jsonl, atomic_write_text
from domainteb.core.results import make_result, write_result
from domainteb.core.tracking import flatten, redact_tree, redact_value

from .conftest import run_cli

SECRETS = ("hunter2", "qsecret", "sk-abcdefghijklmnop")
RAW_URL = "http://alice:hunter2@127.0.0.1:9/v1?api_key=qsecret"


def _on_disk(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def _clean(text: str) -> bool:
    return not any(s in text for s in SECRETS)


def test_redact_tree_matches_the_mlflow_param_redaction() -> None:
    config = {"llm": {"base_url": RAW_URL, "api_key": "sk-abcdefghijklmnop", "model": "m"},
              "urls": [RAW_URL], "n": 3, "token": None}
    tree = redact_tree(config)
    assert _clean(json.dumps(tree)) and tree["n"] == 3 and tree["llm"]["model"] == "m" and tree["token"] is None
    assert tree["llm"]["base_url"] == redact_value(RAW_URL) == flatten(config)["llm.base_url"]
    assert "127.0.0.1:9/v1" in tree["llm"]["base_url"]  # the host stays: it says which server was used


def test_openai_encoder_revision_and_model_info_are_redacted() -> None:
    from domainteb.eval.models.openai_api import OpenAIEmbeddingEncoder

    enc = OpenAIEmbeddingEncoder("tiny-embed", base_url=RAW_URL, api_key="sk-abcdefghijklmnop")
    assert _clean(enc.revision) and _clean(json.dumps(enc.model_info()))
    assert enc.revision.startswith("api@http://***@127.0.0.1:9/v1")


def test_result_file_never_holds_raw_credentials(tmp_path: Path) -> None:
    """Whatever an encoder reports (a third-party one may not redact), the writer redacts it."""
    result = make_result(task_name="T", task_type="Retrieval", domain="finance", dataset_revision="r",
                         scores={"test": {"main_score": 0.5}}, evaluation_time=1.0,
                         model={"name": "openai:x", "revision": f"api@{RAW_URL}", "base_url": RAW_URL,
                                "source": RAW_URL})
    path = write_result(tmp_path, result)
    text = path.read_text()
    assert _clean(text) and "127.0.0.1:9" in text


def test_eval_against_a_loopback_server_keeps_credentials_off_disk(
    embedding_server, task_folder, out_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """End to end: eval → result JSON + summary, then the leaderboard site, with a credentialed base URL."""
    url = f"http://alice:hunter2@127.0.0.1:{embedding_server.port}/v1"
    monkeypatch.setenv("DOMAINTEB_EMBEDDINGS_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abcdefghijklmnop")
    monkeypatch.setenv("DOMAINTEB_CACHE", str(tmp_path / "cache"))
    folder = task_folder(name="redaction-task", domain="finance")
    assert run_cli("eval", f"task={folder}", "model=openai:tiny-embed", f"output_dir={out_dir}") == 0, capsys.readouterr().err
    assert embedding_server.requests > 0
    files = list(out_dir.rglob("*.json"))
    assert files and _clean(_on_disk(out_dir))
    site = tmp_path / "site"
    assert run_cli("leaderboard", f"results_dir={out_dir}", f"output_dir={site}") == 0, capsys.readouterr().err
    assert (site / "data" / "finance.json").is_file() and _clean(_on_disk(site))
    assert _clean(capsys.readouterr().out)


def test_leaderboard_redacts_foreign_result_files(tmp_path: Path) -> None:
    """A result file written elsewhere with a raw URL in its model block is redacted on the way in."""
    from domainteb.eval.leaderboard.build import build_site

    record = make_result(task_name="T", task_type="Retrieval", domain="finance", dataset_revision="r",
                         scores={"test": {"main_score": 0.5}}, evaluation_time=1.0,
                         model={"name": "openai:x", "revision": f"api@{RAW_URL}"}).model_dump(mode="json")
    path = tmp_path / "results" / "openai__x" / "T.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    build_site(tmp_path / "results", tmp_path / "site")
    assert _clean(_on_disk(tmp_path / "site"))


def test_pipeline_done_json_is_redacted(tmp_path: Path) -> None:
    from domainteb.pipeline.steps import Step

    step = Step("synth", "", [], runner=lambda cfg: 0, outputs=lambda out, cfg: {"pairs": str(out / "pairs.jsonl")},
                config={"llm": {"base_url": RAW_URL, "api_key": "sk-abcdefghijklmnop"}, "domain": "finance"})
    result = step.execute(tmp_path / "work", OmegaConf.create({}))
    done = result.out_dir / "done.json"
    record = json.loads(done.read_text())
    assert _clean(done.read_text()) and record["config"]["domain"] == "finance"
    assert record["config"]["llm"]["base_url"].endswith("@127.0.0.1:9/v1?api_key=***")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_output_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "b.json", {"x": 1}, root=tmp_path)
        atomic_write_jsonl(tmp_path / "c.jsonl", [{"x": 1}])
        path = write_result(tmp_path / "res", make_result(
            task_name="T", task_type="Retrieval", domain="finance", dataset_revision="r",
            scores={"test": {"main_score": 0.5}}, evaluation_time=1.0, model={"name": "m"}))
    finally:
        os.umask(old)
    for p in (tmp_path / "a.txt", tmp_path / "b.json", tmp_path / "c.jsonl", path):
        assert p.stat().st_mode & 0o777 == mode, (p, oct(p.stat().st_mode))
