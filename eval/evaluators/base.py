"""What every evaluator shares: the output record, the registry, text encoding with dedupe,
and the checks that turn bad input into one-line errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.errors import DomainTebError, TaskDataError
from domainteb.core.registry import Registry
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskType

logger = logging.getLogger(__name__)


@dataclass
class EvalOutput:
    """Scores of one split (mteb's metric names, incl. ``main_score``) and per-item data.

    ``items`` follows :mod:`domainteb.eval.items` and is JSON-serialisable; ``settings`` records
    every switch that changes a score (k values, seeds, sample sizes…) so results say how they
    were computed.
    """

    metrics: dict[str, float]
    items: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)


class EvaluateFn(Protocol):
    def __call__(
        self,
        task: Task,
        split: str,
        model: Any,
        *,
        batch_size: int = 32,
        seed: int = 42,
        show_progress: bool = False,
    ) -> EvalOutput: ...


#: task type value (mteb's name, e.g. "Retrieval") → evaluate function.
EVALUATORS: Registry[EvaluateFn] = Registry("evaluator")


def register(task_type: TaskType) -> Callable[[EvaluateFn], EvaluateFn]:
    """Decorator: register ``fn`` as the evaluator of ``task_type``."""

    def _add(fn: EvaluateFn) -> EvaluateFn:
        EVALUATORS.register(task_type.value, fn)
        return fn

    return _add


def require_encoder(model: Any, task: Task) -> None:
    if not callable(getattr(model, "encode", None)):
        name = getattr(model, "name", type(model).__name__)
        raise DomainTebError(
            f"model {name!r} cannot embed text, so it cannot run {task.type.value} task {task.name!r}; "
            "lexical models (BM25) only run Retrieval and Reranking tasks"
        )


def similarity_name(model: Any) -> str:
    """The model's own similarity: "dot" if it (or the sentence-transformers model it wraps)
    declares dot product, else "cosine" — what mteb's ``model.similarity`` would use."""
    name = getattr(model, "similarity_fn_name", None)
    if name is None:
        name = getattr(getattr(model, "model", None), "similarity_fn_name", None)
    if name is None:
        try:
            name = (model.model_info() or {}).get("similarity_fn_name")
        except Exception:  # model_info is informative only
            name = None
    name = str(getattr(name, "value", name) or "cosine").lower()
    return "dot" if name in {"dot", "dot_product", "dot_score"} else "cosine"


def encode_texts(
    model: Any,
    texts: Sequence[str],
    *,
    prompt_type: PromptType | None,
    task: Task,
    batch_size: int,
    show_progress: bool,
) -> np.ndarray:
    """Embed ``texts`` calling ``model.encode`` once on the distinct texts, mapped back to all rows."""
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    if not index:
        return np.zeros((0, 0), np.float32)
    unique = list(index)
    emb = np.asarray(
        model.encode(
            unique,
            prompt_type=prompt_type,
            task_name=task.name,
            batch_size=batch_size,
            show_progress=show_progress,
        ),
        dtype=np.float32,
    )
    if emb.ndim != 2 or emb.shape[0] != len(unique):
        name = getattr(model, "name", type(model).__name__)
        raise DomainTebError(
            f"model {name!r} returned embeddings of shape {emb.shape} for {len(unique)} texts; "
            "encode() must return one row per text"
        )
    return emb[rows]


def column_split(task: Task, split: str) -> ColumnData:
    data = task.split(split)
    if not isinstance(data, ColumnData):
        raise TaskDataError(f"task {task.name!r} split {split!r}: expected column data for a {task.type.value} task")
    return data


def retrieval_split(task: Task, split: str) -> RetrievalData:
    data = task.split(split)
    if not isinstance(data, RetrievalData):
        raise TaskDataError(
            f"task {task.name!r} split {split!r}: expected corpus/queries/qrels for a {task.type.value} task"
        )
    return data


def require_columns(task: Task, split: str, data: ColumnData, names: Sequence[str]) -> None:
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise TaskDataError(
            f"task {task.name!r} split {split!r}: missing column(s) {', '.join(missing)}; "
            f"a {task.type.value} split needs {', '.join(names)}"
        )


def param(task: Task, name: str, default: Any) -> Any:
    """A type-specific parameter from ``task.metadata.params`` (mteb's attribute names)."""
    return task.metadata.params.get(name, default)


def finish(task: Task, split: str, metrics: dict[str, Any], items: dict[str, Any], settings: dict[str, Any]) -> EvalOutput:
    """Add ``main_score`` (checked against the computed metrics) and return the output."""
    clean = {k: float(v) for k, v in metrics.items() if v is not None}
    main = task.metadata.main_score
    if main not in clean:
        raise TaskDataError(
            f"task {task.name!r}: main_score {main!r} is not computed for {task.type.value} split {split!r}; "
            f"set main_score to one of {', '.join(sorted(clean))}"
        )
    clean["main_score"] = clean[main]
    return EvalOutput(metrics=clean, items=items, settings=settings)
