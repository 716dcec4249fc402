"""The report's statistics against hand-computed cases: Holm and BH, the bootstrap p-value,
the paired permutation test, the hierarchical bootstrap, NaN replicates, replicate-count choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from results_factory import write_score

from domainteb.eval.report import build_report
from domainteb.eval.report.bootstrap import PairedDiff, paired_bootstrap
from domainteb.eval.report.stats import (
    average_permutation,
    bh_qvalues,
    bootstrap_pvalue,
    bound_mc_halfwidth,
    hierarchical_diff,
    holm_adjust,
    paired_permutation,
    two_sided_null_pvalue,
)


def mean_items(values, ids=None) -> dict:  # type: ignore[no-untyped-def]
    return {"statistic": "mean", "ids": ids or [f"q{i}" for i in range(len(values))], "values": [float(v) for v in values]}


def test_holm_and_bh_hand_computed() -> None:
    """p = (0.01, 0.04, 0.03), m = 3. Holm: sorted 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06) = 0.06.
    BH: 0.04·3/3 = 0.04, min(0.03·3/2, 0.04) = 0.04, min(0.01·3/1, 0.04) = 0.03."""
    p = [0.01, 0.04, 0.03]
    assert holm_adjust(p) == pytest.approx([0.03, 0.06, 0.06])
    assert bh_qvalues(p) == pytest.approx([0.03, 0.04, 0.04])
    uncorrected = [x < 0.05 for x in p]
    holm = [x < 0.05 for x in holm_adjust(p)]
    assert uncorrected == [True, True, True] and holm == [True, False, False]  # Holm withdraws two flags


def test_bootstrap_pvalue_hand_computed() -> None:
    # 4 replicates: 1 at or below 0, 3 at or above 0 → 2·min((1+1)/5, (1+3)/5) = 0.8
    assert bootstrap_pvalue(np.array([-1.0, 1.0, 2.0, 3.0])) == pytest.approx(0.8)
    # all 999 replicates above 0 → 2·(0+1)/1000
    assert bootstrap_pvalue(np.full(999, 0.3)) == pytest.approx(0.002)
    assert bootstrap_pvalue(np.zeros(50)) == 1.0  # identical models
    assert bootstrap_pvalue(np.array([np.nan, np.nan])) is None


def test_exact_paired_permutation_hand_computed() -> None:
    """Differences (1, 2, 3): the 2³ = 8 sign flips give means ±6/3, ±4/3, ±2/3, 0, 0; the observed
    6/3 is reached once from above (and once from below): two-sided p = 2·1/8 = 0.25."""
    res = paired_permutation(mean_items([1.0, 2.0, 3.0]), mean_items([0.0, 0.0, 0.0]), n_resamples=9999, rng=0)
    assert res.exact and res.null.size == 8
    assert res.observed == pytest.approx(2.0)
    assert sorted(np.round(3 * res.null).astype(int).tolist()) == [-6, -4, -2, 0, 0, 2, 4, 6]
    assert res.pvalue == pytest.approx(0.25)


def test_permutation_on_other_statistics_swaps_the_per_item_data() -> None:
    """Spearman items: swapping every item's predictions flips the difference's sign; a model
    against itself always gives 0 (p = 1)."""
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, 40)
    ids = [f"p{i}" for i in range(40)]
    good = {"statistic": "spearman", "ids": ids, "gold": gold.tolist(), "pred": (gold + rng.normal(0, 0.3, 40)).tolist()}
    poor = {"statistic": "spearman", "ids": ids, "gold": gold.tolist(), "pred": rng.uniform(0, 1, 40).tolist()}
    res = paired_permutation(good, poor, rng=1, n_resamples=199)  # vectorised: swaps the predictions
    assert res.null.size == 199 and res.pvalue == pytest.approx(1 / 200 * 2)  # nothing in the null is as extreme
    same = paired_permutation(good, good, rng=1, n_resamples=99)
    assert same.observed == 0.0 and same.pvalue == 1.0
    # classification items (per-experiment prediction rows): swapped rows, recomputed statistic
    gold = rng.integers(0, 3, 60).tolist()
    right = {"statistic": "classification", "ids": list(range(60)), "gold": gold, "metric": "accuracy",
             "preds": [list(gold), [g if i % 5 else (g + 1) % 3 for i, g in enumerate(gold)]]}
    wrong = {**right, "preds": [rng.integers(0, 3, 60).tolist(), rng.integers(0, 3, 60).tolist()]}
    res = paired_permutation(right, wrong, rng=0, n_generic=99)
    assert res.null.size == 99 and res.pvalue == pytest.approx(2 / 100)
    assert paired_permutation(right, right, rng=0, n_generic=49).pvalue == 1.0


def test_two_sided_null_pvalue_and_average_permutation() -> None:
    null = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    # observed 2: 1 value ≥ 2, 5 values ≤ 2 → 2·(1+1)/6
    assert two_sided_null_pvalue(null, 2.0) == pytest.approx(2 / 3)
    a = paired_permutation(mean_items([1.0, 2.0, 3.0]), mean_items([0.0] * 3), rng=0)
    p = average_permutation([a, a], np.random.default_rng(0), n_resamples=5000)
    assert 0.0 < p < 0.25  # two independent tasks with the same evidence: stronger than one


def test_hierarchical_bootstrap_hand_computed() -> None:
    """Two tasks whose item-level replicates are constant (0.1 and 0.3): the stratified average
    is always 0.2, the hierarchical one draws AA, AB/BA or BB → 0.1, 0.2, 0.3 with probability
    ¼, ½, ¼, so its 95 % interval is [0.1, 0.3]."""
    parts = [PairedDiff(diff=v, lo=v, hi=v, n_items=10, replicates=np.full(4000, v)) for v in (0.1, 0.3)]
    hier = hierarchical_diff(parts, 4000, np.random.default_rng(0))
    assert hier.diff == pytest.approx(0.2)
    assert (hier.lo, hier.hi) == pytest.approx((0.1, 0.3))
    values, counts = np.unique(np.round(hier.replicates, 6), return_counts=True)
    assert values.tolist() == [0.1, 0.2, 0.3]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.03)


def test_nan_replicates_are_counted() -> None:
    """Spearman on 3 items: a resample whose predictions are constant is undefined (NaN). For
    pred (1, 1, 2) that happens when only items 0/1 are drawn (2³ = 8 of 27 draws) or only item 2
    (1 of 27): 1/3 of the replicates; the other model (pred 1, 2, 3) adds nothing new."""
    ids = ["a", "b", "c"]
    a = {"statistic": "spearman", "ids": ids, "gold": [1.0, 2.0, 3.0], "pred": [1.0, 1.0, 2.0]}
    b = {"statistic": "spearman", "ids": ids, "gold": [1.0, 2.0, 3.0], "pred": [1.0, 2.0, 3.0]}
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = paired_bootstrap(a, b, n_boot=3000, seed=0)
    assert res.n_nan / 3000 == pytest.approx(1 / 3, abs=0.03)


def test_mc_halfwidth_matches_the_asymptotic_quantile_error() -> None:
    """For N(0, 1) replicates the 2.5 % quantile's Monte-Carlo standard error is
    sqrt(q(1 − q)/n) / φ(Φ⁻¹(q)); the order-statistic half-width is about 1.96 of them."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    q = 0.025
    for n in (2000, 32000):
        expected = 1.96 * np.sqrt(q * (1 - q) / n) / norm.pdf(norm.ppf(q))
        got = np.mean([bound_mc_halfwidth(rng.normal(0, 1, n), q) for _ in range(8)])
        assert got == pytest.approx(expected, rel=0.25)


def _marginal_results(root: Path) -> Path:
    """Three tasks, each with a marginal gain (z ≈ 2.2 → p ≈ 0.03) of the adapted model."""
    for k, task in enumerate(["TaskA", "TaskB", "TaskC"]):
        rng = np.random.default_rng(10 + k)
        base = rng.uniform(0.2, 0.6, 200)
        noise = rng.normal(0, 1, 200)
        noise = (noise - noise.mean()) / noise.std()
        delta = 0.05 * noise + 2.2 * 0.05 / np.sqrt(200)
        write_score(root, "base", task, list(base))
        write_score(root, "adapted", task, list(base + delta))
    return root


def test_report_where_uncorrected_flags_and_holm_does_not(tmp_path: Path) -> None:
    root = _marginal_results(tmp_path / "results")
    rep = build_report(root, "adapted", ["base"], None, tmp_path / "out", n_boot=4000, n_perm=1999, seed=0)
    tasks = rep.data.tasks
    assert all(r.significant for r in tasks)  # each CI excludes 0 …
    assert not any(r.significant_holm for r in tasks)  # … but none survives Holm over 5 comparisons
    domain = next(g for g in rep.data.groups if g.group == "domain")
    assert domain.significant_holm and domain.hier_ci_low is not None
    assert rep.data.n_comparisons == 5 and rep.data.correction == "holm"
    pvalues = [r.p_value for r in [*tasks, *rep.data.groups]]
    assert [r.p_holm for r in [*tasks, *rep.data.groups]] == pytest.approx(holm_adjust(pvalues).tolist())
    for r in tasks:
        assert r.p_perm is not None and r.tests_disagree == (r.significant != (r.p_perm < 0.05))
        assert r.n_nan == 0
    md = rep.files["md"].read_text()
    assert "Multiple comparisons: Holm" in md and "hierarchical 95% CI" in md and "stratified 95% CI" in md


def test_auto_replicates_make_ci_bounds_stable_to_a_tenth_of_a_point(results_dir: Path, tmp_path: Path) -> None:
    """n_boot=auto, run twice with different seeds: every reported bound agrees within 0.1 points."""
    runs = [
        build_report(results_dir, "ft-minilm", ["bm25", "minilm-l6"], "finance", tmp_path / f"o{s}", seed=s, n_perm=199).data
        for s in (1, 2)
    ]
    for data in runs:
        assert data.n_boot_mode == "auto" and data.n_boot >= 2000
        assert data.ci_bound_precision is not None and data.ci_bound_precision <= data.ci_bound_target
    first, second = runs
    for r1, r2 in zip([*first.tasks, *first.groups], [*second.tasks, *second.groups]):
        for key in ("ci_low", "ci_high", "hier_ci_low", "hier_ci_high"):
            v1, v2 = getattr(r1, key, None), getattr(r2, key, None)
            if v1 is not None:
                assert abs(v1 - v2) < 0.001, (key, r1, r2)


def test_vectorised_correlations_equal_scipy() -> None:
    """The bootstrap's row-wise Spearman/Pearson equal scipy's on every resample (ties from
    repeated items included) and are NaN where scipy's are undefined."""
    import warnings

    from scipy.stats import pearsonr, spearmanr

    from domainteb.eval.items import resample_statistics as vector_statistic

    rng = np.random.default_rng(3)
    items = {"statistic": "spearman", "ids": list(range(30)), "gold": rng.integers(0, 5, 30).astype(float).tolist(),
             "pred": rng.normal(0, 1, 30).tolist()}
    index = rng.integers(0, 30, size=(50, 30))
    index[0] = 4  # a constant resample
    fast = vector_statistic(items, index)
    gold, pred = np.array(items["gold"]), np.array(items["pred"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = np.array([spearmanr(gold[i], pred[i])[0] for i in index])
        slow_p = np.array([pearsonr(gold[i], pred[i])[0] if np.ptp(gold[i]) and np.ptp(pred[i]) else np.nan for i in index])
    assert np.isnan(fast[0]) and np.isnan(slow[0])
    assert np.allclose(fast[1:], slow[1:], atol=1e-12)
    fast_p = vector_statistic({**items, "statistic": "pearson"}, index)
    assert np.allclose(fast_p[1:], slow_p[1:], atol=1e-12) and np.isnan(fast_p[0])


def test_clustering_items_resample_documents() -> None:
    """V-measure items: per-document labels and each k-means run's assignment. The vectorised
    resample equals sklearn's v_measure_score on every resample, and the paired bootstrap of a
    perfect clustering against a random one excludes 0."""
    from sklearn.metrics.cluster import v_measure_score

    from domainteb.eval.items import full_statistic
    from domainteb.eval.items import resample_statistics as vector_statistic

    rng = np.random.default_rng(0)
    labels = [f"c{i % 4}" for i in range(120)]
    good_runs = [[i % 4 if rng.random() > 0.1 else int(rng.integers(0, 4)) for i in range(120)] for _ in range(3)]
    poor_runs = [rng.integers(0, 4, 120).tolist() for _ in range(3)]
    ids = [str(i) for i in range(120)]
    good = {"statistic": "v_measure", "ids": ids, "labels": labels, "clusters": good_runs}
    poor = {"statistic": "v_measure", "ids": ids, "labels": labels, "clusters": poor_runs}
    index = rng.integers(0, 120, size=(40, 120))
    fast = vector_statistic(good, index)
    slow = [np.mean([v_measure_score(np.array(labels)[i], np.array(r)[i]) for r in good_runs]) for i in index]
    assert np.allclose(fast, slow, atol=1e-12)
    assert full_statistic(good) == pytest.approx(np.mean([v_measure_score(labels, r) for r in good_runs]))
    res = paired_bootstrap(good, poor, n_boot=500, seed=0)
    assert res.significant and res.n_nan == 0 and res.n_items == 120
