"""Adapted-vs-baseline comparisons: per task, per task type and per domain average, with
paired bootstrap CIs, plus the complexity profile of each task next to its gain.

The numbers are pydantic records (:class:`ReportData`) because they are written to
``report.json``; scores stay on the result files' scale (mteb's 0–1) and are shown ×100.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.errors import DomainTebError
from domainteb.eval.report.bootstrap import PairedDiff, average_diff, paired_bootstrap, validate_items
from domainteb.eval.report.collect import ResultSet

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


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
    significant: bool | None = None
    n_items: int | None = None
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
    ci_low: float | None = None
    ci_high: float | None = None
    significant: bool | None = None
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
    n_boot: int
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


def _pair(results: ResultSet, adapted: str, baseline: str, task: str, n_boot: int, rng: np.random.Generator, level: float) -> tuple[TaskRow, PairedDiff | None]:
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
        return row, None
    if not (a.items and b.items):  # type: ignore[union-attr]
        row.note = "no per-item data (no CI)"
        return row, None
    try:
        items_a = validate_items(a.items, str(a.path))  # type: ignore[union-attr]
        items_b = validate_items(b.items, str(b.path))  # type: ignore[union-attr]
        boot = paired_bootstrap(items_a, items_b, n_boot=n_boot, seed=rng, level=level)
    except DomainTebError as exc:
        log.warning("%s vs %s on %s: no CI (%s)", adapted, baseline, task, exc)
        row.note = f"no CI: {exc}"
        return row, None
    if abs(boot.diff - row.gain) > 1e-3:
        log.warning(
            "%s: per-item statistic difference %.4f differs from the main-score gain %.4f; CI uses the items",
            task, boot.diff, row.gain,
        )
    row.ci_low, row.ci_high = boot.lo, boot.hi
    row.significant = boot.significant
    row.n_items = boot.n_items
    return row, boot


def _group(group: str, name: str, baseline: str, rows: list[TaskRow], boots: list[PairedDiff | None], level: float) -> GroupRow:
    paired = [(r, bt) for r, bt in zip(rows, boots) if r.gain is not None]
    out = GroupRow(
        group=group,
        name=name,
        baseline=baseline,
        n_tasks=len(paired),
        adapted_score=float(np.mean([r.adapted_score for r, _ in paired])) if paired else None,
        baseline_score=float(np.mean([r.baseline_score for r, _ in paired])) if paired else None,
        gain=float(np.mean([r.gain for r, _ in paired])) if paired else None,
    )
    missing = len(rows) - len(paired)
    notes = [f"{missing} task(s) without both scores left out"] if missing else []
    if paired and all(bt is not None for _, bt in paired):
        avg = average_diff([bt for _, bt in paired], level)  # type: ignore[misc]
        out.ci_low, out.ci_high, out.significant = avg.lo, avg.hi, avg.significant
    elif paired:
        notes.append("no CI: some tasks lack per-item data")
    out.note = "; ".join(notes)
    return out


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


def compare(
    results: ResultSet,
    adapted: str,
    baselines: list[str] | None = None,
    domain: str | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    profiles: dict[str, dict[str, Any]] | None = None,
) -> ReportData:
    """All comparisons of ``adapted`` against each baseline (default: every other model)."""
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
    rng = np.random.default_rng(seed)
    rows: list[TaskRow] = []
    groups: list[GroupRow] = []
    for baseline in baselines:
        pairs = [_pair(results, adapted, baseline, task, n_boot, rng, level) for task in tasks]
        for row, _ in pairs:
            row.profile = dict((profiles or {}).get(row.task_name, {}))
        rows.extend(r for r, _ in pairs)
        by_domain: dict[str, list[tuple[TaskRow, PairedDiff | None]]] = defaultdict(list)
        by_type: dict[str, list[tuple[TaskRow, PairedDiff | None]]] = defaultdict(list)
        for row, boot in pairs:
            by_domain[row.domain or "unknown"].append((row, boot))
            by_type[row.task_type or "unknown"].append((row, boot))
        for group, buckets in (("domain", by_domain), ("type", by_type)):
            for name, members in sorted(buckets.items()):
                groups.append(_group(group, name, baseline, [r for r, _ in members], [b for _, b in members], level))
    return ReportData(
        results_dir=str(results.root),
        adapted=adapted,
        baselines=baselines,
        domain=domain,
        n_boot=n_boot,
        seed=seed,
        level=level,
        tasks=rows,
        groups=groups,
        models=_model_summaries(results, [adapted, *baselines], domain),
        warnings=list(results.warnings),
    )
