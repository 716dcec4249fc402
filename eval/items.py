"""Per-item data behind a split's main score, for paired bootstrap confidence intervals.

Every evaluator returns ``items``: a JSON-serialisable dict

    {"statistic": <name>, "ids": [...], <arrays aligned with ids>..., <constants>...}

and :func:`resample_statistic` recomputes the main score on a resample ``index`` of item
positions (the report draws ONE index and applies it to two models for a paired bootstrap).
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

Statistic = Callable[[dict[str, Any], np.ndarray], float]

STATISTICS: Registry[Statistic] = Registry("item statistic")


def _col(items: dict[str, Any], name: str, index: np.ndarray) -> np.ndarray:
    return np.asarray(items[name])[index]


def _num(items: dict[str, Any], name: str, index: np.ndarray) -> np.ndarray:
    """A numeric column (``None`` from JSON becomes NaN)."""
    return np.array([np.nan if v is None else v for v in items[name]], dtype=np.float64)[index]


@STATISTICS.register("mean")
def _mean(items: dict[str, Any], index: np.ndarray) -> float:
    return float(np.mean(_num(items, "values", index)))


@STATISTICS.register("spearman")
def _spearman(items: dict[str, Any], index: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(_num(items, "gold", index), _num(items, "pred", index))[0])


@STATISTICS.register("pearson")
def _pearson(items: dict[str, Any], index: np.ndarray) -> float:
    from scipy.stats import pearsonr

    return float(pearsonr(_num(items, "gold", index), _num(items, "pred", index))[0])


@STATISTICS.register("pair")
def _pair(items: dict[str, Any], index: np.ndarray) -> float:
    from domainteb.eval.evaluators.pair_classification import threshold_metrics

    labels = _col(items, "labels", index)
    metric = items.get("metric", "ap")
    return max(
        threshold_metrics(np.asarray(scores, dtype=np.float64)[index], labels)[metric]
        for scores in items["scores"].values()
    )


@STATISTICS.register("classification")
def _classification(items: dict[str, Any], index: np.ndarray) -> float:
    from domainteb.eval.evaluators.classification import label_metrics

    gold = _col(items, "gold", index)
    preds = np.asarray(items["preds"])[:, index]
    if items["metric"] == "accuracy":  # the usual main score: vectorised over experiments
        return float(np.mean(preds == np.asarray(gold)[None, :]))
    return float(np.mean([label_metrics(gold, p)[items["metric"]] for p in preds]))


@STATISTICS.register("bitext")
def _bitext(items: dict[str, Any], index: np.ndarray) -> float:
    from domainteb.eval.evaluators.bitext_mining import bitext_metrics

    return bitext_metrics(_col(items, "gold", index), _col(items, "pred", index))[items["metric"]]


@STATISTICS.register("v_measure")
def _v_measure(items: dict[str, Any], index: np.ndarray) -> float:
    """(stats) V-measure of each k-means run's assignment on the resampled documents, averaged."""
    from sklearn.metrics.cluster import v_measure_score

    labels = _col(items, "labels", index)
    return float(np.mean([v_measure_score(labels, np.asarray(run)[index]) for run in items["clusters"]]))


@STATISTICS.register("subset_mean")
def _subset_mean(items: dict[str, Any], index: np.ndarray) -> float:
    """(public) Mean over hf_subsets of each subset's statistic on the positions drawn in its range."""
    values = []
    for sub in items["subsets"]:
        lo = int(sub["start"])
        hi = lo + n_items(sub["items"])
        local = index[(index >= lo) & (index < hi)] - lo
        if local.size:  # a subset the resample did not draw from is left out of this draw's mean
            values.append(resample_statistic(sub["items"], local))
    return float(np.mean(values)) if values else float("nan")


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


def resample_statistic(items: dict[str, Any], index: np.ndarray) -> float:
    """The main score recomputed on the items at positions ``index`` (repeats allowed)."""
    return STATISTICS.get(items["statistic"])(items, np.asarray(index, dtype=np.int64))


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
