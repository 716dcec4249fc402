"""Task folders: BEIR and JSONL formats, and a one-line error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainteb.core.errors import TaskDataError
from domainteb.core.taskio import load_task_folder, write_task_folder
from domainteb.core.types import ColumnData, RetrievalData, TaskMetadata, TaskType


def write_beir(folder: Path, corpus=None, queries=None, qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    corpus = corpus if corpus is not None else [
        {"_id": "d1", "title": "Goodwill", "text": "Goodwill is tested for impairment annually."},
        {"_id": "d2", "title": "Inventory", "text": "Inventory is stated at the lower of cost or net realizable value."},
    ]
    queries = queries if queries is not None else [{"_id": "q1", "text": "goodwill impairment test"},
                                                   {"_id": "q2", "text": "inventory valuation"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_plain_beir_folder_is_retrieval_on_test(tmp_path: Path) -> None:
    task = load_task_folder(write_beir(tmp_path / "fiqa-mini"))
    assert task.type is TaskType.RETRIEVAL and task.metadata.eval_splits == ["test"]
    data = task.split("test")
    assert isinstance(data, RetrievalData)
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}
    assert data.corpus["d2"]["title"] == "Inventory"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: (f / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n'), r"corpus.jsonl:2: malformed JSON"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tzzz\t1\n"), r"test.tsv:2: document id 'zzz' is not in corpus.jsonl"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n"), r"test.tsv:2: query id 'q9' is not in queries.jsonl"),
        (lambda f: (f / "corpus.jsonl").write_text(""), r"corpus.jsonl: corpus is empty"),
        (lambda f: (f / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"), r"test.tsv: split has no judgements"),
        (lambda f: (f / "qrels" / "test.tsv").unlink(), r"test.tsv: qrels file not found"),
        (lambda f: (f / "queries.jsonl").write_text('{"_id": "q1"}\n'), r"queries.jsonl:1: missing field 'text'"),
        (lambda f: (f / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n'), r"duplicate document id 'd1'"),
    ],
)
def test_bad_beir_input_names_file_and_line(tmp_path: Path, mutate, message: str) -> None:
    folder = write_beir(tmp_path / "t")
    mutate(folder)
    with pytest.raises(TaskDataError, match=message) as info:
        load_task_folder(folder).load()
    assert "\n" not in str(info.value)


def test_missing_folder_and_missing_type(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match="task folder not found"):
        load_task_folder(tmp_path / "nope")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "domainteb.json").write_text('{"name": "x"}')
    with pytest.raises(TaskDataError, match="missing field 'type'"):
        load_task_folder(tmp_path / "x")
    (tmp_path / "x" / "domainteb.json").write_text('{"type": "Sorting"}')
    with pytest.raises(TaskDataError, match="unknown task type 'Sorting'"):
        load_task_folder(tmp_path / "x")
    (tmp_path / "y").mkdir()
    with pytest.raises(TaskDataError, match="not a task folder"):
        load_task_folder(tmp_path / "y")


def test_jsonl_types_roundtrip_and_field_errors(tmp_path: Path) -> None:
    meta = TaskMetadata(name="sts-mini", type=TaskType.STS, params={"min_score": 0, "max_score": 5})
    cols = {"sentence1": ["a cat", "a dog"], "sentence2": ["a kitten", "a car"], "score": [4.5, 0.5]}
    folder = write_task_folder(tmp_path / "sts", meta, {"test": ColumnData(cols)})
    task = load_task_folder(folder)
    assert task.type is TaskType.STS and task.metadata.n_samples == {"test": 2}
    assert task.split("test").columns == cols
    (folder / "test.jsonl").write_text('{"sentence1": "a", "sentence2": "b", "score": "high"}\n')
    with pytest.raises(TaskDataError, match=r"test.jsonl:1: field 'score' must be int or float"):
        load_task_folder(folder).load()
    (folder / "test.jsonl").write_text('{"sentence1": "", "sentence2": "b", "score": 1}\n')
    with pytest.raises(TaskDataError, match=r"field 'sentence1' is empty"):
        load_task_folder(folder).load()


def test_reranking_rows_become_candidate_lists(tmp_path: Path) -> None:
    meta = TaskMetadata(name="rr", type=TaskType.RERANKING)
    cols = {"query": ["q one"], "positive": [["good doc"]], "negative": [["bad doc", "worse doc"]]}
    folder = write_task_folder(tmp_path / "rr", meta, {"test": ColumnData(cols)})
    data = load_task_folder(folder).split("test")
    assert isinstance(data, RetrievalData)
    assert len(data.top_ranked["q0"]) == 3
    assert sum(data.qrels["q0"].values()) == 1


def test_optional_gold_score_column_for_fin_summarization(tmp_path: Path) -> None:
    folder = tmp_path / "finsum"
    folder.mkdir()
    (folder / "domainteb.json").write_text('{"type": "FinSummarization"}')
    rows = [{"text": "Revenue rose 4%.", "summary": "Revenue up", "score": 1.0},
            {"text": "Costs fell.", "summary": "Costs down", "score": 0.5}]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_task_folder(folder).split("test").columns["score"] == [1.0, 0.5]
    rows[1].pop("score")
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(TaskDataError, match=r"test.jsonl:2: missing field 'score'"):
        load_task_folder(folder).load()
