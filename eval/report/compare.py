"""Adapted-vs-baseline comparisons: per task, per task type and per domain average, with
paired bootstrap CIs, plus the complexity profile of each task next to its gain.

The numbers are pydantic records (:class:`ReportData`) because they are written to
``report.json``; scores stay on the result files' scale (mteb's 0–1) and are shown ×100.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.errors import DomainTebError
from domainteb.eval.report.bootstrap import PairedDiff, average_diff, extend, paired_bootstrap, validate_items
from domainteb.eval.report.stats import (
    CORRECTION,
    CORRECTION_TEXT,
    PermutationResult,
    average_permutation,
    bh_qvalues,
    bootstrap_pvalue,
    ci_mc_halfwidth,
    hierarchical_diff,
    holm_adjust,
    paired_permutation,
)
from domainteb.eval.report.collect import ResultSet

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskRow(_Record):
    """Adapted vs one baseline on one task; blanks (None) where a score or CI is missing."""

    task_name: str
    task_type: str | None
    domain: str | None
    baseline: str
    adapted_score: float | None
    baseline_score: float | None
    gain: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    #: uncorrected: the paired bootstrap CI excludes 0
    significant: bool | None = None
    n_items: int | None = None
    #: two-sided paired-bootstrap p-value, its Holm adjustment over the report, BH q-value
    p_value: float | None = None
    p_holm: float | None = None
    q_value: float | None = None
    significant_holm: bool | None = None
    #: paired randomization (permutation) test
    p_perm: float | None = None
    #: bootstrap CI and permutation test disagree on significance at the report's level
    tests_disagree: bool | None = None
    n_nan: int | None = None
    n_replicates: int | None = None
    note: str = ""
    profile: dict[str, Any] = Field(default_factory=dict)


class GroupRow(_Record):
    """Adapted vs one baseline averaged over a group of tasks (a domain or a task type)."""

    group: str  # "domain" | "type"
    name: str
    baseline: str
    n_tasks: int
    adapted_score: float | None
    baseline_score: float | None
    gain: float | None
    #: stratified bootstrap (items resampled within each task, the task set fixed)
    ci_low: float | None = None
    ci_high: float | None = None
    significant: bool | None = None
    #: hierarchical bootstrap (tasks resampled, then items within each drawn task)
    hier_ci_low: float | None = None
    hier_ci_high: float | None = None
    hier_significant: bool | None = None
    p_value: float | None = None
    p_holm: float | None = None
    q_value: float | None = None
    significant_holm: bool | None = None
    p_perm: float | None = None
    tests_disagree: bool | None = None
    n_nan: int | None = None
    note: str = ""


class ModelSummary(_Record):
    model: str
    n_parameters: int | None = None
    embed_dim: int | None = None
    labels: list[str] = Field(default_factory=list)
    sparsity: float | None = None
    #: mean main score per domain over the tasks that model has
    domain_scores: dict[str, float] = Field(default_factory=dict)
    n_tasks: int = 0


class ReportData(_Record):
    schema_version: int = SCHEMA_VERSION
    results_dir: str
    adapted: str
    baselines: list[str]
    domain: str | None
    #: replicates per bootstrap (chosen automatically when ``n_boot_mode`` is "auto")
    n_boot: int
    n_boot_mode: str = "fixed"
    #: largest Monte-Carlo half-width (95 %) of any reported CI bound, and the target
    ci_bound_precision: float | None = None
    ci_bound_target: float = 0.0005
    n_perm: int = 9999
    correction: str = CORRECTION
    correction_text: str = CORRECTION_TEXT
    n_comparisons: int = 0
    seed: int
    level: float = 0.95
    tasks: list[TaskRow]
    groups: list[GroupRow]
    models: list[ModelSummary]
    warnings: list[str] = Field(default_factory=list)


def model_sparsity(info: dict[str, Any]) -> float | None:
    """Pruning sparsity from model info (``sparsity`` key or a ``sparsity=0.5`` label)."""
    value = info.get("sparsity")
    if value is None:
        for label in info.get("labels") or []:
            key, sep, rest = str(label).replace(":", "=").partition("=")
            if sep and key.strip().lower() == "sparsity":
                value = rest
                break
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f / 100.0 if f > 1.0 else f


def _resolve_model(results: ResultSet, name: str, what: str) -> str:
    if name in results.models:
        return name
    matches = [m for m in results.models if results.model_info(m).get("name") == name or m.startswith(f"{name} (")]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DomainTebError(f"{what}={name!r} is ambiguous in {results.root}: {', '.join(matches)}; pass one of these names")
    raise DomainTebError(f"{what}={name!r} has no results in {results.root}; models found: {', '.join(results.models)}")


@dataclass
class _Pair:
    """One (baseline, task) comparison while the report is computed."""

    row: TaskRow
    items_a: dict[str, Any] | None = None
    items_b: dict[str, Any] | None = None
    boot: PairedDiff | None = None
    perm: PermutationResult | None = None


def _pair(results: ResultSet, adapted: str, baseline: str, task: str, n_boot: int, rng: np.random.Generator, level: float) -> _Pair:
    a = results.score(adapted, task)
    b = results.score(baseline, task)
    ref = a or b
    assert ref is not None
    row = TaskRow(
        task_name=task,
        task_type=ref.task_type,
        domain=ref.domain,
        baseline=baseline,
        adapted_score=a.main_score if a else None,
        baseline_score=b.main_score if b else None,
        gain=(a.main_score - b.main_score) if a and b and a.main_score is not None and b.main_score is not None else None,
    )
    if row.gain is None:
        row.note = "missing result" if not (a and b) else "missing score"
        return _Pair(row)
    if not (a.items and b.items):  # type: ignore[union-attr]
        row.note = "no per-item data (no CI)"
        return _Pair(row)
    try:
        items_a = validate_items(a.items, str(a.path))  # type: ignore[union-attr]
        items_b = validate_items(b.items, str(b.path))  # type: ignore[union-attr]
        boot = paired_bootstrap(items_a, items_b, n_boot=n_boot, seed=rng, level=level)
    except DomainTebError as exc:
        log.warning("%s vs %s on %s: no CI (%s)", adapted, baseline, task, exc)
        row.note = f"no CI: {exc}"
        return _Pair(row)
    if items_a["statistic"] == "v_measure":  # clustering: mteb's score averages k-means runs on bootstrap samples
        row.note = "CI: V-measure of the fixed k-means fits, documents resampled"
    elif abs(boot.diff - row.gain) > 1e-3:
        log.warning(
            "%s: per-item statistic difference %.4f differs from the main-score gain %.4f; CI uses the items",
            task, boot.diff, row.gain,
        )
    row.n_items = boot.n_items
    return _Pair(row, items_a, items_b, boot)


def _finish_task(pair: _Pair, level: float) -> None:
    boot, row = pair.boot, pair.row
    if boot is None:
        return
    row.ci_low, row.ci_high = boot.lo, boot.hi
    row.significant = boot.significant if np.isfinite(boot.lo) else None
    row.p_value = bootstrap_pvalue(boot.replicates)
    row.n_nan = boot.n_nan
    row.n_replicates = int(boot.replicates.size)
    if boot.n_nan:
        row.note = "; ".join(x for x in (row.note, f"{boot.n_nan} of {boot.replicates.size} replicates undefined (NaN), left out of the CI") if x)


@dataclass
class _Group:
    row: GroupRow
    members: list[_Pair]
    avg_replicates: np.ndarray | None = None
    hier_replicates: np.ndarray | None = None


def _group(group: str, name: str, baseline: str, members: list[_Pair]) -> _Group:
    rows = [m.row for m in members]
    paired = [m for m in members if m.row.gain is not None]
    out = GroupRow(
        group=group,
        name=name,
        baseline=baseline,
        n_tasks=len(paired),
        adapted_score=float(np.mean([m.row.adapted_score for m in paired])) if paired else None,
        baseline_score=float(np.mean([m.row.baseline_score for m in paired])) if paired else None,
        gain=float(np.mean([m.row.gain for m in paired])) if paired else None,
    )
    missing = len(rows) - len(paired)
    notes = [f"{missing} task(s) without both scores left out"] if missing else []
    if paired and not all(m.boot is not None for m in paired):
        notes.append("no CI: some tasks lack per-item data")
    elif len(paired) == 1:
        notes.append("one task: hierarchical = stratified")
    out.note = "; ".join(notes)
    return _Group(out, paired)


def _has_ci(g: _Group) -> bool:
    return bool(g.members) and all(m.boot is not None for m in g.members)


def _finish_group(g: _Group, n_boot: int, rng: np.random.Generator, level: float) -> None:
    if not _has_ci(g):
        return
    boots = [m.boot for m in g.members]
    avg = average_diff(boots, level)  # type: ignore[arg-type]
    hier = hierarchical_diff(boots, n_boot, rng, level)  # type: ignore[arg-type]
    row = g.row
    row.ci_low, row.ci_high = avg.lo, avg.hi
    row.significant = avg.significant if np.isfinite(avg.lo) else None
    row.hier_ci_low, row.hier_ci_high = hier.lo, hier.hi
    row.hier_significant = hier.significant if np.isfinite(hier.lo) else None
    row.p_value = bootstrap_pvalue(avg.replicates)
    row.n_nan = avg.n_nan
    g.hier_replicates, g.avg_replicates = hier.replicates, avg.replicates


def _precision(pairs: list[_Pair], groups: list[_Group], level: float) -> float:
    """Largest Monte-Carlo half-width of any reported CI bound (0 when there is none)."""
    widths = [ci_mc_halfwidth(p.boot.replicates, level) for p in pairs if p.boot is not None]
    for g in groups:
        for reps in (g.avg_replicates, g.hier_replicates):
            if reps is not None:
                widths.append(ci_mc_halfwidth(reps, level))
    finite = [w for w in widths if np.isfinite(w)]
    return float(max(finite)) if finite else 0.0


def _imprecise(pairs: list[_Pair], groups: list[_Group], level: float, target: float) -> list[_Pair]:
    """The pairs whose replicates must grow: those whose own CI bounds are not yet precise to ``target``,
    and the members of every group whose average or hierarchical CI bounds are not."""
    need = {id(p) for p in pairs if p.boot is not None and ci_mc_halfwidth(p.boot.replicates, level) > target}
    for g in groups:
        widths = [ci_mc_halfwidth(r, level) for r in (g.avg_replicates, g.hier_replicates) if r is not None]
        if any(np.isfinite(w) and w > target for w in widths):
            need.update(id(m) for m in g.members)
    return [p for p in pairs if p.boot is not None and id(p) in need]


def _permutation_tests(pairs: list[_Pair], groups: list[_Group], n_perm: int, rng: np.random.Generator, alpha: float) -> None:
    for p in pairs:
        if p.boot is None:
            continue
        p.perm = paired_permutation(p.items_a, p.items_b, n_resamples=n_perm, rng=rng, n_generic=min(n_perm, 999))  # type: ignore[arg-type]
        p.row.p_perm = p.perm.pvalue
        if p.row.significant is not None and np.isfinite(p.perm.pvalue):
            p.row.tests_disagree = bool(p.row.significant != (p.perm.pvalue < alpha))
    for g in groups:
        if _has_ci(g) and all(m.perm is not None for m in g.members):
            g.row.p_perm = average_permutation([m.perm for m in g.members], rng, n_perm)  # type: ignore[misc]
            if g.row.significant is not None and np.isfinite(g.row.p_perm):
                g.row.tests_disagree = bool(g.row.significant != (g.row.p_perm < alpha))


def _correct(rows: list[TaskRow | GroupRow], alpha: float) -> int:
    """Holm and BH over every comparison that has a p-value; returns their number."""
    tested = [r for r in rows if r.p_value is not None]
    if not tested:
        return 0
    pvalues = [r.p_value for r in tested]
    for r, holm, q in zip(tested, holm_adjust(pvalues), bh_qvalues(pvalues)):  # type: ignore[arg-type]
        r.p_holm, r.q_value = float(holm), float(q)
        r.significant_holm = bool(holm < alpha)
    return len(tested)


def _model_summaries(results: ResultSet, models: list[str], domain: str | None) -> list[ModelSummary]:
    out = []
    for model in models:
        info = results.model_info(model)
        per_domain: dict[str, list[float]] = defaultdict(list)
        for rec in results.for_domain(domain):
            if rec.model == model and rec.main_score is not None:
                per_domain[rec.domain or "unknown"].append(rec.main_score)
        out.append(
            ModelSummary(
                model=model,
                n_parameters=info.get("n_parameters"),
                embed_dim=info.get("embed_dim") if isinstance(info.get("embed_dim"), int) else None,
                labels=[str(x) for x in info.get("labels") or []],
                sparsity=model_sparsity(info),
                domain_scores={d: float(np.mean(v)) for d, v in sorted(per_domain.items())},
                n_tasks=sum(len(v) for v in per_domain.values()),
            )
        )
    return out


#: the automatic replicate count starts here and doubles until every CI bound is precise enough.
AUTO_START = 2000
#: the most replicates for a comparison whose statistic costs about one pass over the items per
#: resample (cost ∝ replicates × items, and the replicates needed fall as 1/items, so this stays
#: cheap), and for the others (every statistic is vectorised over resamples, but these cost a
#: few passes: a contingency table per k-means run, a threshold sweep per score family, per-class counts)
AUTO_MAX = 1_024_000
AUTO_MAX_GENERIC = 16_000
#: the statistics that get :data:`AUTO_MAX`
CHEAP = ("mean", "spearman", "pearson")


def compare(
    results: ResultSet,
    adapted: str,
    baselines: list[str] | None = None,
    domain: str | None = None,
    *,
    n_boot: int | str = "auto",
    seed: int = 0,
    level: float = 0.95,
    n_perm: int = 9999,
    ci_bound_target: float = 0.0005,
    profiles: dict[str, dict[str, Any]] | None = None,
) -> ReportData:
    """All comparisons of ``adapted`` against each baseline (default: every other model).

    ``n_boot="auto"`` starts at :data:`AUTO_START` replicates and doubles (up to :data:`AUTO_MAX`,
    or :data:`AUTO_MAX_GENERIC` for statistics other than :data:`CHEAP`) until the
    Monte-Carlo half-width of every reported CI bound is at most ``ci_bound_target`` (0.05 points
    by default, so two runs with different seeds agree to about 0.1 points); a missed target is
    reported (``ci_bound_precision``) and logged.
    """
    adapted = _resolve_model(results, adapted, "adapted")
    if baselines:
        baselines = [_resolve_model(results, b, "baselines") for b in baselines]
    else:
        baselines = [m for m in results.models if m != adapted]
    baselines = [b for b in baselines if b != adapted]
    if not baselines:
        raise DomainTebError(f"no baseline models besides {adapted!r} in {results.root}; evaluate a generalist model too")
    records = results.for_domain(domain)
    if domain is not None and not records:
        domains = sorted({r.domain or "unknown" for r in results.records})
        raise DomainTebError(f"domain={domain!r} has no results in {results.root}; domains found: {', '.join(domains)}")
    tasks = sorted({r.task_name for r in records if r.model == adapted})
    if not tasks:
        raise DomainTebError(f"adapted model {adapted!r} has no results{f' for domain {domain}' if domain else ''} in {results.root}")
    auto = n_boot == "auto"
    n = AUTO_START if auto else int(n_boot)
    rng = np.random.default_rng(seed)
    pairs: list[_Pair] = []
    groups: list[_Group] = []
    for baseline in baselines:
        own = [_pair(results, adapted, baseline, task, n, rng, level) for task in tasks]
        for p in own:
            p.row.profile = dict((profiles or {}).get(p.row.task_name, {}))
        pairs.extend(own)
        by_domain: dict[str, list[_Pair]] = defaultdict(list)
        by_type: dict[str, list[_Pair]] = defaultdict(list)
        for p in own:
            by_domain[p.row.domain or "unknown"].append(p)
            by_type[p.row.task_type or "unknown"].append(p)
        for group, buckets in (("domain", by_domain), ("type", by_type)):
            for name, members in sorted(buckets.items()):
                groups.append(_group(group, name, baseline, members))
    for g in groups:
        _finish_group(g, n, rng, level)
    precision = _precision(pairs, groups, level)
    while auto and precision > ci_bound_target:
        grown = False
        for p in _imprecise(pairs, groups, level, ci_bound_target):
            size = p.boot.replicates.size  # type: ignore[union-attr]
            cap = AUTO_MAX if p.items_a["statistic"] in CHEAP else AUTO_MAX_GENERIC  # type: ignore[index]
            if size < cap:
                p.boot = extend(p.boot, p.items_a, p.items_b, min(size, cap - size), rng, level)  # type: ignore[arg-type]
                grown = True
        if not grown:
            break
        n = max(p.boot.replicates.size for p in pairs if p.boot is not None)
        for g in groups:
            _finish_group(g, n, rng, level)
        precision = _precision(pairs, groups, level)
        log.info("bootstrap: up to %d replicates, largest CI-bound Monte-Carlo half-width %.5f", n, precision)
    if precision > ci_bound_target:
        log.warning("CI bounds are precise to ±%.3f points only (target ±%.3f)", 100 * precision, 100 * ci_bound_target)
    for p in pairs:
        _finish_task(p, level)
    alpha = 1.0 - level
    _permutation_tests(pairs, groups, n_perm, rng, alpha)
    n_comparisons = _correct([*(p.row for p in pairs), *(g.row for g in groups)], alpha)
    return ReportData(
        results_dir=str(results.root),
        adapted=adapted,
        baselines=baselines,
        domain=domain,
        n_boot=n,
        n_boot_mode="auto" if auto else "fixed",
        ci_bound_precision=precision,
        ci_bound_target=ci_bound_target,
        n_perm=n_perm,
        n_comparisons=n_comparisons,
        seed=seed,
        level=level,
        tasks=[p.row for p in pairs],
        groups=[g.row for g in groups],
        models=_model_summaries(results, [adapted, *baselines], domain),
        warnings=list(results.warnings),
    )
