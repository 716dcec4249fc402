"""Values that used to give silently wrong scores are refused with one line: an STS range whose
min is not below its max (it flips the score's sign), gold scores outside the range, fractional
qrels (truncated to 0 before), unknown task types, batch_size=0, and an unknown size reported
once, up front, instead of once per task."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainteb.cli import main
from domainteb.core.config_checks import config_problems
from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.core.taskio import load_task_folder, read_qrels
from domainteb.core.types import ColumnData, Task, TaskMetadata, TaskType
from domainteb.eval.evaluators import evaluate_split
from domainteb.eval.runner import load_model_for_eval

from ._robust import make_beir, make_sts, write_qrels

SCORES = [4.5, 4.0, 4.8, 0.5, 4.2, 0.1]


@pytest.fixture(scope="module")
def bm25():  # type: ignore[no-untyped-def]
    return load_model_for_eval("bm25", device="cpu", use_cache=False)


def test_sts_min_above_max_is_refused(tmp_path: Path) -> None:
    task = load_task_folder(make_sts(tmp_path / "sts", SCORES, params={"min_score": 5, "max_score": 0}))
    with pytest.raises(TaskDataError, match=r"min_score=5 must be below params.max_score=0.*domainteb.json"):
        task.load()


def test_sts_scores_outside_range_are_refused(tmp_path: Path) -> None:
    task = load_task_folder(make_sts(tmp_path / "sts", [4.5, 4.0, 5.5, 0.5, -1.0, 0.1]))
    with pytest.raises(TaskDataError, match=r"test.jsonl: row 3: score 5.5 is outside \[min_score, max_score\] = \[0, 5\]"):
        task.load()


def test_sts_evaluator_checks_tasks_not_read_from_folders(bm25) -> None:  # type: ignore[no-untyped-def]
    pairs = {"sentence1": ["a cat", "stocks fell", "rain"], "sentence2": ["a cat sat", "markets fell", "sun"]}

    def task(scores: list[float], params: dict[str, float]) -> Task:
        meta = TaskMetadata(name="mem-sts", type=TaskType.STS, params=params)
        return Task(metadata=meta, loader=lambda: {"test": ColumnData({**pairs, "score": scores})})

    with pytest.raises(TaskDataError, match="min_score=1 must be below params.max_score=0"):
        evaluate_split(task([0.1, 0.5, 0.9], {"min_score": 1, "max_score": 0}), "test", bm25)
    with pytest.raises(TaskDataError, match="row 2 score 3 is outside"):
        evaluate_split(task([0.1, 3.0, 0.9], {"min_score": 0, "max_score": 1}), "test", bm25)
    ok = evaluate_split(task([0.1, 0.5, 0.9], {"min_score": 0, "max_score": 1}), "test", bm25)
    assert -1 <= ok.metrics["cosine_spearman"] <= 1


def test_qrels_graded_integers_accepted_fractions_refused(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "task")
    corpus = {f"d{i}": {} for i in range(1, 6)}
    queries = {f"q{i}": "x" for i in range(1, 6)}
    write_qrels(folder, [("q1", "d1", "2"), ("q2", "d2", "1.0"), ("q3", "d3", "0"), ("q4", "d4", "1")])
    assert read_qrels(folder / "qrels" / "test.tsv", corpus, queries) == {
        "q1": {"d1": 2}, "q2": {"d2": 1}, "q3": {"d3": 0}, "q4": {"d4": 1}}
    write_qrels(folder, [("q1", "d1", "1"), ("q2", "d2", "0.5")])
    with pytest.raises(TaskDataError, match=r"qrels/test.tsv:3: score '0.5' is not an integer"):
        read_qrels(folder / "qrels" / "test.tsv", corpus, queries)
    write_qrels(folder, [("q1", "d1", "high")])
    with pytest.raises(TaskDataError, match=r"test.tsv:2: score 'high' is not a number"):
        read_qrels(folder / "qrels" / "test.tsv", corpus, queries)


@pytest.mark.parametrize(("values", "needle"), [
    ({"batch_size": 0}, "batch_size=0 must be a whole number >= 1"),
    ({"batch_size": True}, "batch_size=True"),
    ({"batch_size": 1.5}, "batch_size=1.5"),
    ({"types": ["Retrieval", "Retreival"]}, "unknown task type(s) 'Retreival'"),
    ({"size": "huge"}, "task size 'huge' is unknown"),
    ({"seed": "x"}, "seed='x'"),
    ({"device": "tpu"}, "device='tpu' is not supported"),
])
def test_config_values_refused(values: dict[str, object], needle: str) -> None:
    problems = config_problems(values)
    assert len(problems) == 1 and needle in problems[0], problems


def test_good_config_values_pass(tmp_path: Path) -> None:
    assert config_problems({"batch_size": 32, "types": ["Retrieval", "sts"], "size": "tiny", "seed": 1,
                            "device": "cpu", "output_dir": str(tmp_path / "new" / "folder")}) == []


def test_bad_values_reported_once_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status = main(["eval", "domain=finance", "size=huge", "model=bm25", f"output_dir={out}", "mlflow.enabled=false"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("huge") == 1 and len(err.strip().splitlines()) == 1, err
    status = main(["eval", "domain=finance", "types=[Retrieval,Foo]", "batch_size=0", "model=bm25",
                   f"output_dir={out}", "mlflow.enabled=false"])
    assert status == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "'Foo'" in lines[0] and "batch_size=0" in lines[0], err
    assert not out.exists()
    with pytest.raises(ConfigError):
        from domainteb.core.config_checks import check_config

        check_config({"batch_size": "abc"})
