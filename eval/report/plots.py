"""The report's figures (matplotlib, Agg backend, PNG): gain per task with CI bars, score vs
model size, and pruning sparsity vs score. A figure without data to show is skipped (None)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from domainteb.core.io import atomic_write_bytes
from domainteb.core.plotting import SizePoint, size_scatter
from domainteb.core.plotting import pyplot as _pyplot
from domainteb.eval.report.compare import ReportData

log = logging.getLogger(__name__)


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue(), root=path.parent)  # fixed file names inside the report folder
    return path


def plot_gains(report: ReportData, path: Path) -> Path | None:
    """Horizontal bars: gain (×100) per task and baseline, with the bootstrap CI as error bars."""
    rows = [r for r in report.tasks if r.gain is not None]
    if not rows:
        return None
    plt = _pyplot()
    tasks = sorted({r.task_name for r in rows})
    baselines = [b for b in report.baselines if any(r.baseline == b for r in rows)]
    height = 0.8 / max(len(baselines), 1)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * len(tasks) * max(1, len(baselines)) ** 0.5))
    colors = plt.get_cmap("tab10")
    for k, baseline in enumerate(baselines):
        ys, gains, err_lo, err_hi = [], [], [], []
        for i, task in enumerate(tasks):
            row = next((r for r in rows if r.task_name == task and r.baseline == baseline), None)
            if row is None:
                continue
            ys.append(i + (k - (len(baselines) - 1) / 2) * height)
            gains.append(100 * row.gain)  # type: ignore[operator]
            has_ci = row.ci_low is not None and row.ci_high is not None
            err_lo.append(max(0.0, 100 * (row.gain - row.ci_low)) if has_ci else 0.0)  # type: ignore[operator]
            err_hi.append(max(0.0, 100 * (row.ci_high - row.gain)) if has_ci else 0.0)  # type: ignore[operator]
        ax.barh(ys, gains, height=height, color=colors(k % 10), label=f"vs {baseline}",
                xerr=np.array([err_lo, err_hi]), capsize=3, ecolor="#333333")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(tasks)), tasks)
    ax.invert_yaxis()
    ax.set_xlabel(f"gain of {report.adapted} (main score ×100), {int(report.level * 100)}% paired bootstrap CI")
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _mean_score(scores: dict[str, float]) -> float | None:
    return float(np.mean(list(scores.values()))) if scores else None


def plot_size(report: ReportData, path: Path) -> Path | None:
    """Mean main score (×100) vs number of parameters (log scale), one point per model."""
    points = [SizePoint(m.model, m.n_parameters, 100 * score, adapted=m.model == report.adapted)
              for m in report.models if m.n_parameters and (score := _mean_score(m.domain_scores)) is not None]
    if not points:
        return None
    fig = size_scatter(points, xlabel="parameters", ylabel="mean main score ×100", title="score vs model size")
    return _save(fig, path)


def plot_sparsity(report: ReportData, path: Path) -> Path | None:
    """Mean main score (×100) vs pruning sparsity, for models whose info carries a sparsity."""
    points = [(m.model, m.sparsity, _mean_score(m.domain_scores)) for m in report.models]
    points = [(name, s, v) for name, s, v in points if s is not None and v is not None]
    if not points:
        log.info("no model carries a pruning sparsity; sparsity plot skipped")
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [100 * s for _, s, _ in points]
    ys = [100 * v for _, _, v in points]
    ax.scatter(xs, ys, color="#2ca02c", zorder=3)
    for (name, _, _), x, y in zip(points, xs, ys):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("mean main score ×100")
    ax.set_title("pruning sparsity vs score")
    ax.grid(alpha=0.3)
    return _save(fig, path)


#: figure file name → plotting function.
PLOTS = {
    "gains.png": plot_gains,
    "score_vs_size.png": plot_size,
    "sparsity_vs_score.png": plot_sparsity,
}


def make_plots(report: ReportData, out_dir: Path) -> dict[str, Path]:
    """Draw every figure that has data; returns file name → path."""
    out: dict[str, Path] = {}
    for name, fn in PLOTS.items():
        path = fn(report, out_dir / name)
        if path is not None:
            out[name] = path
    return out
