"""Scores of many resamples at once: the kernels behind :mod:`domainteb.eval.items`.

A resample is a row of an ``(R, m)`` index matrix of item positions (repeats allowed: a
bootstrap draw; or the marks of a permutation test, see :func:`domainteb.eval.report.stats.paired_permutation`).
Statistics of a multiset of items (all of them here) only need how often each item was drawn:
:func:`draw_counts` turns the index matrix into ``(R, n)`` integer weights, and every kernel
computes the scikit-learn / scipy definition for all rows in numpy (sorting scores once, then
weighted cumulative sums; contingency tables from one ``np.bincount``). Row ``r`` of each
kernel equals the library function on ``items[index[r]]`` (tested to 1e-12 in
``tests/report/test_rowwise.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def draw_counts(index: np.ndarray, n: int) -> np.ndarray:
    """``(R, n)`` float64: how often each of ``n`` positions occurs in each row of ``index``."""
    rows = index.shape[0]
    flat = (index + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def codes(values: Any) -> tuple[np.ndarray, int]:
    """Integer codes of hashable values (compared as given, e.g. ``"1"`` ≠ ``1``) and their number."""
    table: dict[Any, int] = {}
    out = np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)
    return out, len(table)


# ---------------------------------------------------------------- correlations (STS)


def rowwise_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair (``scipy.stats.pearsonr``); NaN where a row is
    constant or holds a NaN (undefined, like scipy)."""
    const = (x.max(axis=-1) == x.min(axis=-1)) | (y.max(axis=-1) == y.min(axis=-1))
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=-1) / np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    return np.where(const, np.nan, np.clip(r, -1.0, 1.0))


def resampled_ranks(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(values[idx])`` (average ranks of ties) for every row ``idx`` of
    ``index``, from the rows' draw counts of the sorted distinct values (no per-row sort; the
    ranks are half-integers, so exactly scipy's); rows that draw a NaN are all NaN."""
    distinct, code = np.unique(values, return_inverse=True)
    counts = draw_counts(code[index], len(distinct))
    after = np.cumsum(counts, axis=1)
    average = after - counts + 1 + (counts - 1) / 2  # first rank of the value + half its ties
    ranks = np.take_along_axis(average, code[index], axis=1)
    ranks[np.isnan(values)[index].any(axis=1)] = np.nan
    return ranks


# ---------------------------------------------------------------- V-measure (clustering)


def _entropy_rows(counts: np.ndarray, total: int) -> np.ndarray:
    """Natural-log entropy of each row of integer counts summing to ``total`` (as sklearn's
    ``entropy``): ``-Σ p log p`` with ``p = count / total``, looked up per count value."""
    p = np.arange(total + 1) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    return -plogp[counts].sum(axis=-1)


def v_measure_rows(labels: np.ndarray, clusters: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``sklearn.metrics.v_measure_score(labels[idx], clusters[idx])`` for every row ``idx`` of
    ``index``, from the resamples' contingency tables (``labels``/``clusters``: integer codes)."""
    n_l, n_k = int(labels.max()) + 1, int(clusters.max()) + 1
    rows, total = index.shape
    flat = ((labels * n_k + clusters)[index] + (np.arange(rows) * n_l * n_k)[:, None]).ravel()
    joint = np.bincount(flat, minlength=rows * n_l * n_k).reshape(rows, n_l, n_k)
    h_c = _entropy_rows(joint.sum(axis=2), total)
    h_k = _entropy_rows(joint.sum(axis=1), total)
    h_ck = _entropy_rows(joint.reshape(rows, -1), total)  # joint entropy H(C, K)
    homogeneity = np.where(h_c == 0, 1.0, 1.0 - (h_ck - h_k) / np.where(h_c == 0, 1.0, h_c))
    completeness = np.where(h_k == 0, 1.0, 1.0 - (h_ck - h_c) / np.where(h_k == 0, 1.0, h_k))
    both = homogeneity + completeness
    return np.where(both == 0, 0.0, 2.0 * homogeneity * completeness / np.where(both == 0, 1.0, both))


# ---------------------------------------------------------------- scores against binary labels


def _tie_groups(scores: np.ndarray, weights: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted cumulative (positives, items) at the end of each group of tied scores, scores
    descending: ``(R, G)`` each. Items drawn 0 times leave their group's totals unchanged."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    w = weights[:, order]
    cnt = np.add.reduceat(w, starts, axis=1)
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    return np.cumsum(pos, axis=1), np.cumsum(cnt, axis=1)


def _average_precision(cum_pos: np.ndarray, cum_cnt: np.ndarray) -> np.ndarray:
    """scikit-learn's ``average_precision_score`` (ties grouped; 0 without positives)."""
    total_pos = cum_pos[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cum_cnt > 0, cum_pos / cum_cnt, 0.0)
        recall = np.where(total_pos > 0, cum_pos / total_pos, 0.0)
    return np.sum(np.diff(recall, axis=1, prepend=0.0) * precision, axis=1)


def threshold_metrics_rows(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Pair-classification metrics of each weighted resample (``weights``: ``(R, n)`` draw counts):
    best-threshold accuracy and F1 (with that cut's precision and recall), and average precision.
    ``scores`` grow with similarity, ``labels`` are 0/1; only cuts between different scores count."""
    cum_pos, cum_cnt = _tie_groups(np.asarray(scores, dtype=np.float64), weights, np.asarray(labels) == 1)
    total = cum_cnt[:, -1:]
    total_pos = cum_pos[:, -1:]
    valid = (cum_cnt > 0) & (cum_cnt < total)  # a cut with drawn items on both sides
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = (cum_pos + (total - total_pos) - (cum_cnt - cum_pos)) / total
        best_acc = np.maximum(0.0, np.where(valid, acc, -np.inf).max(axis=1))
        ok = valid & (cum_pos > 0) & (total_pos > 0)
        p = np.where(ok, cum_pos / cum_cnt, 0.0)
        r = np.where(ok, cum_pos / total_pos, 0.0)
        f = np.where(ok, 2 * p * r / np.where(ok, p + r, 1.0), -1.0)
    best = np.argmax(f, axis=1)[:, None]
    f_best = np.take_along_axis(f, best, axis=1)[:, 0]
    found = f_best > 0
    return {
        "accuracy": np.where(valid.any(axis=1), best_acc, 0.0),
        "f1": np.where(found, f_best, 0.0),
        "precision": np.where(found, np.take_along_axis(p, best, axis=1)[:, 0], 0.0),
        "recall": np.where(found, np.take_along_axis(r, best, axis=1)[:, 0], 0.0),
        "ap": _average_precision(cum_pos, cum_cnt),
    }


# ---------------------------------------------------------------- predicted labels against gold labels


def label_metrics_rows(gold: Any, pred: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
    """scikit-learn's ``accuracy_score`` and ``f1_score``/``precision_score``/``recall_score``
    (``average="macro"`` over the labels present in gold or predictions, and ``"weighted"`` by
    support; 0 where a class has no predictions or no support) of each weighted resample, and
    ``average_precision_score(gold, pred)`` (``ap``/``ap_weighted``, the predicted labels as
    scores) where the drawn gold has exactly two classes, one of them 1 (NaN elsewhere, where
    scikit-learn has no positive class)."""
    gold, pred = list(gold), list(pred)
    both, n_codes = codes(gold + pred)
    g, p = both[: len(gold)], both[len(gold):]
    rows = weights.shape[0]
    hit = weights * (g == p)
    flat_rows = np.repeat(np.arange(rows) * n_codes, len(g))

    def per_class(w: np.ndarray, cls: np.ndarray) -> np.ndarray:
        idx = flat_rows + np.tile(cls, rows)
        return np.bincount(idx, weights=w.ravel(), minlength=rows * n_codes).reshape(rows, n_codes)

    support, predicted, true_pos = per_class(weights, g), per_class(weights, p), per_class(hit, g)
    present = (support > 0) | (predicted > 0)
    n_present = present.sum(axis=1)
    total = support.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_pos / predicted, 0.0)
        recall = np.where(support > 0, true_pos / support, 0.0)
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * true_pos / denom, 0.0)
        out = {"accuracy": true_pos.sum(axis=1) / total}
        for name, per in (("f1", f1), ("precision", precision), ("recall", recall)):
            out[name] = np.where(present, per, 0.0).sum(axis=1) / n_present
            out[f"{name}_weighted"] = (per * support).sum(axis=1) / total
    gold_classes = (support > 0).sum(axis=1)
    one = np.array([isinstance(v, (int, float, np.number)) and v == 1 for v in gold], dtype=bool)  # sklearn's pos_label=1
    has_one = (weights * one).sum(axis=1) > 0
    try:
        scores = np.asarray(pred, dtype=np.float64)
    except (TypeError, ValueError):  # labels that are not numbers: scikit-learn cannot use them as scores
        ap = np.full(rows, np.nan)
    else:
        ap = _average_precision(*_tie_groups(scores, weights, one))
    out["ap"] = out["ap_weighted"] = np.where((gold_classes == 2) & has_one, ap, np.nan)
    return out
