"""Per-query retrieval predictions in mteb's prediction_folder format: written by the eval
runner next to the result, read back, and enough to recompute the per-query scores behind
every retrieval CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainteb.core.errors import DomainTebError
from domainteb.core.results import read_result
from domainteb.core.taskio import load_task_folder
from domainteb.eval.report.collect import load_results
from domainteb.eval.report.predictions import per_query_from_predictions, read_predictions
from domainteb.eval.runner import evaluate_task, load_model_for_eval

DOCS = [("d1", "insulin lowers blood glucose in diabetes"), ("d2", "stock markets fell on rate fears"),
        ("d3", "the cat sat on the warm mat"), ("d4", "aspirin reduces fever and pain"),
        ("d5", "bond yields rose after the report")]
QUERIES = [("q1", "what lowers glucose"), ("q2", "why did stocks fall"), ("q3", "what reduces fever")]
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q2", "d5", 1), ("q3", "d4", 2)]


def _beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in DOCS))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES))
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in QRELS)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_runner_saves_predictions_that_reproduce_the_items(tmp_path: Path) -> None:
    task = load_task_folder(_beir(tmp_path / "tiny-retrieval"))
    model = load_model_for_eval("bm25", device="cpu", use_cache=False)
    _, written, _ = evaluate_task(task, model, output_dir=tmp_path / "results", overwrite=True)
    path = written.parent / "predictions" / f"{task.name}_predictions.json"
    raw = json.loads(path.read_text())
    assert raw["mteb_model_meta"]["model_name"] == "bm25"
    runs = read_predictions(path)
    run = runs["default"]["test"]
    assert set(run) == {"q1", "q2", "q3"} and run["q1"] and all(isinstance(v, float) for v in run["q1"].values())
    # the per-query nDCG@10 behind the CI, recomputed from the saved run, equals the result's items
    items = read_result(written).domainteb["items"]["test"]
    qrels: dict[str, dict[str, int]] = {}
    for q, d, s in QRELS:
        qrels.setdefault(q, {})[d] = s
    per_query = per_query_from_predictions(run, qrels)
    assert [per_query[q][items["metric"]] for q in items["ids"]] == pytest.approx(items["values"], abs=1e-12)
    # the report reads the folder without mistaking predictions for results
    assert load_results(tmp_path / "results").warnings == []


def test_bad_prediction_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "X_predictions.json"
    bad.write_text("{nope")
    with pytest.raises(DomainTebError, match="cannot read predictions"):
        read_predictions(bad)
    bad.write_text(json.dumps({"default": {"test": [1, 2]}}))
    with pytest.raises(DomainTebError, match="must map each split to a run"):
        read_predictions(bad)
