"""Paired bootstrap confidence intervals for score differences between two models.

Both models' per-item data (``{"statistic": ..., "ids": [...], <arrays>}``, written by the
evaluators) are aligned by item id, then resampled with the SAME indices: the i-th bootstrap
replicate of the difference is ``stat(A[idx_i]) - stat(B[idx_i])``. Statistics are recomputed by
:mod:`domainteb.eval.items` (``resample_statistics``, vectorised over a whole index matrix of
resamples; ``full_statistic``); ``"mean"`` items (e.g. per-query nDCG) resample the per-item
differences directly (the same mean). An average over several tasks resamples each task
independently and averages the per-task replicate differences.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domainteb.core.errors import DomainTebError

log = logging.getLogger(__name__)


@dataclass
class PairedDiff:
    """Bootstrap distribution of ``stat(A) - stat(B)`` for one task."""

    diff: float  # on the full (aligned) items
    lo: float
    hi: float
    n_items: int
    replicates: np.ndarray  # shape (n_boot,)

    @property
    def significant(self) -> bool:
        return bool(self.lo > 0 or self.hi < 0)

    @property
    def n_nan(self) -> int:
        """Replicates whose statistic was undefined (e.g. a Spearman over constant predictions):
        left out of the percentiles and reported, never dropped silently."""
        return int(np.count_nonzero(~np.isfinite(self.replicates)))


def _mean_values(items: dict[str, Any]) -> np.ndarray | None:
    """The per-item ``values`` of ``"mean"`` items as float64 (None for other statistics)."""
    if items.get("statistic") != "mean" or not isinstance(items.get("values"), list):
        return None
    values = np.array([np.nan if v is None else v for v in items["values"]], dtype=np.float64)
    return values if values.ndim == 1 and len(values) == len(items["ids"]) else None


def _take(value: Any, keep: list[int], n: int) -> Any:
    """Restrict per-item data to positions ``keep``: lists as long as the ids, each such list
    inside a mapping (e.g. ``scores`` per similarity family), and the columns of a list of
    per-item rows (e.g. ``preds`` per experiment); constants pass through."""
    if isinstance(value, dict):
        return {k: _take(v, keep, n) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(row, list) and len(row) == n for row in value):
            return [[row[k] for k in keep] for row in value]
        if len(value) == n:
            return [value[k] for k in keep]
    return value


def validate_items(items: Any, where: str) -> dict[str, Any]:
    """Check the items convention; errors name ``where`` (a file) and the field."""
    if not isinstance(items, dict):
        raise DomainTebError(f"{where}: per-item data must be an object with 'statistic' and 'ids'")
    if not isinstance(items.get("statistic"), str):
        raise DomainTebError(f"{where}: per-item data lacks a 'statistic' name; regenerate the result with 'domainteb eval'")
    ids = items.get("ids")
    if not isinstance(ids, list) or not ids:
        raise DomainTebError(f"{where}: per-item data lacks a non-empty 'ids' list; regenerate the result")
    if len(set(map(str, ids))) != len(ids):
        raise DomainTebError(f"{where}: per-item 'ids' are not unique; regenerate the result")
    return items


def align(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Restrict both items dicts to their common ids, in A's order; returns (A', B', n_dropped)."""
    if a.get("statistic") != b.get("statistic"):
        raise DomainTebError(
            f"per-item statistics differ ({a.get('statistic')!r} vs {b.get('statistic')!r}); were both models run on the same task version?"
        )
    ids_a = [str(i) for i in a["ids"]]
    pos_b = {str(i): k for k, i in enumerate(b["ids"])}
    keep_a = [k for k, i in enumerate(ids_a) if i in pos_b]
    keep_b = [pos_b[ids_a[k]] for k in keep_a]
    dropped = len(ids_a) + len(pos_b) - 2 * len(keep_a)

    if len(keep_a) == len(ids_a) == len(pos_b) and keep_a == keep_b:
        return a, b, 0  # same ids in the same order: nothing to do

    def subset(items: dict[str, Any], keep: list[int]) -> dict[str, Any]:
        n = len(items["ids"])
        out = {k: (v if k == "statistic" else _take(v, keep, n)) for k, v in items.items()}
        out["ids"] = [items["ids"][k] for k in keep]
        return out

    return subset(a, keep_a), subset(b, keep_b), dropped


def draw_indices(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n_items)`` resample indices, drawn with replacement."""
    return rng.integers(0, n_items, size=(n_boot, n_items))


def paired_bootstrap(
    a: dict[str, Any], b: dict[str, Any], *, n_boot: int = 1000, seed: int | np.random.Generator = 0, level: float = 0.95
) -> PairedDiff:
    """Paired bootstrap of ``stat(A) - stat(B)`` over aligned items (same indices for both)."""
    if n_boot < 1:
        raise DomainTebError(f"n_boot must be >= 1, got {n_boot}")
    a, b, dropped = align(a, b)
    n = len(a["ids"])
    if n == 0:
        raise DomainTebError("the two models' per-item data share no item ids; were they run on the same task?")
    if dropped:
        log.warning("paired bootstrap: %d item(s) present for only one model were left out", dropped)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    va, vb = _mean_values(a), _mean_values(b)
    if va is not None and vb is not None:
        diff = float((va - vb).mean())
    else:
        from domainteb.eval.items import full_statistic as full

        diff = float(full(a) - full(b))
    replicates = replicate_diffs(a, b, n_boot, rng)
    lo, hi = percentile_ci(replicates, level)
    return PairedDiff(diff=diff, lo=lo, hi=hi, n_items=n, replicates=replicates)


#: at most this many resample indices are held in memory at once (replicates × items).
INDEX_CHUNK = 4_000_000


def replicate_diffs(a: dict[str, Any], b: dict[str, Any], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` paired replicates ``stat(A[idx]) − stat(B[idx])`` of ALIGNED items, drawn in
    chunks so that the index matrix stays small."""
    from domainteb.eval.items import resample_statistics

    n = len(a["ids"])
    va, vb = _mean_values(a), _mean_values(b)
    chunk = max(1, INDEX_CHUNK // max(n, 1))
    out = []
    for start in range(0, n_boot, chunk):
        index = draw_indices(n, min(chunk, n_boot - start), rng)
        if va is not None and vb is not None:
            out.append((va - vb)[index].mean(axis=1))
        else:
            out.append(resample_statistics(a, index) - resample_statistics(b, index))
    return np.concatenate(out) if out else np.zeros(0)


def extend(boot: PairedDiff, a: dict[str, Any], b: dict[str, Any], n_more: int, rng: np.random.Generator, level: float = 0.95) -> PairedDiff:
    """``boot`` with ``n_more`` further replicates (``a``/``b`` as given to :func:`paired_bootstrap`)."""
    a, b, _ = align(a, b)
    replicates = np.concatenate([boot.replicates, replicate_diffs(a, b, n_more, rng)])
    lo, hi = percentile_ci(replicates, level)
    return PairedDiff(diff=boot.diff, lo=lo, hi=hi, n_items=boot.n_items, replicates=replicates)


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


def average_diff(parts: Sequence[PairedDiff], level: float = 0.95) -> PairedDiff:
    """CI of the mean difference over tasks: each task resampled on its own, replicates averaged."""
    if not parts:
        raise ValueError("average_diff needs at least one task")
    size = min(p.replicates.size for p in parts)  # tasks may carry more replicates than others: iid, so truncate
    replicates = np.mean(np.stack([p.replicates[:size] for p in parts]), axis=0)
    lo, hi = percentile_ci(replicates, level)
    return PairedDiff(
        diff=float(np.mean([p.diff for p in parts])),
        lo=lo,
        hi=hi,
        n_items=int(sum(p.n_items for p in parts)),
        replicates=replicates,
    )
