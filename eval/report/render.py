"""Turning :class:`ReportData` into tables (pandas) and into ``report.md`` / ``report.html``.

Scores are shown ×100 with two decimals; a missing score or CI is an empty cell, never 0.
The HTML page is self-contained: figures are embedded as base64 PNGs.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from domainteb.eval.report.compare import GroupRow, ReportData, TaskRow

#: complexity measures shown next to the gains, in this order, when profiles are present.
PROFILE_COLUMNS = ["fragmentation_ratio", "jsd", "lexical_overlap", "type_token_ratio", "mean_words"]


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def signed(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.2f}"


def ci_text(row: TaskRow | GroupRow) -> str:
    if row.ci_low is None or row.ci_high is None:
        return ""
    return f"[{100 * row.ci_low:+.2f}, {100 * row.ci_high:+.2f}]"


def sig_text(row: TaskRow | GroupRow) -> str:
    return "" if row.significant is None else ("yes" if row.significant else "no")


def holm_text(row: TaskRow | GroupRow) -> str:
    return "" if row.significant_holm is None else ("yes" if row.significant_holm else "no")


def hier_ci_text(row: GroupRow) -> str:
    if row.hier_ci_low is None or row.hier_ci_high is None:
        return ""
    return f"[{100 * row.hier_ci_low:+.2f}, {100 * row.hier_ci_high:+.2f}]"


def p_text(value: float | None) -> str:
    if value is None or value != value:
        return ""
    return f"{value:.4f}" if value >= 0.0001 else "<0.0001"


def agree_text(row: TaskRow | GroupRow) -> str:
    return "" if row.tests_disagree is None else ("DISAGREE" if row.tests_disagree else "agree")


def nan_text(row: TaskRow | GroupRow) -> str:
    return "" if row.n_nan is None else str(row.n_nan)


def _profile_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def task_table(report: ReportData) -> pd.DataFrame:
    profile_keys = [k for k in PROFILE_COLUMNS if any(k in r.profile for r in report.tasks)]
    rows = []
    for r in report.tasks:
        row = {
            "task": r.task_name,
            "type": r.task_type or "",
            "baseline": r.baseline,
            report.adapted: pct(r.adapted_score),
            "baseline score": pct(r.baseline_score),
            "gain": signed(r.gain),
            f"{_lvl(report)}% CI": ci_text(r),
            "p": p_text(r.p_value),
            "p (Holm)": p_text(r.p_holm),
            "q (BH)": p_text(r.q_value),
            "significant (Holm)": holm_text(r),
            "uncorrected": sig_text(r),
            "p (permutation)": p_text(r.p_perm),
            "tests": agree_text(r),
            "n": "" if r.n_items is None else str(r.n_items),
            "NaN reps": nan_text(r),
            "reps": "" if r.n_replicates is None else str(r.n_replicates),
        }
        for key in profile_keys:
            row[key] = _profile_cell(r.profile.get(key))
        row["note"] = r.note
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(report: ReportData, group: str) -> pd.DataFrame:
    rows = [
        {
            group: g.name,
            "baseline": g.baseline,
            "tasks": g.n_tasks,
            report.adapted: pct(g.adapted_score),
            "baseline score": pct(g.baseline_score),
            "gain": signed(g.gain),
            f"stratified {_lvl(report)}% CI": ci_text(g),
            f"hierarchical {_lvl(report)}% CI": hier_ci_text(g),
            "p (Holm)": p_text(g.p_holm),
            "q (BH)": p_text(g.q_value),
            "significant (Holm)": holm_text(g),
            "uncorrected": sig_text(g),
            "p (permutation)": p_text(g.p_perm),
            "tests": agree_text(g),
            "NaN reps": nan_text(g),
            "note": g.note,
        }
        for g in report.groups
        if g.group == group
    ]
    return pd.DataFrame(rows)


def model_table(report: ReportData) -> pd.DataFrame:
    domains = sorted({d for m in report.models for d in m.domain_scores})
    rows = []
    for m in report.models:
        row: dict[str, Any] = {
            "model": m.model + (" (adapted)" if m.model == report.adapted else ""),
            "parameters": "" if m.n_parameters is None else f"{m.n_parameters / 1e6:.1f}M",
            "dim": "" if m.embed_dim is None else str(m.embed_dim),
            "labels": ", ".join(m.labels),
            "sparsity": "" if m.sparsity is None else f"{100 * m.sparsity:.0f}%",
        }
        for d in domains:
            row[f"{d} mean"] = pct(m.domain_scores.get(d))
        rows.append(row)
    return pd.DataFrame(rows)


def _lvl(report: ReportData) -> str:
    return f"{100 * report.level:g}"


def _intro(report: ReportData) -> str:
    scope = f"domain **{report.domain}**" if report.domain else "all domains"
    alpha = f"{1 - report.level:.2g}"
    chosen = (
        f"replicates chosen automatically, up to {report.n_boot} per comparison (column \"reps\"), so that every CI "
        f"bound is precise to ±{100 * (report.ci_bound_precision or 0):.3f} points (target ±{100 * report.ci_bound_target:.2f}"
        + ("" if (report.ci_bound_precision or 0) <= report.ci_bound_target else ": MISSED, the replicate cap was reached")
        + ")"
        if report.n_boot_mode == "auto"
        else f"{report.n_boot} replicates (fixed; CI bounds precise to ±{100 * (report.ci_bound_precision or 0):.3f} points)"
    )
    return (
        f"Adapted model **{report.adapted}** against {', '.join(f'**{b}**' for b in report.baselines)} on {scope}. "
        f"Scores are main scores ×100; gain = adapted − baseline with a {_lvl(report)} % paired bootstrap "
        f"confidence interval over queries/items ({chosen}; seed {report.seed}). "
        f"**Multiple comparisons: {report.correction_text}** ({report.n_comparisons} comparisons); "
        f"\"significant (Holm)\" means Holm-adjusted p < {alpha}, \"uncorrected\" that the interval excludes 0. "
        "Domain and type averages carry two intervals: the *stratified* bootstrap (queries resampled within each task, "
        "the task set fixed: would this hold on other queries of these tasks?) and the *hierarchical* bootstrap "
        "(tasks resampled, then queries within each drawn task: would this hold on other tasks of this domain?). "
        f"Each task also has a paired randomization (permutation) test ({report.n_perm} random swaps of the two "
        "models' outputs per item); \"DISAGREE\" marks a comparison where it and the bootstrap CI reach different "
        "verdicts. \"NaN reps\" counts replicates whose statistic was undefined (left out of the CI). "
        "Empty cells are missing results, not zeros."
    )


def to_markdown(report: ReportData, figures: dict[str, Path]) -> str:
    parts = ["# Adapted vs generalist report", "", _intro(report), ""]
    for title, frame in (
        ("Domain averages", group_table(report, "domain")),
        ("By task type", group_table(report, "type")),
        ("Per task", task_table(report)),
        ("Models", model_table(report)),
    ):
        parts += [f"## {title}", "", frame.to_markdown(index=False, disable_numparse=True) if not frame.empty else "_none_", ""]
    if figures:
        parts += ["## Figures", ""]
        parts += [f"![{name}]({name})" for name in figures] + [""]
    if report.warnings:
        parts += ["## Warnings", ""] + [f"- {w}" for w in report.warnings] + [""]
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left}
th{background:#f4f6f8}tr:nth-child(even) td{background:#fafafa}img{max-width:100%;margin:1rem 0;border:1px solid #eee}
.warn{color:#8a5300}
"""


def to_html(report: ReportData, figures: dict[str, Path]) -> str:
    intro = html.escape(_intro(report)).replace("**", "")
    sections = []
    for title, frame in (
        ("Domain averages", group_table(report, "domain")),
        ("By task type", group_table(report, "type")),
        ("Per task", task_table(report)),
        ("Models", model_table(report)),
    ):
        body = frame.to_html(index=False, escape=True, border=0) if not frame.empty else "<p>none</p>"
        sections.append(f"<h2>{html.escape(title)}</h2>\n{body}")
    for name, path in figures.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        sections.append(f'<h2>{html.escape(name)}</h2>\n<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    if report.warnings:
        items = "".join(f'<li class="warn">{html.escape(w)}</li>' for w in report.warnings)
        sections.append(f"<h2>Warnings</h2><ul>{items}</ul>")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>domainteb report: {html.escape(report.adapted)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>Adapted vs generalist report</h1><p>{intro}</p>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
