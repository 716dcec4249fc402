"""Retrieval (and, through the same code path, reranking) evaluation as mteb 2 does it.

Queries without judged documents are dropped; documents are read as ``title + " " + text``;
dense models rank the corpus by top-k search (cosine unless the model declares dot product)
with the ``search.*`` settings in effect: the corpus is encoded (or read from the embedding
cache) ``search.corpus_chunk_size`` documents at a time and added to the chosen backend
(exact by default), so no query × corpus score matrix and at most one copy of the corpus
embeddings is held; what the search did (backend, dtype, passages/s, peak RSS, recall@10 of
approximate backends) is recorded in ``settings["search"]``. Lexical models (``search``)
rank the corpus themselves. A split with ``top_ranked``
candidates is scored over each query's candidates only (mteb 2's reranking).

Task parameters (``metadata.params``): ``k_values`` (mteb's 1…1000), ``ignore_identical_ids``
(default False; drops a document whose id equals the query id, e.g. for duplicate-question
tasks). Both are recorded in ``settings``.

Hook: every function in :data:`RUN_OBSERVERS` is called as ``observer(task, split, run,
per_query)`` after scoring (``run``: query id → {doc id: score}; ``per_query``: query id →
metrics), e.g. to save per-query predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from domainteb.core.errors import TaskDataError
from domainteb.core.types import RetrievalData, Task, TaskType
from domainteb.eval.evaluators.base import (
    EvalOutput,
    encode_texts,
    finish,
    param,
    register,
    require_encoder,
    retrieval_split,
    similarity_name,
)
from domainteb.eval.evaluators.ranking_metrics import DEFAULT_K_VALUES, ranking_metrics
from domainteb.eval.items import make_items
from domainteb.eval.search import as_run, candidate_run, current_settings, stream_search

logger = logging.getLogger(__name__)

RunObserver = Callable[[Task, str, dict[str, dict[str, float]], dict[str, dict[str, float]]], None]
#: called after each split is scored (see the module doc); append to add one
RUN_OBSERVERS: list[RunObserver] = []


def document_text(doc: dict[str, str]) -> str:
    """What the model reads for a document (mteb: title and text joined, stripped)."""
    title = doc.get("title") or ""
    text = doc.get("text") or ""
    return f"{title} {text}".strip() if title else text.strip()


def _has_search(model: Any) -> bool:
    return callable(getattr(model, "search", None))


def rank(
    task: Task,
    data: RetrievalData,
    query_ids: list[str],
    model: Any,
    *,
    top_k: int,
    batch_size: int,
    show_progress: bool,
    record: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """The run ``{query id: {doc id: score}}`` for ``query_ids`` (dense or lexical).

    ``record`` (when given) receives the dense search's :class:`SearchRecord` as a dict.
    """
    queries = {qid: data.queries[qid] for qid in query_ids}
    candidates = None
    if data.top_ranked is not None:
        candidates = {qid: data.top_ranked.get(qid, []) for qid in query_ids}
        missing = [d for ids in candidates.values() for d in ids if d not in data.corpus]
        if missing:
            raise TaskDataError(
                f"task {task.name!r}: candidate document {missing[0]!r} is not in the corpus; fix top_ranked"
            )
    if _has_search(model):
        return model.search(data.corpus, queries, top_k, candidates=candidates)
    require_encoder(model, task)
    q_emb = encode_texts(
        model, [queries[q] for q in query_ids], prompt_type="query", task=task, batch_size=batch_size, show_progress=show_progress
    )
    score = similarity_name(model)
    if candidates is None:
        doc_ids = list(data.corpus)
        settings = current_settings()

        def chunks() -> Iterator[np.ndarray]:
            step = settings.corpus_chunk_size
            for start in range(0, len(doc_ids), step):
                texts = [document_text(data.corpus[d]) for d in doc_ids[start : start + step]]
                yield encode_texts(model, texts, prompt_type="document", task=task, batch_size=batch_size,
                                   show_progress=False)

        found, searched = stream_search(q_emb, chunks(), top_k, score=score, settings=settings,
                                        n_documents=len(doc_ids), show_progress=show_progress)
        if record is not None:
            record.update(searched.as_dict(), engine=str(getattr(model, "engine", "local")))
        return as_run(query_ids, found, doc_ids)
    doc_ids = list(dict.fromkeys(d for ids in candidates.values() for d in ids))
    d_emb = encode_texts(
        model,
        [document_text(data.corpus[d]) for d in doc_ids],
        prompt_type="document",
        task=task,
        batch_size=batch_size,
        show_progress=show_progress,
    )
    run = candidate_run(query_ids, q_emb, {d: i for i, d in enumerate(doc_ids)}, d_emb, candidates, score=score)
    for qid, scores in run.items():
        if len(scores) > top_k:
            run[qid] = dict(sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:top_k])
    return run


def evaluate_ranking(
    task: Task,
    split: str,
    model: Any,
    *,
    batch_size: int = 32,
    seed: int = 42,
    show_progress: bool = False,
    data: RetrievalData | None = None,
) -> EvalOutput:
    """Shared by retrieval and reranking (``data`` overrides the task's split, e.g. built from columns)."""
    data = data if data is not None else retrieval_split(task, split)
    k_values = tuple(int(k) for k in param(task, "k_values", DEFAULT_K_VALUES))
    ignore_identical = bool(param(task, "ignore_identical_ids", False))
    qrels = {qid: rels for qid, rels in data.qrels.items() if rels}
    query_ids = [qid for qid in data.queries if qid in qrels]
    if not query_ids:
        raise TaskDataError(f"task {task.name!r} split {split!r}: no query has judged documents; check the qrels")
    top_k = max(k_values)
    searched: dict[str, Any] = {}
    run = rank(task, data, query_ids, model, top_k=top_k, batch_size=batch_size, show_progress=show_progress,
               record=searched)
    if ignore_identical:
        for qid, scores in run.items():
            scores.pop(qid, None)
    metrics, per_query = ranking_metrics(qrels, run, k_values)
    for observer in RUN_OBSERVERS:
        observer(task, split, run, per_query)
    main = {"accuracy": "recall_at_1"}.get(task.metadata.main_score, task.metadata.main_score)
    metric = main if per_query and main in next(iter(per_query.values())) else "ndcg_at_10"
    ids = list(per_query)
    items = make_items("mean", ids, values=[per_query[q].get(metric, 0.0) for q in ids], metric=metric)
    settings = {
        "k_values": list(k_values),
        "top_k": top_k,
        "ignore_identical_ids": ignore_identical,
        "reranking": data.top_ranked is not None,
        "similarity": "search" if _has_search(model) else similarity_name(model),
        "n_queries": len(query_ids),
        "n_documents": len(data.corpus),
    }
    if searched:
        settings["search"] = searched
    return finish(task, split, metrics, items, settings)


@register(TaskType.RETRIEVAL)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Retrieval: rank the whole corpus (or the split's ``top_ranked`` candidates) per query."""
    return evaluate_ranking(task, split, model, batch_size=batch_size, seed=seed, show_progress=show_progress)
