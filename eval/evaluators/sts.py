"""Semantic textual similarity as mteb 2 scores it.

Both sentences are embedded (no prompt type), compared by cosine similarity, negative
Manhattan and negative Euclidean distance and the model's own similarity; each is
correlated (Pearson, Spearman) with the gold score normalised by ``min_score``/``max_score``
from ``metadata.params`` (mteb's defaults 0 and 5; correlations do not depend on them).
Main score: ``cosine_spearman``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from domainteb.core.errors import TaskDataError
from domainteb.core.types import Task, TaskType
from domainteb.eval.evaluators.base import (
    EvalOutput,
    column_split,
    encode_texts,
    finish,
    param,
    register,
    require_columns,
    require_encoder,
    similarity_name,
)
from domainteb.eval.items import make_items


def embed_pairs(
    task: Task, model: Any, first: list[str], second: list[str], *, batch_size: int, show_progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Embed both columns with one ``encode`` call over their distinct texts."""
    emb = encode_texts(
        model, list(first) + list(second), prompt_type=None, task=task, batch_size=batch_size, show_progress=show_progress
    )
    return emb[: len(first)], emb[len(first) :]


def pair_similarities(e1: np.ndarray, e2: np.ndarray, similarity: str) -> dict[str, np.ndarray]:
    """Per pair: cosine, -manhattan, -euclidean, dot and the model's own similarity (higher = closer)."""
    from sklearn.metrics.pairwise import (
        paired_cosine_distances,
        paired_euclidean_distances,
        paired_manhattan_distances,
    )

    cosine = 1 - paired_cosine_distances(e1, e2)
    dot = np.einsum("ij,ij->i", e1.astype(np.float64), e2.astype(np.float64))
    return {
        "cosine": cosine,
        "manhattan": -paired_manhattan_distances(e1, e2),
        "euclidean": -paired_euclidean_distances(e1, e2),
        "dot": dot,
        "": dot if similarity == "dot" else cosine,
    }


def correlations(gold: np.ndarray, preds: dict[str, np.ndarray], families: tuple[str, ...]) -> dict[str, float]:
    """``<family>_pearson`` / ``<family>_spearman`` (the unnamed family gives ``pearson``/``spearman``)."""
    from scipy.stats import pearsonr, spearmanr

    out: dict[str, float] = {}
    for fam in families:
        prefix = f"{fam}_" if fam else ""
        out[f"{prefix}pearson"] = float(pearsonr(gold, preds[fam])[0])
        out[f"{prefix}spearman"] = float(spearmanr(gold, preds[fam])[0])
    return out


def correlation_items(main: str, gold: np.ndarray, preds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Items for a ``<family>_<pearson|spearman>`` main score: predictions and gold per pair."""
    family, _, stat = main.rpartition("_")
    if stat not in {"pearson", "spearman"} or family not in preds:
        family, stat = "cosine", "spearman"
    return make_items(stat, list(range(len(gold))), pred=preds[family], gold=gold, metric=main)


def check_gold_scores(task: Task, split: str, scores: list[float], min_score: float, max_score: float) -> np.ndarray:
    """Gold scores as floats, refusing what would silently corrupt the score: ``min_score >=
    max_score`` (flips the sign of every correlation) and scores outside ``[min_score, max_score]``."""
    where = f"task {task.name!r} split {split!r}"
    if not (np.isfinite(min_score) and np.isfinite(max_score) and min_score < max_score):
        raise TaskDataError(
            f"{where}: params.min_score={min_score:g} must be below params.max_score={max_score:g}; "
            f"fix them in the task's metadata (domainteb.json 'params')"
        )
    gold = np.asarray(scores, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(gold) | (gold < min_score) | (gold > max_score))
    if bad.size:
        i = int(bad[0])
        raise TaskDataError(
            f"{where}: row {i + 1} score {gold[i]:g} is outside [min_score, max_score] = [{min_score:g}, {max_score:g}] "
            f"({bad.size} row(s) in all); fix the scores or the params in the task's metadata"
        )
    return gold


def score_pairs(
    task: Task, split: str, model: Any, first: list[str], second: list[str], scores: list[float], *,
    min_score: float, max_score: float, batch_size: int, show_progress: bool,
) -> EvalOutput:
    """Embed, compare and correlate: shared by STS and FinMTEB-style summarization."""
    require_encoder(model, task)
    raw = check_gold_scores(task, split, scores, min_score, max_score)
    gold = (raw - min_score) / (max_score - min_score)
    e1, e2 = embed_pairs(task, model, first, second, batch_size=batch_size, show_progress=show_progress)
    sim = similarity_name(model)
    preds = pair_similarities(e1, e2, sim)
    metrics = correlations(gold, preds, ("", "cosine", "manhattan", "euclidean"))
    items = correlation_items(task.metadata.main_score, gold, preds)
    settings = {"min_score": min_score, "max_score": max_score, "similarity": sim, "n_pairs": len(gold)}
    return finish(task, split, metrics, items, settings)


@register(TaskType.STS)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Correlate embedding similarities of ``sentence1``/``sentence2`` with ``score``."""
    data = column_split(task, split)
    require_columns(task, split, data, ("sentence1", "sentence2", "score"))
    return score_pairs(
        task, split, model, data["sentence1"], data["sentence2"], data["score"],
        min_score=float(param(task, "min_score", 0)), max_score=float(param(task, "max_score", 5)),
        batch_size=batch_size, show_progress=show_progress,
    )
