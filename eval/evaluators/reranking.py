"""Reranking evaluation: mteb 2 scores reranking as retrieval over each query's candidates.

The split must carry ``top_ranked`` (query id → candidate doc ids; task folders in mteb 1's
``query``/``positive``/``negative`` rows are converted on load). Main score: ``map_at_1000``.
"""

from __future__ import annotations

from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.types import Task, TaskType
from domainteb.eval.evaluators.base import EvalOutput, register, retrieval_split
from domainteb.eval.evaluators.retrieval import evaluate_ranking


@register(TaskType.RERANKING)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Rank each query's ``top_ranked`` candidates and score with the retrieval metrics."""
    if retrieval_split(task, split).top_ranked is None:
        raise TaskDataError(
            f"task {task.name!r} split {split!r} has no candidate lists (top_ranked); "
            "give each query its candidates or make it a Retrieval task"
        )
    return evaluate_ranking(task, split, model, batch_size=batch_size, seed=seed, show_progress=show_progress)
