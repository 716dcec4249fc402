"""The ``report`` stage: ``domainteb report results_dir=... adapted=<model> [baselines=[...]]
[domain=...] [output_dir=...]`` → report files, a printed summary table and an MLflow run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.core.tracking import tracker_from_config
from domainteb.eval.report.builder import Report, build_report
from domainteb.eval.report.render import ci_text, hier_ci_text, holm_text, p_text, pct, sig_text, signed

log = logging.getLogger(__name__)


def _names(value: Any, key: str) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    try:
        names = [str(v) for v in value]
    except TypeError:
        raise ConfigError(f"{key} must be a model name or a list of names, got {value!r}") from None
    return names or None


def _int(cfg: Mapping[str, Any], key: str, default: int) -> int:
    value = cfg.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None


def print_summary(report: Report) -> None:
    """The domain-average table (and significant per-task gains) with rich."""
    from rich.console import Console
    from rich.table import Table

    data = report.data
    table = Table(title=f"{data.adapted} vs baselines (main score ×100, {data.level:.0%} paired bootstrap CIs, "
                        f"{data.n_boot} replicates; Holm over {data.n_comparisons} comparisons)")
    cols = ("domain/type", "baseline", "tasks", "adapted", "baseline score", "gain", "stratified CI", "hierarchical CI",
            "p (Holm)", "sig. (Holm)", "uncorrected")
    for col in cols:
        table.add_column(col, justify="left" if col in ("domain/type", "baseline") else "right")
    for g in data.groups:
        label = g.name if g.group == "domain" else f"  {g.name}"
        table.add_row(label, g.baseline, str(g.n_tasks), pct(g.adapted_score), pct(g.baseline_score), signed(g.gain),
                      ci_text(g), hier_ci_text(g), p_text(g.p_holm), holm_text(g), sig_text(g))
    console = Console()
    if not console.is_terminal:  # a log file or pipe: do not squeeze the columns into 80 characters
        console = Console(width=200)
    console.print(table)
    n_sig = sum(1 for r in data.tasks if r.significant)
    n_holm = sum(1 for r in data.tasks if r.significant_holm)
    n_ci = sum(1 for r in data.tasks if r.significant is not None)
    n_dis = sum(1 for r in [*data.tasks, *data.groups] if r.tests_disagree)
    console.print(
        f"{n_holm}/{n_ci} task comparisons with a CI are significant after Holm ({n_sig} uncorrected); "
        f"bootstrap and permutation test disagree on {n_dis}; report: {report.files['html']}"
    )


def run(cfg: Any) -> int:
    """Build the report from the stage config (see ``conf/report.yaml``)."""
    adapted = cfg.get("adapted")
    if not adapted:
        raise ConfigError("adapted is required: domainteb report results_dir=<dir> adapted=<model name>")
    baselines = _names(cfg.get("baselines"), "baselines")
    results_dir = str(cfg.get("results_dir") or "results")
    out_dir = str(cfg.get("output_dir") or f"{results_dir}/report")
    n_boot: int | str = "auto" if str(cfg.get("n_boot", "auto")).strip().lower() == "auto" else _int(cfg, "n_boot", 0)
    n_perm = _int(cfg, "n_perm", 9999)
    seed = _int(cfg, "seed", 0)
    level = float(cfg.get("level", 0.95))
    domain = cfg.get("domain") or None
    report = build_report(results_dir, str(adapted), baselines, domain, out_dir, n_boot=n_boot, seed=seed, level=level, n_perm=n_perm)
    tracker = tracker_from_config(cfg)
    with tracker.run(f"report-{report.data.adapted}", tags={"stage": "report", "adapted": report.data.adapted, "domain": domain or "all"}):
        tracker.log_params({"results_dir": results_dir, "baselines": report.data.baselines, "n_boot": report.data.n_boot,
                           "n_boot_mode": report.data.n_boot_mode, "n_perm": n_perm, "correction": report.data.correction,
                           "seed": seed, "level": level})
        tracker.log_metrics(
            {
                f"gain.{g.group}.{g.name}.{g.baseline}": g.gain
                for g in report.data.groups
                if g.gain is not None
            }
        )
        tracker.log_artifact(report.out_dir, artifact_path="report")
    print_summary(report)
    return 0
