"""One broken task fails alone: one line (file, line, fix), the other tasks finish, the summary is
written, and the run exits 1 at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainteb.cli import main

from ._robust import DOCS, make_beir, make_sts, run_cli


def _latin1_corpus() -> bytes:
    lines = [json.dumps({"_id": i, "title": "", "text": t}) for i, t in DOCS]
    lines[2] = lines[2].replace("pancreas", "pancr\u00e9as")
    return ("\n".join(lines[:2]) + "\n").encode() + (lines[2] + "\n").encode("latin-1") + ("\n".join(lines[3:]) + "\n").encode()


def test_non_utf8_corpus_fails_alone_cli(tmp_path: Path) -> None:
    make_beir(tmp_path / "good1")
    make_beir(tmp_path / "broken", corpus_bytes=_latin1_corpus())
    make_beir(tmp_path / "good2")
    run = run_cli("eval", "task=[good1,broken,good2]", "model=bm25", "output_dir=out", "mlflow.enabled=false",
                  cwd=tmp_path)
    assert run.rc == 1, run.stderr
    assert "Traceback" not in run.stderr
    errors = run.error_lines()
    assert len(errors) == 1, run.stderr
    assert "broken/corpus.jsonl:3" in errors[0] and "not UTF-8" in errors[0] and "re-save" in errors[0]
    out = tmp_path / "out"
    assert (out / "bm25" / "good1.json").is_file() and (out / "bm25" / "good2.json").is_file()
    assert not (out / "bm25" / "broken.json").exists()
    summary = (out / "summary" / "general.md").read_text()
    assert "good1" in summary and "good2" in summary and "broken" not in summary


def test_bad_task_reported_once_for_several_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_beir(tmp_path / "good")
    fractional = make_beir(tmp_path / "fractional", qrels=[("q1", "d1", "1"), ("q2", "d2", "0.5")])
    out_of_range = make_sts(tmp_path / "sts-range", [4.5, 4.0, 7.5, 0.5, 4.2, 0.1], name="sts-range")
    status = main(["eval", f"task=[{good},{fractional},{out_of_range}]", "model=[bm25,minilm-l3]",
                   f"output_dir={tmp_path / 'out'}", "mlflow.enabled=false"])
    assert status == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, err  # one per broken task, not one per (model, task)
    assert any("fractional/qrels/test.tsv:3" in e and "'0.5'" in e and "integer" in e for e in errors), errors
    assert any("sts-range" in e and "row 3" in e and "outside [min_score, max_score]" in e for e in errors), errors
    assert {p.name for p in (tmp_path / "out").glob("*/*.json")} == {"good.json"}
    assert len(list((tmp_path / "out").glob("*/good.json"))) == 2
