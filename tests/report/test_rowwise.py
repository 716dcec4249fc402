"""The vectorised resample statistics (domainteb.eval.rowwise, via domainteb.eval.items) against
the scikit-learn / scipy definitions, resample by resample, and the permutation test on stacked
marks against swapping the per-item data; plus the report's numbers on a seeded fixture, pinned
to the values the per-resample scikit-learn implementation gave before the vectorisation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import permutation_test, rankdata
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    v_measure_score,
)

from domainteb.eval.items import combine_subsets, full_statistic, resample_statistics
from domainteb.eval.report.bootstrap import paired_bootstrap
from domainteb.eval.report.stats import paired_permutation, stack_pair
from domainteb.eval.rowwise import (
    draw_counts,
    label_metrics_rows,
    resampled_ranks,
    threshold_metrics_rows,
    v_measure_rows,
)

TOL = 1e-12


def quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def resamples(rng: np.random.Generator, n: int, rows: int = 25) -> np.ndarray:
    index = rng.integers(0, n, size=(rows, n))
    index[0] = np.arange(n)  # the full sample
    index[1] = 0  # one item drawn n times
    return index


# ---------------------------------------------------------------- pair classification


def reference_threshold_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Best cut ``score >= t`` over the distinct scores but the lowest (a cut never splits ties)."""
    cuts = np.unique(scores)[::-1][:-1]
    preds = [(scores >= t).astype(int) for t in cuts]
    acc = max([accuracy_score(labels, p) for p in preds], default=0.0)
    f1 = precision = recall = 0.0
    for p in preds:  # the first cut with the best F1 (2PR/(P+R) of sklearn's precision and recall)
        prec, rec = quiet(precision_score, labels, p, zero_division=0), quiet(recall_score, labels, p, zero_division=0)
        f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        assert abs(f - quiet(f1_score, labels, p, zero_division=0)) <= TOL
        if f > f1:
            f1, precision, recall = f, prec, rec
    return {"accuracy": max(0.0, acc), "f1": f1, "precision": precision, "recall": recall,
            "ap": float(quiet(average_precision_score, labels, scores))}


pair_case = st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, -1.0, 2.5]) | st.floats(-3, 3), min_size=n, max_size=n),
    st.lists(st.integers(0, 1), min_size=n, max_size=n),
    st.integers(0, 2**32 - 1),
))


@settings(max_examples=60, deadline=None)
@given(pair_case)
def test_threshold_metrics_equal_sklearn_on_every_resample(case) -> None:  # type: ignore[no-untyped-def]
    """Ties in scores, all-equal scores, one class only and single items included."""
    scores, labels, seed = np.array(case[0]), np.array(case[1]), case[2]
    index = resamples(np.random.default_rng(seed), len(scores), rows=8)
    fast = threshold_metrics_rows(scores, labels, draw_counts(index, len(scores)))
    for r, idx in enumerate(index):
        slow = reference_threshold_metrics(scores[idx], labels[idx])
        for name, value in slow.items():
            assert abs(fast[name][r] - value) <= TOL, (name, scores[idx], labels[idx])


def test_threshold_metrics_edge_cases() -> None:
    ones = np.ones((1, 3))
    flat = threshold_metrics_rows(np.full(3, 0.4), np.array([1, 0, 1]), ones)  # all-equal scores: no cut
    assert flat["accuracy"][0] == 0.0 and flat["f1"][0] == 0.0
    assert flat["ap"][0] == pytest.approx(average_precision_score([1, 0, 1], [0.4] * 3), abs=TOL)
    none = threshold_metrics_rows(np.array([0.1, 0.2, 0.3]), np.zeros(3, dtype=int), ones)  # no positives
    assert none["ap"][0] == 0.0 and none["f1"][0] == 0.0 and none["accuracy"][0] == pytest.approx(2 / 3)
    weighted = threshold_metrics_rows(np.array([0.9, 0.1]), np.array([1, 0]), np.array([[0.0, 2.0]]))  # item 0 not drawn
    assert weighted["ap"][0] == 0.0 and weighted["accuracy"][0] == 0.0


# ---------------------------------------------------------------- labels against predictions


def sklearn_label_metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    out = {"accuracy": accuracy_score(gold, pred)}
    for name, fn in (("f1", f1_score), ("precision", precision_score), ("recall", recall_score)):
        out[name] = quiet(fn, gold, pred, average="macro")
        out[f"{name}_weighted"] = quiet(fn, gold, pred, average="weighted")
    try:
        ap = quiet(average_precision_score, gold, pred) if len(np.unique(gold)) == 2 else np.nan
    except ValueError:  # two classes, none of them 1
        ap = np.nan
    out["ap"] = out["ap_weighted"] = ap
    return out


label_case = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 4), min_size=n, max_size=n),
    st.lists(st.integers(0, 6), min_size=n, max_size=n),
    st.integers(0, 2**32 - 1),
))


@settings(max_examples=60, deadline=None)
@given(label_case)
def test_label_metrics_equal_sklearn_on_every_resample(case) -> None:  # type: ignore[no-untyped-def]
    """Macro averages over the labels of gold and predictions, weighted by support, zero
    division → 0; predicted-only classes and single-class resamples included."""
    gold, pred, seed = np.array(case[0]), np.array(case[1]), case[2]
    index = resamples(np.random.default_rng(seed), len(gold), rows=8)
    fast = label_metrics_rows(gold.tolist(), pred.tolist(), draw_counts(index, len(gold)))
    for r, idx in enumerate(index):
        for name, value in sklearn_label_metrics(gold[idx], pred[idx]).items():
            got = fast[name][r]
            assert (np.isnan(got) and np.isnan(value)) or abs(got - value) <= TOL, (name, gold[idx], pred[idx])


def test_binary_label_ap_and_string_labels() -> None:
    ones = np.ones((1, 4))
    assert label_metrics_rows([0, 1, 1, 0], [0, 1, 0, 0], ones)["ap"][0] == pytest.approx(
        average_precision_score([0, 1, 1, 0], [0, 1, 0, 0]), abs=TOL)
    strings = label_metrics_rows(["a", "b", "b", "c"], ["a", "b", "c", "c"], ones)
    assert np.isnan(strings["ap"][0])  # sklearn: no positive class 1
    assert strings["f1_weighted"][0] == pytest.approx(f1_score(list("abbc"), list("abcc"), average="weighted"), abs=TOL)


# ---------------------------------------------------------------- clustering and ranks


vm_case = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(st.integers(0, 5), min_size=n, max_size=n),
    st.integers(0, 2**32 - 1),
))


@settings(max_examples=60, deadline=None)
@given(vm_case)
def test_v_measure_rows_equal_sklearn(case) -> None:  # type: ignore[no-untyped-def]
    """One label, one cluster, clusters the resample does not draw (empty) and single items included."""
    labels, clusters, seed = np.array(case[0]), np.array(case[1]), case[2]
    index = resamples(np.random.default_rng(seed), len(labels))
    fast = v_measure_rows(labels, clusters, index)
    slow = [v_measure_score(labels[i], clusters[i]) for i in index]
    assert np.allclose(fast, slow, rtol=0, atol=TOL)


def test_resampled_ranks_are_scipys_exactly() -> None:
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=30), 1)  # many ties
    index = resamples(rng, 30)
    assert np.array_equal(resampled_ranks(values, index), rankdata(values[index], axis=-1))
    values[3] = np.nan
    ranks = resampled_ranks(values, index)
    drew_nan = (index == 3).any(axis=1)
    assert np.isnan(ranks[drew_nan]).all() and np.array_equal(ranks[~drew_nan], rankdata(values[index[~drew_nan]], axis=-1))


def test_draw_counts() -> None:
    counts = draw_counts(np.array([[0, 0, 2], [1, 2, 2]]), 4)
    assert counts.tolist() == [[2, 0, 1, 0], [0, 1, 2, 0]]


# ---------------------------------------------------------------- permutation test = swapping per-item data


def swapped_null(a: dict, b: dict, stat, n: int, draws: int, seed: int) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    """The slow reference: scipy swaps marks, the statistic swaps the per-item data and calls sklearn."""
    def statistic(x: np.ndarray, y: np.ndarray) -> float:
        return stat(np.asarray(x) >= n)

    res = permutation_test((np.arange(n), np.arange(n) + n), statistic, permutation_type="samples", vectorized=False,
                           n_resamples=draws, alternative="two-sided", rng=np.random.default_rng(seed))
    return np.asarray(res.null_distribution), float(res.pvalue)


def test_permutation_of_pair_and_clustering_items_equals_swapping() -> None:
    rng = np.random.default_rng(7)
    n = 40
    labels = rng.integers(0, 2, n)
    ids = [str(i) for i in range(n)]
    fam = {m: {"cos": np.round(labels + rng.normal(0, s, n), 1), "dot": labels + rng.normal(0, s, n)} for m, s in (("a", 0.7), ("b", 1.2))}
    a = {"statistic": "pair", "ids": ids, "labels": labels.tolist(), "metric": "ap", "scores": {k: v.tolist() for k, v in fam["a"].items()}}
    b = {**a, "scores": {k: v.tolist() for k, v in fam["b"].items()}}

    def pair_gap(swap: np.ndarray) -> float:
        def best(own: str, other: str) -> float:
            return max(average_precision_score(labels, np.where(swap, fam[other][k], fam[own][k])) for k in ("cos", "dot"))
        return best("a", "b") - best("b", "a")

    null, p = swapped_null(a, b, pair_gap, n, 199, seed=3)
    res = paired_permutation(a, b, rng=3, n_generic=199)
    assert np.allclose(res.null, null, rtol=0, atol=TOL) and res.pvalue == p

    gold = [f"c{i % 3}" for i in range(n)]
    runs = {m: [rng.integers(0, 4, n) if m == "b" else np.array([i % 3 for i in range(n)]) for _ in range(2)] for m in "ab"}
    ca = {"statistic": "v_measure", "ids": ids, "labels": gold, "clusters": [r.tolist() for r in runs["a"]]}
    cb = {**ca, "clusters": [r.tolist() for r in runs["b"]]}

    def vm_gap(swap: np.ndarray) -> float:
        def mean(own: str, other: str) -> float:
            return float(np.mean([v_measure_score(gold, np.where(swap, ro, rw)) for rw, ro in zip(runs[own], runs[other])]))
        return mean("a", "b") - mean("b", "a")

    null, p = swapped_null(ca, cb, vm_gap, n, 99, seed=4)
    res = paired_permutation(ca, cb, rng=4, n_generic=99)
    assert np.allclose(res.null, null, rtol=0, atol=TOL) and res.pvalue == p and res.pvalue < 0.05


def test_permutation_swaps_within_hf_subsets() -> None:
    """A task scored per hf_subset: the test swaps the items inside each subset (before the
    vectorisation it swapped nothing, so every such p-value was 1)."""
    rng = np.random.default_rng(2)
    gold = list(range(30))

    def bitext(hit: float) -> dict:
        pred = [g if rng.random() < hit else int(rng.integers(0, 30)) for g in gold]
        return {"statistic": "bitext", "ids": gold, "gold": gold, "pred": pred, "metric": "f1"}

    a = combine_subsets({"de": bitext(0.9), "fr": bitext(0.9)})
    b = combine_subsets({"de": bitext(0.3), "fr": bitext(0.3)})
    subs = [(s["items"], t["items"]) for s, t in zip(a["subsets"], b["subsets"])]

    def gap(swap: np.ndarray) -> float:
        def f1(own: int) -> float:
            out = []
            for k, pair in enumerate(subs):
                mask = swap[30 * k : 30 * (k + 1)]
                pred = np.where(mask, pair[1 - own]["pred"], pair[own]["pred"])
                out.append(f1_score(gold, pred, average="weighted", zero_division=0))
            return float(np.mean(out))
        return f1(0) - f1(1)

    null, p = swapped_null(a, b, lambda s: quiet(gap, s), 60, 99, seed=5)
    res = paired_permutation(a, b, rng=5, n_generic=99)
    assert np.allclose(res.null, null, rtol=0, atol=TOL) and res.pvalue == p and res.pvalue < 0.05
    _, _, place = stack_pair(a, b)
    assert sorted(place.tolist()) == list(range(120))


def test_bad_subsets_are_refused() -> None:
    from domainteb.core.errors import DomainTebError

    sub = {"statistic": "mean", "ids": [0, 1], "values": [0.1, 0.2]}
    a, b = combine_subsets({"x": sub, "y": sub}), combine_subsets({"x": sub, "z": sub})
    b["ids"] = a["ids"]
    with pytest.raises(DomainTebError, match="hf_subsets"):
        paired_permutation(a, b, n_generic=9)


def test_subset_mean_batch_equals_row_by_row() -> None:
    rng = np.random.default_rng(0)
    items = combine_subsets({"x": {"statistic": "spearman", "ids": list(range(8)), "gold": rng.random(8).tolist(), "pred": rng.random(8).tolist()},
                             "y": {"statistic": "mean", "ids": list(range(5)), "values": rng.random(5).tolist()}})
    index = rng.integers(0, 13, size=(40, 13))
    index[0, :] = 9  # draws only from subset y
    rows = resample_statistics(items, index)
    for r, idx in enumerate(index):
        parts = []
        for lo, hi, sub in ((0, 8, items["subsets"][0]["items"]), (8, 13, items["subsets"][1]["items"])):
            local = idx[(idx >= lo) & (idx < hi)] - lo
            if local.size:
                parts.append(resample_statistics(sub, local[None])[0])
        assert rows[r] == pytest.approx(np.mean(parts), abs=TOL, nan_ok=True)


# ---------------------------------------------------------------- the report's numbers, pinned


def fixture_items() -> dict[str, tuple[dict, dict]]:
    """Seeded items of the generic statistics (the same draws as when the values below were recorded)."""
    rng = np.random.default_rng(5)
    n = 80
    ids = [f"i{k}" for k in range(n)]
    lab = rng.integers(0, 2, n)

    def pair(noise: float) -> dict:
        s = lab + rng.normal(0, noise, n)
        return {"statistic": "pair", "ids": ids, "labels": lab.tolist(), "metric": "ap",
                "scores": {"cosine": np.round(s, 1).tolist(), "dot": (s * 2).tolist()}}

    out = {"pair_ap": (pair(0.5), pair(1.0))}
    for m in ("accuracy", "f1", "precision", "recall"):
        a, b = pair(0.5), pair(1.0)
        a["metric"] = b["metric"] = m
        out[f"pair_{m}"] = (a, b)
    gold = rng.integers(0, 4, n)

    def bitext(p: float) -> dict:
        pred = np.where(rng.random(n) < p, gold, rng.integers(0, 6, n))
        return {"statistic": "bitext", "ids": ids, "gold": gold.tolist(), "pred": pred.tolist(), "metric": "f1"}

    out["bitext"] = (bitext(0.8), bitext(0.5))

    def clf(p: float, metric: str) -> dict:
        preds = [np.where(rng.random(n) < p, gold, rng.integers(0, 4, n)).tolist() for _ in range(3)]
        return {"statistic": "classification", "ids": ids, "gold": gold.tolist(), "preds": preds, "metric": metric}

    for m in ("f1", "f1_weighted", "precision", "recall_weighted", "accuracy"):
        out[f"clf_{m}"] = (clf(0.8, m), clf(0.6, m))
    labels = [f"c{k % 4}" for k in range(n)]

    def vm(p: float) -> dict:
        runs = [[k % 4 if rng.random() < p else int(rng.integers(0, 5)) for k in range(n)] for _ in range(3)]
        return {"statistic": "v_measure", "ids": ids, "labels": labels, "clusters": runs}

    out["v_measure"] = (vm(0.8), vm(0.5))
    g = rng.uniform(0, 5, n)
    out["spearman"] = ({"statistic": "spearman", "ids": ids, "gold": g.tolist(), "pred": (g + rng.normal(0, 1, n)).tolist()},
                       {"statistic": "spearman", "ids": ids, "gold": g.tolist(), "pred": (g + rng.normal(0, 2, n)).tolist()})
    return out


#: (difference, CI low, CI high, permutation p) from the per-resample scikit-learn code (commit
#: before the vectorisation), paired_bootstrap(n_boot=500, seed=1), paired_permutation(rng=2,
#: n_resamples=999, n_generic=199)
PINNED = {
    "pair_ap": (0.12792484126458847, 0.012994306475002543, 0.24846019930975796, 0.1),
    "pair_f1": (0.16212832550860734, 0.028441289172187113, 0.25547414784373723, 0.05),
    "bitext": (0.15713990254185028, 0.04468057403148397, 0.28894927442040413, 0.04),
    "clf_f1": (0.11070723440452335, 0.04387101882950091, 0.17978765245481823, 0.01),
    "v_measure": (0.3708075933750748, 0.2568423528021251, 0.4397680561052875, 0.01),
    "spearman": (0.11915142991092365, 0.008981957014568274, 0.2314546439613631, 0.07),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_report_numbers_unchanged_by_the_vectorisation(name: str) -> None:
    a, b = fixture_items()[name]
    diff, lo, hi, p = PINNED[name]
    boot = paired_bootstrap(a, b, n_boot=500, seed=1)
    perm = paired_permutation(a, b, n_resamples=999, rng=2, n_generic=199)
    assert abs(boot.diff - diff) <= TOL and abs(boot.lo - lo) <= TOL and abs(boot.hi - hi) <= TOL
    assert perm.pvalue == p and abs(perm.observed - diff) <= TOL
    assert abs(full_statistic(a) - full_statistic(b) - diff) <= TOL
