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
    """Best-threshold accuracy/F1 (+ its precision, recall) and average precision.

    ``scores`` must grow with similarity. Only cuts between different scores count.
    """
    from sklearn.metrics import average_precision_score

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order]
    pos_cum = np.cumsum(lab == 1)[:-1]
    neg_cum = np.cumsum(lab != 1)[:-1]
    valid = s[:-1] != s[1:]
    acc = (pos_cum + (np.sum(labels == 0) - neg_cum)) / n
    best_acc = float(max(0.0, acc[valid].max())) if valid.any() else 0.0
    f1 = precision = recall = 0.0
    total_pos = int(np.sum(labels == 1))
    ok = valid & (pos_cum > 0)
    if ok.any() and total_pos:
        rank = np.arange(1, n)
        p = pos_cum / rank
        r = pos_cum / total_pos
        f = np.where(ok, 2 * p * r / np.where(ok, p + r, 1.0), -1.0)
        i = int(np.argmax(f))
        if f[i] > 0:
            f1, precision, recall = float(f[i]), float(p[i]), float(r[i])
    ap = average_precision(s, lab) if total_pos else float(average_precision_score(labels, scores))
    return {"accuracy": best_acc, "f1": f1, "precision": precision, "recall": recall, "ap": ap}


def average_precision(sorted_scores: np.ndarray, sorted_labels: np.ndarray) -> float:
    """scikit-learn's ``average_precision_score`` for scores sorted descending (ties grouped),
    vectorised: the bootstrap recomputes it thousands of times."""
    n = len(sorted_scores)
    last_of_tie = np.r_[np.flatnonzero(sorted_scores[:-1] != sorted_scores[1:]), n - 1]
    tps = np.cumsum(sorted_labels == 1)[last_of_tie].astype(np.float64)
    precision = tps / (last_of_tie + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


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
