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
    with ``zero_division=0`` computes them (mteb's definition), in vectorised numpy: the
    bootstrap recomputes this thousands of times."""
    gold = np.asarray(gold)
    pred = np.asarray(pred)
    labels, inverse = np.unique(np.concatenate([gold, pred]), return_inverse=True)
    g, p = inverse[: len(gold)], inverse[len(gold):]
    n = len(labels)
    support = np.bincount(g, minlength=n).astype(np.float64)
    predicted = np.bincount(p, minlength=n).astype(np.float64)
    true_pos = np.bincount(g[g == p], minlength=n).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_pos / predicted, 0.0)
        recall = np.where(support > 0, true_pos / support, 0.0)
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * true_pos / denom, 0.0)
    weights = support / support.sum() if support.sum() else support
    return {
        "precision": float(precision @ weights),
        "recall": float(recall @ weights),
        "f1": float(f1 @ weights),
        "accuracy": float(np.mean(gold == pred)) if len(gold) else 0.0,
    }


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
