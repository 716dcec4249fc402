"""Evaluation during training on a domain dev task, through domainteb's own evaluators.

:class:`DomainTaskEvaluator` is a sentence-transformers evaluator: the trainer calls it every
``eval_steps`` with the model being trained. It wraps that model in :class:`TrainingEncoder`
(a minimal :class:`~domainteb.core.encoder.Encoder`) and scores it with
``domainteb.eval.evaluators.evaluate_split`` so training-time numbers are the same metric as
the final benchmark. It returns ``{"<task>_<main_score>": value}``, the key the trainer uses
for best-checkpoint selection (``metric_for_best_model``).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.base.evaluation import BaseEvaluator

from domainteb.core.errors import DomainTebError
from domainteb.core.types import Task

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: split names tried, in order, when the caller does not name one.
PREFERRED_SPLITS = ("dev", "validation", "val", "test")

_counter = itertools.count()


class TrainingEncoder:
    """Encoder over a SentenceTransformer being trained.

    The revision changes on every evaluation so no embedding cache ever serves stale vectors.
    """

    def __init__(self, model: SentenceTransformer, name: str, revision: str) -> None:
        self.model = model
        self.name = name
        self.revision = revision

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: str | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        from domainteb.adapt.basemodel import prompt_text

        emb = self.model.encode(
            list(texts),
            prompt=prompt_text(self.model, prompt_type) if prompt_type else "",
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
        return np.asarray(emb, dtype=np.float32)

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
            "embed_dim": self.model.get_embedding_dimension(),
            "labels": ["in-training"],
        }


def pick_split(task: Task, split: str | None = None) -> str:
    """``split`` if given, else the task's dev split if it has one, else its first eval split."""
    available = list(dict.fromkeys(task.metadata.eval_splits))
    if split:
        return split
    for name in PREFERRED_SPLITS:
        if name in available:
            return name
    if not available:
        raise DomainTebError(f"task {task.name!r} lists no eval splits; set adapt.eval_split")
    return available[0]


def metric_key(task: Task) -> str:
    """The evaluator's metric name, safe for MLflow and the trainer's ``eval_`` prefix."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{task.name}_{task.metadata.main_score}")


def _main_score(result: Any, main: str) -> float:
    """Accept the evaluator's result as a number, a mapping or a pydantic scores object."""
    if isinstance(result, (int, float)):
        return float(result)
    if hasattr(result, "metrics"):  # domainteb.eval.evaluators.EvalOutput
        result = result.metrics
    if hasattr(result, "model_dump"):
        result = result.model_dump()
    if isinstance(result, dict):
        for key in ("main_score", main):
            if key in result and isinstance(result[key], (int, float)):
                return float(result[key])
        scores = result.get("scores")
        if scores is not None:
            return _main_score(scores, main)
    if isinstance(result, (list, tuple)) and result:
        return _main_score(result[0], main)
    raise DomainTebError(f"evaluator returned no main score ({main}); got {type(result).__name__}")


class DomainTaskEvaluator(BaseEvaluator):
    """Score the model on one split of a domainteb task with domainteb's evaluator."""

    def __init__(
        self, task: Task, split: str | None = None, batch_size: int = 64, model_name: str = "finetune", seed: int = 42
    ) -> None:
        super().__init__()
        self.seed = seed
        self.task = task
        self.split = pick_split(task, split)
        self.batch_size = batch_size
        self.model_name = model_name
        self.key = metric_key(task)
        self.primary_metric = self.key
        self.greater_is_better = True
        self.history: list[dict[str, float]] = []

    def evaluate(self, model: SentenceTransformer) -> float:
        from domainteb.eval.evaluators import evaluate_split

        encoder = TrainingEncoder(model, self.model_name, f"train-{next(_counter)}")
        result = evaluate_split(self.task, self.split, encoder, batch_size=self.batch_size, seed=self.seed)
        return _main_score(result, self.task.metadata.main_score)

    def __call__(
        self, model: SentenceTransformer, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        from domainteb.adapt.basemodel import eval_mode

        with eval_mode(model):
            score = self.evaluate(model)
        log.info("step %s: %s = %.4f", steps, self.key, score)
        self.history.append({"step": float(steps), "epoch": float(epoch), self.key: score})
        return {self.key: score}


def resolve_eval_task(spec: str | None, domain: str | None, size: str | None = None) -> Task | None:
    """The task scored during training.

    ``None`` disables evaluation; ``"auto"`` picks the domain's first offline retrieval task
    (none found → a warning and no evaluation); anything else is a task name or folder.
    """
    from domainteb.core.tasks import get_task, list_tasks

    kwargs = {"size": size} if size else {}
    if not spec:
        return None
    if spec != "auto":
        return get_task(spec, **kwargs)
    if not domain:
        log.warning("adapt.eval_task=auto needs a domain; training runs without evaluation")
        return None
    try:
        specs = list_tasks(domain=domain, benchmark="domainteb", types=["Retrieval"])
        if not specs:
            log.warning("domain %r has no offline retrieval task; training runs without evaluation", domain)
            return None
        return specs[0].build(**kwargs)
    except DomainTebError as exc:
        log.warning("no evaluation during training: %s", exc)
        return None
