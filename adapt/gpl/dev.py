"""The dev task scored during training: held-out generated queries ranked among their source
passages plus a seeded sample of other chunks, through domainteb's own retrieval evaluator
(so the dev curve is the same nDCG@10 as the report)."""

from __future__ import annotations

import random

from domainteb.adapt.gpl.data import Inputs
from domainteb.core.types import RetrievalData, Task, TaskMetadata, TaskType

DEV_TASK = "GPLDev"
DEV_SPLIT = "dev"


def build_dev_task(inputs: Inputs, n_corpus: int | None, seed: int) -> Task:
    """Sources of the dev queries are always in; an ICT query's source reads as the chunk without it."""
    source_ids = list(dict.fromkeys(q.pid for q in inputs.dev))
    others = [pid for pid in inputs.chunks if pid not in set(source_ids)]
    if n_corpus is not None and len(source_ids) + len(others) > n_corpus:
        others = random.Random(seed).sample(others, max(0, n_corpus - len(source_ids)))
    corpus = {pid: {"title": "", "text": inputs.text(pid)} for pid in source_ids + others}
    for q in inputs.dev:  # the ICT remainder replaces the chunk (the query sentence is not in it)
        corpus[q.pid] = {"title": "", "text": q.positive}
    data = RetrievalData(
        corpus=corpus,
        queries={q.qid: q.query for q in inputs.dev},
        qrels={q.qid: {q.pid: 1} for q in inputs.dev},
    )
    meta = TaskMetadata(name=DEV_TASK, type=TaskType.RETRIEVAL, eval_splits=[DEV_SPLIT],
                        description="held-out generated queries (never the eval set's queries)")
    return Task(metadata=meta, loader=lambda: {DEV_SPLIT: data})
