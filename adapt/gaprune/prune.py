"""The pruning pipeline in three steps passing tensor dicts: statistics → scores → mask.

:func:`collect_stats` runs the per-sample Fisher/gradient pass on the calibration sets a
criterion needs; :func:`make_mask` scores the prunable weights with a registered criterion and
picks one global mask at the target sparsity; :func:`mask_summary` reports what was pruned
(per layer, overall, overlap with the global magnitude mask).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import Tensor, nn

from domainteb.adapt.gaprune.calibration import TextPrompts, Triplet
from domainteb.adapt.gaprune.fisher import GradStats, grad_stats
from domainteb.adapt.gaprune.masks import Mask, global_mask, jaccard_pruned, sparsity_stats
from domainteb.adapt.gaprune.scoring import SCORERS, ScoringInputs
from domainteb.adapt.gaprune.targets import Target

log = logging.getLogger(__name__)


@dataclass
class PruneSettings:
    """Hyper-parameters of one pruning run (the ``adapt`` config block, validated)."""

    criterion: str = "gaprune"
    sparsity: float = 0.5
    alpha: float = 0.2
    beta: float = 1.0
    gamma: float = 0.5
    alignment: str = "tensor"
    sign_aware: bool = True
    prune_attention: bool = False
    per_sample_batch: int = 32
    chunk: int = 16
    seed: int = 42


@dataclass
class Stats:
    """Gradient statistics per calibration set and the seconds each pass took."""

    by_set: dict[str, GradStats] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def collect_stats(
    model: nn.Module,
    targets: Sequence[Target],
    sets: Mapping[str, Sequence[Triplet]],
    needs: set[str] | frozenset[str],
    *,
    batch_size: int = 32,
    chunk: int = 16,
    show_progress: bool = False,
    prompts: TextPrompts | None = None,
) -> Stats:
    """Per-sample Fisher and mean gradients on each needed set (``domain``/``general``), with the
    texts under ``prompts`` (default: the model's own evaluation prompts)."""
    out = Stats()
    for name in sorted(needs):
        start = time.perf_counter()
        out.by_set[name] = grad_stats(
            model, targets, sets[name], batch_size=batch_size, chunk=chunk, show_progress=show_progress,
            prompts=prompts,
        )
        out.seconds[name] = time.perf_counter() - start
        log.info("%s Fisher over %d triplets: %.1fs", name, len(sets[name]), out.seconds[name])
    return out


def make_mask(targets: Sequence[Target], settings: PruneSettings, stats: Stats | None = None) -> tuple[Mask, dict[str, float]]:
    """Score with ``settings.criterion`` and keep the top ``1 − sparsity`` globally."""
    scorer = SCORERS.get(settings.criterion)
    by_set = stats.by_set if stats else {}
    missing = set(scorer.needs) - set(by_set)
    if missing:
        raise ValueError(f"criterion {settings.criterion!r} needs gradient statistics for {sorted(missing)}")
    inp = ScoringInputs(
        weights={t.name: t.module.weight for t in targets},
        domain=by_set.get("domain"),
        general=by_set.get("general"),
        alpha=settings.alpha,
        beta=settings.beta,
        gamma=settings.gamma,
        alignment=settings.alignment,
        sign_aware=settings.sign_aware,
        seed=settings.seed,
    )
    scores = scorer.fn(inp)
    return global_mask(scores, settings.sparsity), dict(inp.terms)


def magnitude_mask(targets: Sequence[Target], sparsity: float) -> Mask:
    return make_mask(targets, PruneSettings(criterion="magnitude", sparsity=sparsity))[0]


def mask_summary(mask: Mapping[str, Tensor], reference: Mapping[str, Tensor] | None) -> dict[str, object]:
    """Achieved sparsity overall and per layer, and Jaccard of the pruned set with ``reference``."""
    overall, per = sparsity_stats(mask)
    return {
        "sparsity_achieved": overall,
        "sparsity_per_layer": per,
        "n_prunable": int(sum(m.numel() for m in mask.values())),
        "n_pruned": int(sum(int((~m).sum()) for m in mask.values())),
        "jaccard_vs_magnitude": jaccard_pruned(mask, reference) if reference is not None else None,
    }
