"""Edited data or settings never come back as an old score: result reuse keys on the task data's
content hash, the scoring settings, the seed, the model revision and the domainteb version."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from domainteb.cli import main
from domainteb.core.results import read_result

from ._robust import DOCS, QUERIES, make_beir, make_sts, write_qrels


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, int]:
    """Run ``domainteb eval``; returns (written, reused) from its closing line."""
    assert main(["eval", "model=bm25", "mlflow.enabled=false", *args]) == 0
    out = capsys.readouterr().out
    found = re.search(r"(\d+) result\(s\) written, (\d+) reused", out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


def test_edited_qrels_are_recomputed_without_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_beir(tmp_path / "task")
    args = (f"task={task}", f"output_dir={tmp_path / 'out'}")
    result = tmp_path / "out" / "bm25" / "task.json"
    assert _eval(capsys, *args) == (1, 0)
    before = read_result(result).main_score()
    assert _eval(capsys, *args) == (0, 1)  # unchanged data: reused

    # judge every query against a wrong document: the old (perfect) score must not come back
    write_qrels(task, [(q, d, "1") for (q, _), (d, _) in zip(QUERIES, DOCS[1:] + DOCS[:1])])
    assert _eval(capsys, *args) == (1, 0)
    after = read_result(result).main_score()
    assert after < before
    # ...and it equals a fresh evaluation in an empty output folder
    _eval(capsys, f"task={task}", f"output_dir={tmp_path / 'fresh'}")
    assert read_result(tmp_path / "fresh" / "bm25" / "task.json").main_score() == pytest.approx(after)
    assert read_result(result).domainteb["data_hash"]


def test_edited_corpus_is_recomputed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_beir(tmp_path / "task")
    args = (f"task={task}", f"output_dir={tmp_path / 'out'}")
    assert _eval(capsys, *args) == (1, 0)
    with open(task / "corpus.jsonl", "a") as fh:
        fh.write(json.dumps({"_id": "d6", "title": "", "text": "Metformin glucose blood drug lowers"}) + "\n")
    assert _eval(capsys, *args) == (1, 0)


def test_scoring_settings_seed_and_version_invalidate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    task = make_sts(tmp_path / "sts", [4.5, 4.0, 4.8, 0.5, 4.2, 0.1], name="tiny-sts")
    args = (f"task={task}", f"output_dir={tmp_path / 'out'}")
    assert _eval(capsys, *args) == (1, 0)
    assert _eval(capsys, *args) == (0, 1)
    # a scoring parameter in domainteb.json (not a data file) changes → recomputed
    meta = json.loads((task / "domainteb.json").read_text())
    meta["params"]["max_score"] = 6
    (task / "domainteb.json").write_text(json.dumps(meta))
    assert _eval(capsys, *args) == (1, 0)
    assert read_result(tmp_path / "out" / "bm25" / "tiny-sts.json").domainteb["settings"]["test"]["max_score"] == 6
    # another seed → recomputed
    assert _eval(capsys, *args, "seed=7") == (1, 0)
    assert _eval(capsys, *args, "seed=7") == (0, 1)
    # another domainteb version → recomputed
    monkeypatch.setattr("domainteb.eval.runner.__version__", "999.0.0")
    assert _eval(capsys, *args, "seed=7") == (1, 0)
