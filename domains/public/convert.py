"""Conversion of Hugging Face / mteb dataset structures into domainteb's task data.

Inputs are what ``datasets`` and ``mteb`` hand back: a ``datasets.Dataset`` (or any sequence
of row dicts), mteb's one-row "columns as lists" layout (pair classification), mteb-1
clustering rows that each hold a whole cluster set, and mteb 2's retrieval split dicts
(``corpus``/``queries`` datasets, ``relevant_docs``/``top_ranked`` dicts).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.types import ColumnData, RetrievalData, TaskType
from domainteb.core.taskio import SCHEMAS

log = logging.getLogger(__name__)

#: columns kept per task type (mteb names); FinMTEB summarization also needs the human score.
COLUMNS: dict[TaskType, list[str]] = {t: list(cols) for t, cols in SCHEMAS.items()}
COLUMNS[TaskType.FIN_SUMMARIZATION] = ["text", "summary", "score"]


def column_names(data: Any) -> list[str]:
    if hasattr(data, "column_names"):
        return list(data.column_names)
    if isinstance(data, Sequence) and data and isinstance(data[0], Mapping):
        return list(data[0].keys())
    return []


def _column(data: Any, name: str) -> list[Any]:
    if hasattr(data, "column_names"):
        return list(data[name])
    return [row[name] for row in data]


def _is_seq(value: Any) -> bool:
    """A list-like cell (list, tuple, ``datasets`` Column, array), not a string or mapping."""
    if isinstance(value, (str, bytes, Mapping)):
        return False
    return hasattr(value, "__iter__") and hasattr(value, "__len__")


def columns_from_rows(data: Any, task_type: TaskType, where: str, renames: Mapping[str, str] | None = None) -> ColumnData:
    """Rows (a Dataset or list of dicts) → :class:`ColumnData` with the type's columns.

    Handles mteb's one-row layout where each column holds the whole split as a list, and
    mteb-1 clustering rows holding one cluster set each (flattened into one set; keep the
    set boundaries with :func:`cluster_set_sizes`).
    """
    renames = dict(renames or {})
    names = column_names(data)
    cols = {renames.get(c, c): c for c in names}
    wanted = COLUMNS[task_type]
    missing = [c for c in wanted if c not in cols]
    if missing:
        raise TaskDataError(
            f"{where}: missing column(s) {', '.join(missing)} for a {task_type.value} task "
            f"(columns: {', '.join(names) or 'none'}); the dataset layout changed, check the pinned revision"
        )
    raw = {c: _column(data, cols[c]) for c in wanted}
    n_rows = len(next(iter(raw.values())))
    first = raw[wanted[0]][0] if n_rows else None
    if task_type is TaskType.CLUSTERING and _is_seq(first):
        flat: dict[str, list[Any]] = {c: [v for chunk in raw[c] for v in chunk] for c in wanted}
        return ColumnData(flat)
    if n_rows == 1 and _is_seq(first) and task_type is not TaskType.RERANKING:
        # mteb's "one row, columns as lists" layout (pair classification).
        return ColumnData({c: list(raw[c][0]) for c in wanted})
    return ColumnData(raw)


def cluster_set_sizes(data: Any, renames: Mapping[str, str] | None = None) -> list[int] | None:
    """Sizes of mteb-1 cluster sets (rows whose ``sentences`` is a list), else ``None``."""
    inverse = {v: k for k, v in (renames or {}).items()}
    col = inverse.get("sentences", "sentences")
    if col not in column_names(data):
        return None
    values = _column(data, col)
    if values and _is_seq(values[0]):
        return [len(v) for v in values]
    return None


def retrieval_from_tables(
    corpus_rows: Any,
    query_rows: Any,
    qrels: Mapping[str, Mapping[str, int]],
    top_ranked: Mapping[str, Sequence[str]] | None,
    where: str,
) -> RetrievalData:
    """Corpus/query tables (``id`` or ``_id``, ``text``, optional ``title``) + qrels → :class:`RetrievalData`.

    Queries without judgements are dropped (as mteb does); ids are strings.
    """
    corpus: dict[str, dict[str, str]] = {}
    for row in _rows(corpus_rows):
        did = str(row.get("id", row.get("_id")))
        corpus[did] = {"title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
    queries: dict[str, str] = {}
    for row in _rows(query_rows):
        qid = str(row.get("id", row.get("_id")))
        if qid in qrels:
            queries[qid] = str(row["text"])
    judged = {str(q): {str(d): int(s) for d, s in rels.items()} for q, rels in qrels.items()}
    missing_q = [q for q in judged if q not in queries]
    if missing_q:
        log.warning("%s: %d judged queries have no text and are dropped", where, len(missing_q))
        for q in missing_q:
            del judged[q]
    if not judged:
        raise TaskDataError(f"{where}: no query has both text and relevance judgements; check the qrels split")
    ranked = {str(q): [str(d) for d in docs] for q, docs in top_ranked.items()} if top_ranked else None
    return RetrievalData(corpus=corpus, queries=queries, qrels=judged, top_ranked=ranked)


def qrels_from_rows(rows: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in _rows(rows):
        out.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    return out


def _rows(data: Any) -> Any:
    if hasattr(data, "column_names"):
        return data  # datasets.Dataset iterates over row dicts
    return list(data)
