"""Quality rules every built offline task must pass before it is written.

Each failed rule raises :class:`~domainteb.core.errors.TaskDataError` naming the task and the
rule, e.g. ``task MedICD10SynonymRetrieval: rule 'qrels-reference-ids' failed: …``.

Rules: ``splits-present``, ``no-empty-texts``, ``no-duplicate-ids``, ``qrels-reference-ids``,
``label-classes`` (>= 2 classes, each with enough members), ``no-duplicate-rows``,
``no-entity-leakage`` (no source entity in two splits) and ``no-text-leakage`` (no
classification text both in the classifier's train split and in test).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domainteb.core.errors import TaskDataError
from domainteb.core.taskio import SCHEMAS
from domainteb.core.types import ColumnData, RetrievalData, TaskType

if TYPE_CHECKING:
    from domainteb.domains.base import BuiltSplit

LABEL_COLUMNS = {TaskType.CLASSIFICATION: "label", TaskType.CLUSTERING: "labels", TaskType.PAIR_CLASSIFICATION: "labels"}


def fail(task: str, rule: str, detail: str) -> TaskDataError:
    return TaskDataError(f"task {task}: rule {rule!r} failed: {detail}")


def check_build(
    task: str,
    task_type: TaskType,
    splits: Mapping[str, BuiltSplit],
    min_class: int,
    eval_splits: list[str],
    train_split: str | None,
) -> None:
    """Run every rule on a build; raises on the first failure."""
    wanted = list(eval_splits) + ([train_split] if train_split else [])
    missing = [s for s in wanted if s not in splits]
    if missing:
        raise fail(task, "splits-present", f"split(s) {', '.join(missing)} not built; the builder must return them")
    for split, built in splits.items():
        if isinstance(built.data, RetrievalData):
            _check_retrieval(task, split, built.data)
        else:
            _check_columns(task, task_type, split, built.data, min_class)
    _check_retrieval_ids_agree(task, splits)
    _check_entity_leakage(task, splits)
    if task_type is TaskType.CLASSIFICATION and train_split:
        _check_text_leakage(task, splits, train_split)


def _check_retrieval(task: str, split: str, data: RetrievalData) -> None:
    if not data.queries:
        raise fail(task, "no-empty-texts", f"split {split!r} has no queries")
    if not data.corpus:
        raise fail(task, "no-empty-texts", f"split {split!r} has an empty corpus")
    for qid, text in data.queries.items():
        if not str(text).strip():
            raise fail(task, "no-empty-texts", f"split {split!r}: query {qid!r} is empty")
    for did, doc in data.corpus.items():
        if not (doc.get("text", "").strip() or doc.get("title", "").strip()):
            raise fail(task, "no-empty-texts", f"split {split!r}: document {did!r} is empty")
    for qid, rels in data.qrels.items():
        if qid not in data.queries:
            raise fail(task, "qrels-reference-ids", f"split {split!r}: qrels name query {qid!r} that is not in the queries")
        for did in rels:
            if did not in data.corpus:
                raise fail(task, "qrels-reference-ids", f"split {split!r}: qrels name document {did!r} that is not in the corpus")
        if not any(r > 0 for r in rels.values()):
            raise fail(task, "qrels-reference-ids", f"split {split!r}: query {qid!r} has no relevant document")
    unjudged = [q for q in data.queries if q not in data.qrels]
    if unjudged:
        raise fail(task, "qrels-reference-ids", f"split {split!r}: query {unjudged[0]!r} has no qrels")
    if data.top_ranked is not None:
        for qid, cands in data.top_ranked.items():
            if len(cands) != len(set(cands)):
                raise fail(task, "no-duplicate-ids", f"split {split!r}: query {qid!r} lists a candidate twice")


def _check_columns(task: str, task_type: TaskType, split: str, data: ColumnData, min_class: int) -> None:
    schema = SCHEMAS[task_type]
    lengths = {c: len(data.columns.get(c, [])) for c in schema}
    if set(lengths.values()) == {0} or len(set(lengths.values())) != 1:
        raise fail(task, "no-empty-texts", f"split {split!r}: columns {lengths} are empty or of unequal length")
    for col, kind in schema.items():
        for i, value in enumerate(data.columns[col]):
            if isinstance(value, str) and not value.strip():
                raise fail(task, "no-empty-texts", f"split {split!r}: row {i} column {col!r} is empty")
            if kind is list and not isinstance(value, list):
                raise fail(task, "no-empty-texts", f"split {split!r}: row {i} column {col!r} must be a list")
    keys = [c for c in schema if schema[c] is not list and c not in ("label", "labels", "score")]
    rows = Counter(tuple(_hashable(data.columns[c][i]) for c in keys) for i in range(len(data)))
    dup = next((r for r, n in rows.items() if n > 1), None)
    if dup is not None:
        raise fail(task, "no-duplicate-rows", f"split {split!r}: row {dup!r} occurs twice")
    label_col = LABEL_COLUMNS.get(task_type)
    if label_col:
        counts = Counter(data.columns[label_col])
        need = 1 if task_type is TaskType.PAIR_CLASSIFICATION else min_class
        if len(counts) < 2:
            raise fail(task, "label-classes", f"split {split!r} has {len(counts)} class(es); at least 2 are needed")
        small = {k: v for k, v in counts.items() if v < need}
        if small:
            lab, n = next(iter(small.items()))
            raise fail(task, "label-classes", f"split {split!r}: class {lab!r} has {n} member(s); at least {need} are needed")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_retrieval_ids_agree(task: str, splits: Mapping[str, BuiltSplit]) -> None:
    """Retrieval splits share one corpus and one query table on disk: an id must mean one text."""
    docs: dict[str, Any] = {}
    queries: dict[str, str] = {}
    for split, built in splits.items():
        if not isinstance(built.data, RetrievalData):
            continue
        for did, doc in built.data.corpus.items():
            if docs.setdefault(did, doc) != doc:
                raise fail(task, "no-duplicate-ids", f"document id {did!r} has two different texts (split {split!r})")
        for qid, text in built.data.queries.items():
            if queries.setdefault(qid, text) != text:
                raise fail(task, "no-duplicate-ids", f"query id {qid!r} has two different texts (split {split!r})")


def _check_entity_leakage(task: str, splits: Mapping[str, BuiltSplit]) -> None:
    names = sorted(splits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = splits[a].entities & splits[b].entities
            if shared:
                ent = sorted(shared)[0]
                raise fail(task, "no-entity-leakage", f"entity {ent!r} is in both split {a!r} and split {b!r} ({len(shared)} shared)")


def _check_text_leakage(task: str, splits: Mapping[str, BuiltSplit], train_split: str) -> None:
    train = splits[train_split].data
    assert isinstance(train, ColumnData)
    seen = set(train["text"])
    for split, built in splits.items():
        if split == train_split or not isinstance(built.data, ColumnData):
            continue
        both = seen & set(built.data["text"])
        if both:
            raise fail(task, "no-text-leakage", f"text {sorted(both)[0]!r} is in both split {train_split!r} and split {split!r}")
