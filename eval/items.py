"""Per-item data behind a split's main score, for paired bootstrap confidence intervals.

Every evaluator returns ``items``: a JSON-serialisable dict

    {"statistic": <name>, "ids": [...], <arrays aligned with ids>..., <constants>...}

and :func:`resample_statistics` recomputes the main score on every row of an ``(R, m)`` index
matrix of item positions at once (one resample per row; the report draws ONE index and applies it
to two models for a paired bootstrap; :func:`resample_statistic` is the one-resample case).
:func:`full_statistic` (index = all items) reproduces the main score.

========================  ====================================================  ===========================
statistic                 fields                                                used by
========================  ====================================================  ===========================
``mean``                  ``values``                                            retrieval, reranking (per
                                                                                query), clustering (per
                                                                                subset), summarization (per
                                                                                text), classification
                                                                                accuracy (per item)
``spearman``/``pearson``  ``pred``, ``gold``                                    STS, FinMTEB summarization
``pair``                  ``scores`` {family: [...]} (higher = more similar),   pair classification
                          ``labels``, ``metric`` (ap|accuracy|f1|precision|
                          recall); max over families
``classification``        ``gold``, ``preds`` [experiment][item], ``metric``    classification (non-accuracy)
``bitext``                ``gold``, ``pred``, ``metric``                        bitext mining
``v_measure``             ``labels`` (per document), ``clusters``               clustering (per document;
                          [k-means run][document]; mean over runs               k-means fits fixed, the
                                                                                documents resampled)
``subset_mean``           ``subsets`` [{``name``, ``start``, ``items``}]: mean  tasks with several hf_subsets
                          over subsets of each subset's statistic on the drawn  (task score = mean over
                          positions in its range (ids concatenated)             subsets, as mteb) (public)
========================  ====================================================  ===========================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from domainteb.core.registry import Registry

#: ``(items, index)`` → the statistic on every row of the ``(R, m)`` index matrix of item
#: positions (one resample per row, repeats allowed), shape ``(R,)``; vectorised over rows
#: with the kernels of :mod:`domainteb.eval.rowwise`.
Statistic = Callable[[dict[str, Any], np.ndarray], np.ndarray]

STATISTICS: Registry[Statistic] = Registry("item statistic")

#: rows × positions handled at once by :func:`resample_statistics` (bounds the kernels' memory)
ROW_CHUNK = 1_000_000


def _num(items: dict[str, Any], name: str) -> np.ndarray:
    """A numeric column (``None`` from JSON becomes NaN)."""
    return np.array([np.nan if v is None else v for v in items[name]], dtype=np.float64)


def _weights(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    from domainteb.eval.rowwise import draw_counts

    return draw_counts(index, n_items(items))


@STATISTICS.register("mean")
def _mean(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    return _num(items, "values")[index].mean(axis=-1)


def _correlation(items: dict[str, Any], index: np.ndarray, *, rank: bool) -> np.ndarray:
    from domainteb.eval.rowwise import resampled_ranks, rowwise_correlation

    gold, pred = _num(items, "gold"), _num(items, "pred")
    if rank:
        return rowwise_correlation(resampled_ranks(gold, index), resampled_ranks(pred, index))
    return rowwise_correlation(gold[index], pred[index])


@STATISTICS.register("spearman")
def _spearman(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """``scipy.stats.spearmanr`` of gold and predictions on each resample."""
    return _correlation(items, index, rank=True)


@STATISTICS.register("pearson")
def _pearson(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """``scipy.stats.pearsonr`` of gold and predictions on each resample."""
    return _correlation(items, index, rank=False)


@STATISTICS.register("pair")
def _pair(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """The pair-classification metric of each resample, best score family."""
    from domainteb.eval.rowwise import threshold_metrics_rows

    weights = _weights(items, index)
    labels = np.asarray(items["labels"])
    metric = items.get("metric", "ap")
    per_family = [threshold_metrics_rows(np.asarray(s, dtype=np.float64), labels, weights)[metric] for s in items["scores"].values()]
    return np.max(np.stack(per_family), axis=0)


@STATISTICS.register("classification")
def _classification(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """The label metric of each resample, averaged over the experiments' predictions."""
    from domainteb.eval.rowwise import label_metrics_rows

    preds = np.asarray(items["preds"])
    if items["metric"] == "accuracy":  # the usual main score
        gold = np.asarray(items["gold"])
        return np.mean(preds[:, index] == gold[index][None], axis=(0, 2))
    weights = _weights(items, index)
    return np.mean([label_metrics_rows(items["gold"], p.tolist(), weights)[items["metric"]] for p in preds], axis=0)


#: bitext mining's metric names → :func:`domainteb.eval.rowwise.label_metrics_rows` (support-weighted, as mteb)
BITEXT_METRICS = {"precision": "precision_weighted", "recall": "recall_weighted", "f1": "f1_weighted", "accuracy": "accuracy"}


@STATISTICS.register("bitext")
def _bitext(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    from domainteb.eval.rowwise import label_metrics_rows

    return label_metrics_rows(items["gold"], items["pred"], _weights(items, index))[BITEXT_METRICS[items["metric"]]]


@STATISTICS.register("v_measure")
def _v_measure(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """(stats) ``v_measure_score`` of each k-means run's assignment on the resampled documents, averaged."""
    from domainteb.eval.rowwise import v_measure_rows

    _, labels = np.unique(np.asarray(items["labels"], dtype=object).astype(str), return_inverse=True)
    runs = [np.unique(np.asarray(run), return_inverse=True)[1] for run in items["clusters"]]
    return np.mean([v_measure_rows(labels, run, index) for run in runs], axis=0)


@STATISTICS.register("subset_mean")
def _subset_mean(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """(public) Mean over hf_subsets of each subset's statistic on the positions drawn in its range;
    a subset a resample did not draw from is left out of that resample's mean."""
    rows = index.shape[0]
    total, count = np.zeros(rows), np.zeros(rows)
    for sub in items["subsets"]:
        lo = int(sub["start"])
        inside = (index >= lo) & (index < lo + n_items(sub["items"]))
        drawn = inside.sum(axis=1)
        value = np.zeros(rows)
        for size in np.unique(drawn[drawn > 0]):  # resamples that drew equally many of its items, in draw order
            sel = np.flatnonzero(drawn == size)
            value[sel] = resample_statistics(sub["items"], (index[sel][inside[sel]] - lo).reshape(sel.size, int(size)))
        total = total + np.where(drawn > 0, value, 0.0)
        count += drawn > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def combine_subsets(per_subset: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """(public) One items dict for a split scored per hf_subset: its ``full_statistic`` is the mean
    of the subsets' main scores (the task score); a resample draws from all subsets' items."""
    subsets, ids, start = [], [], 0
    for name, sub in per_subset.items():
        subsets.append({"name": name, "start": start, "items": sub})
        ids += [f"{name}/{i}" for i in sub["ids"]]
        start += n_items(sub)
    return make_items("subset_mean", ids, subsets=subsets)


def n_items(items: dict[str, Any]) -> int:
    return len(items["ids"])


def resample_statistics(items: dict[str, Any], index: np.ndarray) -> np.ndarray:
    """The main score recomputed on every row of an ``(R, m)`` index matrix of item positions."""
    index = np.asarray(index, dtype=np.int64)
    if index.ndim != 2:
        raise ValueError(f"resample_statistics needs an (R, m) index matrix, got shape {index.shape}")
    statistic = STATISTICS.get(items["statistic"])
    step = max(1, ROW_CHUNK // max(index.shape[1], 1))
    if index.shape[0] <= step:
        return np.asarray(statistic(items, index), dtype=np.float64)
    return np.concatenate([np.asarray(statistic(items, index[k : k + step]), dtype=np.float64) for k in range(0, index.shape[0], step)])


def resample_statistic(items: dict[str, Any], index: np.ndarray) -> float:
    """The main score recomputed on the items at positions ``index`` (repeats allowed)."""
    return float(resample_statistics(items, np.asarray(index, dtype=np.int64)[None, :])[0])


def full_statistic(items: dict[str, Any]) -> float:
    """The main score over all items (equals the split's ``main_score``)."""
    return resample_statistic(items, np.arange(n_items(items)))


def make_items(statistic: str, ids: list[Any], **fields: Any) -> dict[str, Any]:
    """Build an items dict, converting numpy arrays to plain lists (JSON-safe, NaN → None)."""

    def plain(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (np.floating, float)):
            f = float(value)
            return None if f != f else f
        if isinstance(value, np.integer):
            return int(value)
        return value

    STATISTICS.get(statistic)  # fail early on an unknown name
    return {"statistic": statistic, "ids": plain(list(ids)), **{k: plain(v) for k, v in fields.items()}}
