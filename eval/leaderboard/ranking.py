"""Ranks on one domain board: Borda rank, bootstrap rank intervals of Mean(Task), the group
of models tied with the leader, and each adapted model's Δ vs its base with a CI.

The bootstrap is paired across models: in each replicate, every task's items (queries, pairs,
documents…) are resampled ONCE and every model is scored on that same resample, as in the
report (:mod:`domainteb.eval.report.bootstrap`). A task for which some ranked model has no
per-item data (e.g. results written by mteb itself) enters every replicate with its fixed score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from domainteb.eval.report.bootstrap import _take, paired_bootstrap, percentile_ci, validate_items
from domainteb.eval.report.collect import ScoreRecord


def borda(scores: dict[str, dict[str, float]], tasks: Sequence[str], models: Sequence[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Borda count over tasks (mteb's leaderboard ranking): on each task a model gets one point
    per model it beats and half a point per tie; ranks by total points (ties share the best rank).
    A task a model lacks gives it no points."""
    from scipy.stats import rankdata

    points = {m: 0.0 for m in models}
    for task in tasks:
        present = [m for m in models if task in scores.get(m, {})]
        if len(present) < 2:
            continue
        ranks = rankdata([scores[m][task] for m in present], method="average")  # 1 = worst
        for m, r in zip(present, ranks):
            points[m] += float(r - 1.0)
    order = rankdata([-points[m] for m in models], method="min") if models else []
    return points, {m: int(r) for m, r in zip(models, order)}


def _common_items(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """All models' items restricted to the ids every model has, in the first model's order."""
    if len({it.get("statistic") for it in items}) != 1:
        return None
    common = set.intersection(*(set(map(str, it["ids"])) for it in items))
    if not common:
        return None
    order = [i for i in map(str, items[0]["ids"]) if i in common]
    out = []
    for it in items:
        pos = {str(i): k for k, i in enumerate(it["ids"])}
        keep = [pos[i] for i in order]
        n = len(it["ids"])
        sub = {k: (v if k == "statistic" else _take(v, keep, n)) for k, v in it.items()}
        sub["ids"] = order
        out.append(sub)
    return out


def _task_replicates(items: list[dict[str, Any]], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(models, n_boot) scores on shared resamples of one task's items."""
    from domainteb.eval.items import resample_statistics

    n = len(items[0]["ids"])
    out = np.empty((len(items), n_boot))
    chunk = max(1, 4_000_000 // max(n, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        index = rng.integers(0, n, size=(stop - start, n))
        for k, it in enumerate(items):
            out[k, start:stop] = resample_statistics(it, index)
    return out


@dataclass
class RankStats:
    models: list[str]
    leader: str | None
    #: model → [lowest, highest] rank of the central ``level`` bootstrap interval
    intervals: dict[str, list[int]] = field(default_factory=dict)
    tied: list[str] = field(default_factory=list)
    #: model → (leader − model) Mean(Task) difference with its CI
    gap: dict[str, list[float]] = field(default_factory=dict)
    resampled_tasks: list[str] = field(default_factory=list)
    fixed_tasks: list[str] = field(default_factory=list)
    n_boot: int = 0
    n_nan: int = 0


def rank_intervals(
    records: dict[tuple[str, str], ScoreRecord], models: Sequence[str], tasks: Sequence[str], *,
    n_boot: int = 1000, level: float = 0.95, seed: int = 0,
) -> RankStats:
    """Rank intervals and the tied-with-leader group among ``models`` (each with a score on every task)."""
    models = list(models)
    if not models:
        return RankStats(models=[], leader=None)
    rng = np.random.default_rng(seed)
    main = np.array([[records[(m, t)].main_score for t in tasks] for m in models], dtype=np.float64)
    point = main.mean(axis=1)
    per_task = []
    stats = RankStats(models=models, leader=models[int(np.argmax(point))], n_boot=n_boot)
    for j, task in enumerate(tasks):
        raw = [records[(m, task)].items for m in models]
        aligned = None
        if all(raw):
            try:
                aligned = _common_items([validate_items(it, str(records[(m, task)].path)) for m, it in zip(models, raw)])
            except Exception:  # malformed per-item data: the task keeps its fixed score
                aligned = None
        if aligned is None or len(models) < 2:
            per_task.append(np.repeat(main[:, j : j + 1], n_boot, axis=1))
            stats.fixed_tasks.append(task)
        else:
            per_task.append(_task_replicates(aligned, n_boot, rng))
            stats.resampled_tasks.append(task)
    if not stats.resampled_tasks:  # nothing to resample: no interval says more than the point ranks
        stats.n_boot = 0
        return stats
    reps = np.mean(np.stack(per_task), axis=0)  # (models, n_boot)
    finite = np.all(np.isfinite(reps), axis=0)
    stats.n_nan = int(np.count_nonzero(~finite))
    reps = reps[:, finite]
    if reps.shape[1] == 0:
        return stats
    from scipy.stats import rankdata

    ranks = rankdata(-reps, axis=0, method="min")
    tail = (1.0 - level) / 2.0
    lead = models.index(stats.leader)  # type: ignore[arg-type]
    for k, m in enumerate(models):
        lo, hi = np.quantile(ranks[k], [tail, 1.0 - tail], method="inverted_cdf")
        stats.intervals[m] = [int(lo), int(hi)]
        gap = reps[lead] - reps[k]
        g_lo, g_hi = percentile_ci(gap, level)
        stats.gap[m] = [float(point[lead] - point[k]), g_lo, g_hi]
        if k == lead or g_lo <= 0.0:
            stats.tied.append(m)
    return stats


def delta_vs_base(
    adapted: dict[str, ScoreRecord], base: dict[str, ScoreRecord], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
) -> dict[str, Any] | None:
    """Mean(Task) of ``adapted`` minus its base over the tasks both have, with a paired bootstrap
    CI (tasks without per-item data contribute their fixed difference)."""
    rng = np.random.default_rng(seed)
    common = sorted(t for t in adapted if t in base and adapted[t].main_score is not None and base[t].main_score is not None)
    if not common:
        return None
    diffs, parts, fixed = [], [], 0
    for task in common:
        a, b = adapted[task], base[task]
        diff = float(a.main_score - b.main_score)  # type: ignore[operator]
        diffs.append(diff)
        try:
            if not (a.items and b.items):
                raise ValueError("no per-item data")
            boot = paired_bootstrap(validate_items(a.items, str(a.path)), validate_items(b.items, str(b.path)),
                                    n_boot=n_boot, seed=rng, level=level)
            parts.append(boot.replicates - boot.diff + diff)  # centred on the main-score difference
        except Exception:
            parts.append(np.full(n_boot, diff))
            fixed += 1
    reps = np.mean(np.stack(parts), axis=0)
    lo, hi = percentile_ci(reps, level)
    return {"delta": float(np.mean(diffs)), "lo": lo, "hi": hi, "n_tasks": len(common), "n_fixed": fixed}
