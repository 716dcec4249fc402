"""Bitext mining as mteb 2 scores it.

Each ``sentence1`` is matched to its nearest ``sentence2`` by the model's similarity (cosine
unless it declares dot product); row i's gold match is row i. Precision, recall and F1 are
sklearn's support-weighted averages over gold rows (``zero_division=0``), plus accuracy.
Main score: ``f1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from domainteb.core.types import Task, TaskType
from domainteb.eval.evaluators.base import (
    EvalOutput,
    column_split,
    finish,
    register,
    require_columns,
    require_encoder,
    similarity_name,
)
from domainteb.eval.evaluators.sts import embed_pairs
from domainteb.eval.items import make_items
from domainteb.eval.search import top_k


def bitext_metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Support-weighted precision/recall/F1 and accuracy, as scikit-learn's ``average="weighted"``
    with ``zero_division=0`` computes them (mteb's definition): the one-row case of the
    report's vectorised :func:`domainteb.eval.rowwise.label_metrics_rows`."""
    from domainteb.eval.items import BITEXT_METRICS
    from domainteb.eval.rowwise import label_metrics_rows

    if len(gold) == 0:
        return {name: 0.0 for name in BITEXT_METRICS}
    rows = label_metrics_rows(np.asarray(gold).tolist(), np.asarray(pred).tolist(), np.ones((1, len(gold))))
    return {name: float(rows[key][0]) for name, key in BITEXT_METRICS.items()}


@register(TaskType.BITEXT_MINING)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Find each ``sentence1``'s nearest ``sentence2``; row i should find row i."""
    require_encoder(model, task)
    data = column_split(task, split)
    require_columns(task, split, data, ("sentence1", "sentence2"))
    e1, e2 = embed_pairs(task, model, data["sentence1"], data["sentence2"], batch_size=batch_size, show_progress=show_progress)
    sim = similarity_name(model)
    pred = top_k(e1, e2, 1, score=sim).indices[:, 0]
    gold = np.arange(len(e1))
    metrics = bitext_metrics(gold, pred)
    main = task.metadata.main_score
    items = make_items("bitext", gold.tolist(), gold=gold, pred=pred, metric=main if main in metrics else "f1")
    return finish(task, split, metrics, items, {"similarity": sim, "n_pairs": len(gold)})
