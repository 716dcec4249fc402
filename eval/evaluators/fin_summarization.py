"""FinMTEB's summarization (e.g. ECTSum): a text is compared with its own summary.

FinMTEB scores it with its STS evaluator: with a gold ``score`` column, the cosine (and
Manhattan, Euclidean, model) similarity of each (``text``, ``summary``) pair is correlated
with the score normalised by ``min_score``/``max_score`` (FinMTEB's ECTSum uses 0 and 1, our
default). Main score: ``cosine_spearman``.

Without a ``score`` column there is nothing to correlate, so domainteb scores the split as
retrieval instead — each text (query prompt) must find its own summary (document prompt)
among all summaries — and reports the retrieval metrics (``ndcg_at_10``, ``mrr_at_10``,
``recall_at_1``…). Such a task must set ``main_score`` to one of them.
"""

from __future__ import annotations

from typing import Any

from domainteb.core.types import RetrievalData, Task, TaskType
from domainteb.eval.evaluators.base import EvalOutput, column_split, param, register, require_columns
from domainteb.eval.evaluators.retrieval import evaluate_ranking
from domainteb.eval.evaluators.sts import score_pairs


def as_retrieval(texts: list[str], summaries: list[str]) -> RetrievalData:
    """Text i is query ``t<i>``; summary i is document ``s<i>``, its only relevant document."""
    return RetrievalData(
        corpus={f"s{i}": {"title": "", "text": s} for i, s in enumerate(summaries)},
        queries={f"t{i}": t for i, t in enumerate(texts)},
        qrels={f"t{i}": {f"s{i}": 1} for i in range(len(texts))},
    )


@register(TaskType.FIN_SUMMARIZATION)
def evaluate(
    task: Task, split: str, model: Any, *, batch_size: int = 32, seed: int = 42, show_progress: bool = False
) -> EvalOutput:
    """Correlate text–summary similarity with ``score``; without scores, text → summary retrieval."""
    data = column_split(task, split)
    require_columns(task, split, data, ("text", "summary"))
    if "score" in data.columns:
        return score_pairs(
            task, split, model, data["text"], data["summary"], data["score"],
            min_score=float(param(task, "min_score", 0)), max_score=float(param(task, "max_score", 1)),
            batch_size=batch_size, show_progress=show_progress,
        )
    out = evaluate_ranking(
        task, split, model, batch_size=batch_size, seed=seed, show_progress=show_progress,
        data=as_retrieval(list(data["text"]), list(data["summary"])),
    )
    out.settings["scored_as"] = "text-to-summary retrieval (no gold score column)"
    return out
