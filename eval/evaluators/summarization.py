"""Summarization as mteb 2 scores it (SummEval style).

Human and machine summaries are embedded; each machine summary's predicted quality is its
maximum cosine (and dot, and model-similarity) to the text's human summaries. Per text, the
predictions are correlated (Spearman, Pearson) with the gold ``relevance`` (normalised by
``min_score``/``max_score`` params, default 0 and 5); texts whose gold or predicted scores
are all equal are skipped. Scores are means over texts. Main score: ``cosine_spearman``.
"""

from __future__ import annotations

import logging
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

logger = logging.getLogger(__name__)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@register(TaskType.SUMMARIZATION)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Correlate machine-summary similarity to human summaries with human relevance, per text."""
    from scipy.stats import pearsonr, spearmanr

    require_encoder(model, task)
    data = column_split(task, split)
    require_columns(task, split, data, ("text", "human_summaries", "machine_summaries", "relevance"))
    human, machine, relevance = data["human_summaries"], data["machine_summaries"], data["relevance"]
    for i, (h, m, r) in enumerate(zip(human, machine, relevance)):
        if not h or len(m) != len(r):
            raise TaskDataError(
                f"task {task.name!r} split {split!r} row {i + 1}: needs >= 1 human summary and one relevance per machine summary"
            )
    lo, hi = float(param(task, "min_score", 0)), float(param(task, "max_score", 5))
    flat_h = [s for row in human for s in row]
    flat_m = [s for row in machine for s in row]
    emb = encode_texts(model, flat_h + flat_m, prompt_type=None, task=task, batch_size=batch_size, show_progress=show_progress)
    h_all, m_all = emb[: len(flat_h)], emb[len(flat_h) :]
    h_split = np.cumsum([len(r) for r in human])[:-1]
    m_split = np.cumsum([len(r) for r in machine])[:-1]
    sim = similarity_name(model)
    per_text: dict[str, list[float]] = {k: [] for k in ("cosine_spearman", "cosine_pearson", "dot_spearman", "dot_pearson", "spearman", "pearson")}
    kept: list[int] = []
    for i, (h, m) in enumerate(zip(np.split(h_all, h_split), np.split(m_all, m_split))):
        gold = ((np.asarray(relevance[i], dtype=np.float64) - lo) / (hi - lo)).tolist()
        cos = (_unit(m) @ _unit(h).T).max(axis=1).tolist()
        dot = (m @ h.T).max(axis=1).tolist()
        own = dot if sim == "dot" else cos
        if len(set(gold)) == 1 or len(set(dot)) == 1 or len(set(cos)) == 1:
            logger.debug("summarization: skipping text %d (equal scores)", i)
            continue
        kept.append(i)
        for prefix, pred in (("cosine_", cos), ("dot_", dot), ("", own)):
            per_text[f"{prefix}spearman"].append(float(spearmanr(gold, pred).statistic))
            per_text[f"{prefix}pearson"].append(float(pearsonr(gold, pred).statistic))
    if not kept:
        raise TaskDataError(f"task {task.name!r} split {split!r}: every text has equal gold or predicted scores; nothing to correlate")
    metrics = {k: float(np.mean(v)) for k, v in per_text.items()}
    main = task.metadata.main_score
    key = main if main in per_text else "cosine_spearman"
    items = make_items("mean", kept, values=per_text[key], metric=key)
    settings = {"min_score": lo, "max_score": hi, "similarity": sim, "n_texts": len(human), "n_scored_texts": len(kept)}
    return finish(task, split, metrics, items, settings)
