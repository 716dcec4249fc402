"""Paired bootstrap CIs: known cases, id alignment, the multi-task average."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainteb.core.errors import DomainTebError
from domainteb.eval.report.bootstrap import align, average_diff, paired_bootstrap


def mean_items(values, ids=None) -> dict:  # type: ignore[no-untyped-def]
    return {"statistic": "mean", "ids": ids or [f"q{i}" for i in range(len(values))], "values": [float(v) for v in values]}


def test_a_beats_b_on_every_item_ci_excludes_zero() -> None:
    rng = np.random.default_rng(0)
    b = rng.uniform(0.1, 0.8, 40)
    a = b + rng.uniform(0.01, 0.1, 40)  # better on every single query
    res = paired_bootstrap(mean_items(a), mean_items(b), n_boot=1000, seed=0)
    assert res.diff == pytest.approx(float(np.mean(a - b)))
    assert 0 < res.lo <= res.diff <= res.hi
    assert res.significant
    assert res.n_items == 40


def test_identical_models_ci_is_zero_and_not_significant() -> None:
    v = np.random.default_rng(1).uniform(0, 1, 50)
    res = paired_bootstrap(mean_items(v), mean_items(v), n_boot=500, seed=3)
    assert res.diff == 0.0 and res.lo == 0.0 and res.hi == 0.0
    assert not res.significant


def test_exchangeable_noise_ci_covers_zero() -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 1, 200)
    a, b = base + rng.normal(0, 0.05, 200), base + rng.normal(0, 0.05, 200)
    res = paired_bootstrap(mean_items(a), mean_items(b), n_boot=1000, seed=0)
    assert res.lo < 0 < res.hi


def test_pairing_is_what_makes_a_small_consistent_gain_significant() -> None:
    """Same queries resampled for both models: a +0.01 gain on every query of very unequal
    difficulty is significant, which an unpaired comparison of the two means would not find."""
    rng = np.random.default_rng(5)
    b = rng.uniform(0, 1, 100)
    res = paired_bootstrap(mean_items(b + 0.01), mean_items(b), n_boot=1000, seed=0)
    assert res.significant
    assert res.hi - res.lo < 1e-9  # the difference is the same on every resample


def test_alignment_by_ids_ignores_order() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, 30)
    b = rng.uniform(0, 1, 30)
    ids = [f"q{i}" for i in range(30)]
    perm = rng.permutation(30)
    shuffled_b = mean_items(b[perm], [ids[k] for k in perm])
    res_sorted = paired_bootstrap(mean_items(a, ids), mean_items(b, ids), n_boot=300, seed=7)
    res_shuffled = paired_bootstrap(mean_items(a, ids), shuffled_b, n_boot=300, seed=7)
    assert res_shuffled.diff == pytest.approx(res_sorted.diff)
    assert (res_shuffled.lo, res_shuffled.hi) == pytest.approx((res_sorted.lo, res_sorted.hi))


def test_alignment_keeps_only_common_ids() -> None:
    a = mean_items([1.0, 0.5, 0.0], ["x", "y", "z"])
    b = mean_items([0.25, 0.75, 0.9], ["y", "w", "x"])
    a2, b2, dropped = align(a, b)
    assert a2["ids"] == ["x", "y"] and b2["ids"] == ["x", "y"]
    assert a2["values"] == [1.0, 0.5] and b2["values"] == [0.9, 0.25]
    assert dropped == 2
    assert paired_bootstrap(a, b, n_boot=100).n_items == 2


def test_disjoint_ids_and_mismatched_statistics_are_errors() -> None:
    with pytest.raises(DomainTebError, match="share no item ids"):
        paired_bootstrap(mean_items([1.0], ["a"]), mean_items([1.0], ["b"]), n_boot=10)
    other = {"statistic": "spearman", "ids": ["a"], "pred": [1.0], "gold": [1.0]}
    with pytest.raises(DomainTebError, match="statistics differ"):
        paired_bootstrap(mean_items([1.0], ["a"]), other, n_boot=10)


def test_average_resamples_each_task_and_averages() -> None:
    rng = np.random.default_rng(4)
    parts = []
    for n in (20, 50):
        b = rng.uniform(0, 1, n)
        parts.append(paired_bootstrap(mean_items(b + rng.normal(0.05, 0.02, n)), mean_items(b), n_boot=400, seed=rng))
    avg = average_diff(parts)
    assert avg.diff == pytest.approx(np.mean([p.diff for p in parts]))
    assert np.allclose(avg.replicates, (parts[0].replicates + parts[1].replicates) / 2)
    assert avg.lo <= avg.diff <= avg.hi and avg.significant


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=30), st.floats(-0.5, 0.5))
def test_constant_shift_gives_a_degenerate_ci_at_the_shift(values: list[float], shift: float) -> None:
    res = paired_bootstrap(mean_items([v + shift for v in values]), mean_items(values), n_boot=50, seed=0)
    assert res.lo == pytest.approx(shift, abs=1e-9) and res.hi == pytest.approx(shift, abs=1e-9)


def test_spearman_items_use_the_evaluators_statistic() -> None:
    """Non-"mean" statistics are recomputed by domainteb.eval.items on each paired resample."""
    from domainteb.eval.items import full_statistic

    rng = np.random.default_rng(6)
    gold = rng.uniform(0, 5, 80)
    ids = [f"p{i}" for i in range(80)]
    good = {"statistic": "spearman", "ids": ids, "gold": gold.tolist(), "pred": (gold + rng.normal(0, 0.5, 80)).tolist()}
    poor = {"statistic": "spearman", "ids": ids, "gold": gold.tolist(), "pred": rng.uniform(0, 1, 80).tolist()}
    res = paired_bootstrap(good, poor, n_boot=200, seed=0)
    assert res.diff == pytest.approx(full_statistic(good) - full_statistic(poor))
    assert res.significant and res.lo > 0.5


def test_alignment_subsets_nested_per_item_data() -> None:
    """Pair-classification items keep per-family score lists in a mapping; classification
    items keep per-experiment prediction rows: both are restricted to the common ids."""
    pair_a = {"statistic": "pair", "ids": ["a", "b", "c"], "labels": [1, 0, 1], "metric": "ap",
              "scores": {"cosine": [0.9, 0.2, 0.8], "dot": [0.7, 0.1, 0.6]}}
    pair_b = {"statistic": "pair", "ids": ["c", "a"], "labels": [1, 1], "metric": "ap",
              "scores": {"cosine": [0.3, 0.4], "dot": [0.5, 0.6]}}
    a2, b2, dropped = align(pair_a, pair_b)
    assert dropped == 1 and a2["ids"] == ["a", "c"] == b2["ids"]
    assert a2["scores"] == {"cosine": [0.9, 0.8], "dot": [0.7, 0.6]}
    assert b2["scores"] == {"cosine": [0.4, 0.3], "dot": [0.6, 0.5]}
    assert a2["metric"] == "ap" and b2["labels"] == [1, 1]
    cls = {"statistic": "classification", "ids": ["x", "y", "z"], "gold": [0, 1, 1], "metric": "f1",
           "preds": [[0, 1, 0], [1, 1, 1]]}
    other = {"statistic": "classification", "ids": ["z", "x"], "gold": [1, 0], "metric": "f1", "preds": [[1, 0], [1, 1]]}
    c2, o2, _ = align(cls, other)
    assert c2["preds"] == [[0, 0], [1, 1]] and c2["gold"] == [0, 1]
    assert o2["preds"] == [[0, 1], [1, 1]] and o2["gold"] == [0, 1]
