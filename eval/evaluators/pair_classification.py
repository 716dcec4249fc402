"""Pair classification as mteb 2 scores it.

Each pair is scored by the model's similarity, cosine, Manhattan, Euclidean and dot
product. Per score family: accuracy and F1 (with precision/recall) at the best threshold
(a threshold never splits tied scores) and average precision; ``max_<metric>`` is the best
family. Main score: ``max_ap``. Labels are 1 (similar) / 0 (not).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from domainteb.core.errors import TaskDataError
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
from domainteb.eval.evaluators.sts import embed_pairs, pair_similarities
from domainteb.eval.items import make_items

#: mteb's family names → key in :func:`pair_similarities` (all oriented: higher = more similar).
FAMILIES = {"similarity": "", "cosine": "cosine", "manhattan": "manhattan", "euclidean": "euclidean", "dot": "dot"}
METRICS = ("accuracy", "f1", "precision", "recall", "ap")


def threshold_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Best-threshold accuracy/F1 (+ its precision, recall) and average precision (scikit-learn's,
    ties grouped). ``scores`` must grow with similarity. Only cuts between different scores count.
    The one-row case of the report's vectorised :func:`domainteb.eval.rowwise.threshold_metrics_rows`."""
    from domainteb.eval.rowwise import threshold_metrics_rows

    scores = np.asarray(scores, dtype=np.float64)
    rows = threshold_metrics_rows(scores, np.asarray(labels, dtype=np.int64), np.ones((1, len(scores))))
    return {name: float(value[0]) for name, value in rows.items()}


@register(TaskType.PAIR_CLASSIFICATION)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Score ``sentence1``/``sentence2`` pairs against binary ``labels``."""
    require_encoder(model, task)
    data = column_split(task, split)
    require_columns(task, split, data, ("sentence1", "sentence2", "labels"))
    labels = np.asarray(data["labels"], dtype=np.int64)
    if not np.isin(labels, (0, 1)).all():
        raise TaskDataError(f"task {task.name!r} split {split!r}: 'labels' must be 0 or 1")
    e1, e2 = embed_pairs(task, model, data["sentence1"], data["sentence2"], batch_size=batch_size, show_progress=show_progress)
    sim = similarity_name(model)
    raw = pair_similarities(e1, e2, sim)
    scores = {fam: raw[key] for fam, key in FAMILIES.items()}
    metrics: dict[str, float] = {}
    for fam, values in scores.items():
        for name, value in threshold_metrics(values, labels).items():
            metrics[f"{fam}_{name}"] = value
    for name in METRICS:
        metrics[f"max_{name}"] = max(metrics[f"{fam}_{name}"] for fam in FAMILIES)
    main = task.metadata.main_score
    family, _, stat = main.partition("_")
    if stat not in METRICS:
        family, stat = "max", "ap"
    chosen = scores if family == "max" else {family: scores[family]} if family in scores else scores
    items = make_items("pair", list(range(len(labels))), scores=chosen, labels=labels, metric=stat)
    settings = {"similarity": sim, "n_pairs": len(labels)}
    return finish(task, split, metrics, items, settings)
