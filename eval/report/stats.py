"""The report's statistics beyond the paired bootstrap itself (:mod:`.bootstrap`).

* multiplicity: Holm-adjusted p-values (``statsmodels.stats.multitest.multipletests``) and
  Benjamini–Hochberg q-values (``scipy.stats.false_discovery_control``) over one report's
  comparisons;
* the bootstrap p-value of a paired difference (two-sided, from its replicates);
* the hierarchical bootstrap of an average over tasks (resample tasks, then items within each
  drawn task), next to the stratified one of :func:`.bootstrap.average_diff` (task set fixed);
* the paired randomization (permutation) test per task (``scipy.stats.permutation_test`` with
  ``permutation_type="samples"``: each item's two outputs are swapped at random; every statistic
  is recomputed for a whole batch of permutations at once) and for an average
  over tasks (independent swaps in every task, averaged);
* the Monte-Carlo precision of a percentile CI bound (an order-statistic interval from the
  binomial distribution), used to pick the number of bootstrap replicates.

Scores are on the result files' 0–1 scale; "0.1 points" in the report is 0.001 here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domainteb.core.errors import DomainTebError
from domainteb.eval.report.bootstrap import PairedDiff, align, percentile_ci

#: the multiple-comparison correction the report applies (named in the report).
CORRECTION = "holm"
CORRECTION_TEXT = "Holm (family-wise error rate) over all comparisons in this report; Benjamini–Hochberg q-values (false discovery rate) alongside"


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (same order as ``pvalues``)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p
    return np.asarray(multipletests(p, method="holm")[1], dtype=np.float64)


def bh_qvalues(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg q-values (same order as ``pvalues``)."""
    from scipy.stats import false_discovery_control

    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p
    return np.asarray(false_discovery_control(p, method="bh"), dtype=np.float64)


def bootstrap_pvalue(replicates: np.ndarray) -> float | None:
    """Two-sided p-value of "difference = 0" from bootstrap replicates of the difference:
    ``2 · min(P*(Δ ≤ 0), P*(Δ ≥ 0))`` with the +1 correction (never exactly 0). It is below
    ``α`` exactly when the percentile ``1 − α`` interval excludes 0 (up to that correction).
    NaN replicates are left out (and counted by the caller)."""
    finite = replicates[np.isfinite(replicates)]
    n = finite.size
    if n == 0:
        return None
    below = (1 + int(np.count_nonzero(finite <= 0))) / (n + 1)
    above = (1 + int(np.count_nonzero(finite >= 0))) / (n + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def two_sided_null_pvalue(null: np.ndarray, observed: float) -> float:
    """Two-sided Monte-Carlo p-value of ``observed`` against a null distribution (scipy's rule:
    ``2 · min`` of the one-sided ones with the +1 correction, ties within 1e-14 relative)."""
    null = null[np.isfinite(null)]
    n = null.size
    if n == 0 or not np.isfinite(observed):
        return float("nan")
    gamma = abs(observed) * 1e-14
    less = (1 + int(np.count_nonzero(null <= observed + gamma))) / (n + 1)
    greater = (1 + int(np.count_nonzero(null >= observed - gamma))) / (n + 1)
    return float(min(1.0, 2.0 * min(less, greater)))


def hierarchical_replicates(parts: Sequence[PairedDiff], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Replicates of the mean difference over tasks when the TASKS are resampled too.

    Each replicate draws ``T`` tasks with replacement, and for each drawn task one of its paired
    item-level bootstrap replicates at random (a fresh item resample of that task), then averages.
    """
    if not parts:
        raise ValueError("hierarchical bootstrap needs at least one task")
    reps = [p.replicates for p in parts]
    n_tasks = len(reps)
    lengths = np.array([r.size for r in reps])
    tasks = rng.integers(0, n_tasks, size=(n_boot, n_tasks))
    cols = (rng.random(size=(n_boot, n_tasks)) * lengths[tasks]).astype(np.int64)
    width = int(lengths.max())
    padded = np.full((n_tasks, width), np.nan)
    for k, r in enumerate(reps):
        padded[k, : r.size] = r
    return padded[tasks, cols].mean(axis=1)


@dataclass
class HierarchicalDiff:
    diff: float
    lo: float
    hi: float
    replicates: np.ndarray

    @property
    def significant(self) -> bool:
        return bool(self.lo > 0 or self.hi < 0)


def hierarchical_diff(parts: Sequence[PairedDiff], n_boot: int, rng: np.random.Generator, level: float = 0.95) -> HierarchicalDiff:
    replicates = hierarchical_replicates(parts, n_boot, rng)
    lo, hi = percentile_ci(replicates, level)
    return HierarchicalDiff(diff=float(np.mean([p.diff for p in parts])), lo=lo, hi=hi, replicates=replicates)


def bound_mc_halfwidth(replicates: np.ndarray, quantile: float, confidence: float = 0.95) -> float:
    """Half-width of a ``confidence`` interval for the ``quantile`` of the bootstrap distribution
    itself (Monte-Carlo error of a CI bound): the order statistics whose ranks are the binomial
    ``(n, quantile)`` distribution's central ``confidence`` range."""
    from scipy.stats import binom

    finite = np.sort(replicates[np.isfinite(replicates)])
    n = finite.size
    if n < 2:
        return float("inf")
    tail = (1.0 - confidence) / 2.0
    lo_rank = int(max(0, binom.ppf(tail, n, quantile) - 1))
    hi_rank = int(min(n - 1, binom.ppf(1.0 - tail, n, quantile)))
    return float((finite[hi_rank] - finite[lo_rank]) / 2.0)


def ci_mc_halfwidth(replicates: np.ndarray, level: float = 0.95) -> float:
    """The larger Monte-Carlo half-width of the two percentile bounds of a ``level`` CI."""
    tail = (1.0 - level) / 2.0
    return max(bound_mc_halfwidth(replicates, tail), bound_mc_halfwidth(replicates, 1.0 - tail))


# ---------------------------------------------------------------- paired randomization test


@dataclass
class PermutationResult:
    observed: float
    pvalue: float
    null: np.ndarray  # the statistic under random within-item swaps
    n_items: int
    exact: bool


def _mean_values(items: dict[str, Any]) -> np.ndarray | None:
    if items.get("statistic") != "mean" or not isinstance(items.get("values"), list):
        return None
    return np.array([np.nan if v is None else v for v in items["values"]], dtype=np.float64)


def _side_by_side(va: Any, vb: Any, n: int, own: Any) -> Any:
    """Per-item data of A followed by B's (lists as long as the ids, such lists inside mappings,
    and the rows of per-item row lists, e.g. k-means runs); other values are ``own``'s (the side's constants)."""
    if isinstance(va, dict) and isinstance(vb, dict):
        return {k: _side_by_side(va[k], vb[k], n, own[k]) if k in va and k in vb else own[k] for k in own}
    if isinstance(va, list) and isinstance(vb, list):
        if va and len(va) == len(vb) and all(isinstance(r, list) and len(r) == n for r in va + vb):
            return [ra + rb for ra, rb in zip(va, vb)]
        if len(va) == n == len(vb):
            return va + vb
    return own


def stack_pair(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
    """A's and B's ALIGNED per-item data in one ``2n``-item layout, once with A's constants and once
    with B's, and ``place``: where item ``i`` of A (mark ``i``) and of B (mark ``n + i``) sit in it.
    A permutation's swapped A is then the statistic of the first on ``place[marks]`` (mark ``n + i``
    where item ``i`` is swapped), the swapped B that of the second on the complementary marks.

    ``subset_mean`` items keep each subset's items contiguous (A's then B's, at twice its start)."""
    n = len(a["ids"])
    if a["statistic"] != "subset_mean":
        return _side_by_side(a, b, n, a), _side_by_side(a, b, n, b), np.arange(2 * n)
    subs_a, subs_b = a["subsets"], b["subsets"]
    layout = [(s["name"], int(s["start"]), len(s["items"]["ids"])) for s in subs_a]
    if layout != [(s["name"], int(s["start"]), len(s["items"]["ids"])) for s in subs_b]:
        raise DomainTebError("the two models' results have different hf_subsets; were they run on the same task version?")
    place = np.empty(2 * n, dtype=np.int64)
    out_a, out_b = [], []
    for (name, start, m), sa, sb in zip(layout, subs_a, subs_b):
        stacked_a, stacked_b, inner = stack_pair(sa["items"], sb["items"])
        place[start : start + m] = 2 * start + inner[:m]
        place[n + start : n + start + m] = 2 * start + inner[m:]
        out_a.append({**sa, "start": 2 * start, "items": stacked_a})
        out_b.append({**sb, "start": 2 * start, "items": stacked_b})
    rest = {k: v for k, v in a.items() if k != "subsets"}, {k: v for k, v in b.items() if k != "subsets"}
    return ({**_side_by_side(*rest, n, rest[0]), "subsets": out_a},
            {**_side_by_side(*rest, n, rest[1]), "subsets": out_b}, place)


def _many_draws(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the test takes ``n_resamples`` draws (the correlations against one gold) rather than ``n_generic``."""
    return a["statistic"] == b["statistic"] in ("spearman", "pearson") and a.get("gold") == b.get("gold")


def paired_permutation(
    a: dict[str, Any], b: dict[str, Any], *, n_resamples: int = 9999, rng: np.random.Generator | int = 0, n_generic: int = 999
) -> PermutationResult:
    """Paired randomization test of ``stat(A) − stat(B) = 0``: under the null the two models'
    outputs on an item are exchangeable, so each item's pair is swapped with probability ½
    (``scipy.stats.permutation_test``, ``permutation_type="samples"``, vectorised). ``"mean"``
    items permute the per-item values; the other statistics permute the marks of A's and B's
    items (:func:`stack_pair`) and recompute the statistic on every permutation at once
    (:func:`domainteb.eval.items.resample_statistics`): ``n_resamples`` draws for correlations
    against one gold, ``n_generic`` for the rest."""
    from scipy.stats import permutation_test

    from domainteb.eval.items import resample_statistics

    a, b, _ = align(a, b)
    n = len(a["ids"])
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    va, vb = _mean_values(a), _mean_values(b)
    if va is not None and vb is not None:
        data: tuple[np.ndarray, np.ndarray] = (va, vb)
        draws = n_resamples

        def statistic(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
            return np.mean(x - y, axis=axis)
    else:
        stacked_a, stacked_b, place = stack_pair(a, b)
        data = (np.arange(n), np.arange(n) + n)
        draws = n_resamples if _many_draws(a, b) else n_generic

        def statistic(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
            rows_x, rows_y = np.atleast_2d(x), np.atleast_2d(y)
            gap = resample_statistics(stacked_a, place[rows_x]) - resample_statistics(stacked_b, place[rows_y])
            return gap if x.ndim > 1 else gap[0]

    res = permutation_test(
        data, statistic, permutation_type="samples", vectorized=True, n_resamples=draws,
        batch=max(1, min(draws, 2_000_000 // max(n, 1))), alternative="two-sided", rng=gen,
    )
    null = np.asarray(res.null_distribution, dtype=np.float64)
    return PermutationResult(observed=float(res.statistic), pvalue=float(res.pvalue), null=null, n_items=n,
                             exact=null.size < draws)


def average_permutation(parts: Sequence[PermutationResult], rng: np.random.Generator, n_resamples: int = 9999) -> float:
    """p-value of "mean difference over tasks = 0": swaps drawn independently in every task, so
    the null of the average is the average of one draw from each task's null distribution."""
    observed = float(np.mean([p.observed for p in parts]))
    size = min(n_resamples, max(p.null.size for p in parts))
    draws = np.stack([p.null[rng.integers(0, p.null.size, size=size)] for p in parts])
    return two_sided_null_pvalue(draws.mean(axis=0), observed)
