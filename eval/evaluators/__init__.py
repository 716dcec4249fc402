"""Evaluators, one module per MTEB task type, with mteb 2.26's metric definitions.

``evaluate_split(task, split, model)`` dispatches on ``task.type`` through :data:`EVALUATORS`
and returns an :class:`EvalOutput` (metrics with mteb's key names incl. ``main_score``,
per-item data for bootstrap CIs, and the settings that shaped the scores).
"""

from __future__ import annotations

from typing import Any

from domainteb.core.types import Task
from domainteb.eval.evaluators import (  # noqa: F401  (modules register themselves)
    bitext_mining,
    classification,
    clustering,
    fin_summarization,
    pair_classification,
    reranking,
    retrieval,
    sts,
    summarization,
)
from domainteb.eval.evaluators.base import EVALUATORS, EvalOutput, EvaluateFn

__all__ = ["EVALUATORS", "EvalOutput", "EvaluateFn", "evaluate_split"]


def evaluate_split(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Evaluate ``model`` (an ``Encoder``, or a ``SearchModel`` for retrieval/reranking) on one split."""
    fn = EVALUATORS.get(task.type.value)
    return fn(task, split, model, batch_size=batch_size, seed=seed, show_progress=show_progress)
