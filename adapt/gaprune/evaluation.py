"""Domain and general scores of a (pruned) model.

Main scores come from domainteb's evaluators on a domain dev task and on the general WordNet task
(:class:`domainteb.adapt.evaluator.DomainTaskEvaluator`). Every run also reports recall@10 on
held-out calibration-style triplets (query → its positive among all held-out positives and
negatives), which needs no task suite and is used as the score when no task is available.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domainteb.adapt.basemodel import eval_mode
from domainteb.adapt.gaprune.calibration import TextPrompts, Triplet
from domainteb.core.errors import DomainTebError
from domainteb.core.types import Task

log = logging.getLogger(__name__)


@dataclass
class EvalTargets:
    """What to score: optional tasks plus held-out triplets, for the domain and for general text."""

    domain_task: Task | None
    general_task: Task | None
    domain_held_out: Sequence[Triplet]
    general_held_out: Sequence[Triplet]


def held_out_recall(model: Any, triplets: Sequence[Triplet], k: int = 10, batch_size: int = 64) -> float:
    """Recall@k of each query's positive among all positives and negatives of ``triplets``.

    Encoded in eval mode (a model fresh from retraining is still in train mode: no dropout noise),
    with the model's query and passage prompts (:meth:`TextPrompts.of`), as the evaluators do.
    """
    if not triplets:
        return float("nan")
    prompts = TextPrompts.of(model)
    docs = list(dict.fromkeys([t.positive for t in triplets] + [t.negative for t in triplets]))
    index = {d: i for i, d in enumerate(docs)}
    with eval_mode(model):
        q = model.encode([t.query for t in triplets], prompt=prompts.query, batch_size=batch_size,
                         normalize_embeddings=True, convert_to_numpy=True)
        d = model.encode(docs, prompt=prompts.document, batch_size=batch_size, normalize_embeddings=True,
                         convert_to_numpy=True)
    sims = np.asarray(q, dtype=np.float32) @ np.asarray(d, dtype=np.float32).T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    hits = [index[t.positive] in set(row.tolist()) for t, row in zip(triplets, top)]
    return float(np.mean(hits))


def task_score(model: Any, task: Task, seed: int = 42) -> float:
    """Main score of ``model`` on ``task``'s dev (else first eval) split."""
    from domainteb.adapt.evaluator import DomainTaskEvaluator

    with eval_mode(model):
        return float(DomainTaskEvaluator(task, model_name="gaprune", seed=seed).evaluate(model))


def score_model(model: Any, targets: EvalTargets, seed: int = 42) -> dict[str, float]:
    """``domain``/``general`` main scores (task if available, else held-out recall@10) and details."""
    out: dict[str, float] = {
        "domain_recall_at_10": held_out_recall(model, targets.domain_held_out),
        "general_recall_at_10": held_out_recall(model, targets.general_held_out),
    }
    for side, task in (("domain", targets.domain_task), ("general", targets.general_task)):
        if task is not None:
            out[f"{side}_task"] = task_score(model, task, seed)
        out[side] = out.get(f"{side}_task", out[f"{side}_recall_at_10"])
    return out


def resolve_general_task(spec: str | None, size: str | None = None) -> Task | None:
    """The general-domain task: a name/folder, or ``auto`` → the first registered general task."""
    from domainteb.core.tasks import get_task, list_tasks

    if not spec:
        return None
    kwargs = {"size": size} if size else {}
    if spec != "auto":
        return get_task(spec, **kwargs)
    try:
        specs = list_tasks(domain="general", benchmark="domainteb")
        specs = sorted(specs, key=lambda s: s.type.value != "Retrieval")
        return specs[0].build(**kwargs) if specs else None
    except DomainTebError as exc:
        log.warning("no general task for evaluation: %s", exc)
        return None
