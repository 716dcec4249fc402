"""The build quality rules fire on broken builds, naming the task and the rule."""

from __future__ import annotations

import pytest

from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.core.types import ColumnData, RetrievalData, TaskType
from domainteb.domains.base import BuiltSplit, TaskBuilder, resolve_size


def _builder(type_: TaskType, splits: dict[str, BuiltSplit], **kw) -> TaskBuilder:
    return TaskBuilder(
        name="BrokenTask", domain="medical", type=type_, description="d", source="x==1", license="l", citation="c",
        build=lambda size: splits, **kw,
    )


def _retrieval(queries=None, corpus=None, qrels=None) -> RetrievalData:
    return RetrievalData(
        corpus=corpus if corpus is not None else {"d1": {"title": "", "text": "aspirin"}, "d2": {"title": "", "text": "ibuprofen"}},
        queries=queries if queries is not None else {"q1": "acetylsalicylic acid"},
        qrels=qrels if qrels is not None else {"q1": {"d1": 1}},
    )


def _classification(texts: list[str], labels: list[str]) -> ColumnData:
    return ColumnData({"text": texts, "label": labels})


GOOD_TRAIN = _classification([f"a{i}" for i in range(3)] + [f"b{i}" for i in range(3)], ["A"] * 3 + ["B"] * 3)
GOOD_TEST = _classification([f"c{i}" for i in range(3)] + [f"d{i}" for i in range(3)], ["A"] * 3 + ["B"] * 3)

CASES = {
    "empty query": (TaskType.RETRIEVAL, {"test": BuiltSplit(_retrieval(queries={"q1": "  "}))}, {}, "no-empty-texts"),
    "qrels to missing doc": (TaskType.RETRIEVAL, {"test": BuiltSplit(_retrieval(qrels={"q1": {"d9": 1}}))}, {}, "qrels-reference-ids"),
    "query without qrels": (
        TaskType.RETRIEVAL, {"test": BuiltSplit(_retrieval(queries={"q1": "x", "q2": "y"}))}, {}, "qrels-reference-ids"),
    "one id two texts": (
        TaskType.RETRIEVAL,
        {"test": BuiltSplit(_retrieval()), "dev": BuiltSplit(_retrieval(corpus={"d1": {"title": "", "text": "other"}}))},
        {"eval_splits": ["test", "dev"]}, "no-duplicate-ids"),
    "single class": (
        TaskType.CLASSIFICATION,
        {"train": BuiltSplit(_classification(["a", "b", "c"], ["A"] * 3)), "test": BuiltSplit(GOOD_TEST)},
        {"train_split": "train"}, "label-classes"),
    "rare class": (
        TaskType.CLASSIFICATION,
        {"train": BuiltSplit(_classification(["a", "b", "c", "d"], ["A", "A", "A", "B"])), "test": BuiltSplit(GOOD_TEST)},
        {"train_split": "train"}, "label-classes"),
    "text leakage": (
        TaskType.CLASSIFICATION,
        {"train": BuiltSplit(GOOD_TRAIN), "test": BuiltSplit(_classification(["a0", "x", "y", "d0", "d1", "d2"], ["A"] * 3 + ["B"] * 3))},
        {"train_split": "train"}, "no-text-leakage"),
    "entity leakage": (
        TaskType.CLASSIFICATION,
        {"train": BuiltSplit(GOOD_TRAIN, {"E11"}), "test": BuiltSplit(GOOD_TEST, {"E11", "E12"})},
        {"train_split": "train"}, "no-entity-leakage"),
    "duplicate rows": (
        TaskType.BITEXT_MINING, {"test": BuiltSplit(ColumnData({"sentence1": ["a", "a"], "sentence2": ["b", "b"]}))}, {}, "no-duplicate-rows"),
    "missing split": (TaskType.CLASSIFICATION, {"test": BuiltSplit(GOOD_TEST)}, {"train_split": "train"}, "splits-present"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_fires(case: str) -> None:
    type_, splits, kw, rule = CASES[case]
    with pytest.raises(TaskDataError, match=rf"task BrokenTask: rule '{rule}' failed"):
        _builder(type_, splits, **kw).ensure_built("tiny")
    assert not _builder(type_, splits, **kw).folder("tiny").exists()


def test_good_build_passes_and_is_cached() -> None:
    b = _builder(TaskType.CLASSIFICATION, {"train": BuiltSplit(GOOD_TRAIN, {"a"}), "test": BuiltSplit(GOOD_TEST, {"b"})}, train_split="train")
    folder = b.ensure_built("tiny")
    assert b.ensure_built("tiny") == folder
    task = b.task("tiny")
    assert task.split("test")["label"] == GOOD_TEST["label"]


def test_size_resolution(monkeypatch) -> None:
    monkeypatch.setenv("DOMAINTEB_TASK_SIZE", "full")
    assert resolve_size(None) == "full"
    assert resolve_size("small") == "small"
    monkeypatch.delenv("DOMAINTEB_TASK_SIZE")
    assert resolve_size(None) == "small"
    with pytest.raises(ConfigError, match="DOMAINTEB_TASK_SIZE"):
        resolve_size("huge")
