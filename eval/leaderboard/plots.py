"""The board's static figures (matplotlib, Agg, SVG): score vs parameters (log scale), the
per-task-type profile of the top models, and each adapted model's gain over its base with its
bootstrap CI. A figure without data is skipped; each is written atomically under the site."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domainteb.core.plotting import SizePoint, size_scatter
from domainteb.core.plotting import pyplot as _pyplot

log = logging.getLogger(__name__)

#: how many models the task-type profile shows (by Borda rank)
TOP_MODELS = 5


def _svg(fig: Any) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "domainteb", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    return buf.getvalue()


def plot_score_vs_params(board: Any) -> bytes | None:
    """Mean(Task) ×100 against total parameters (log x), one point per ranked model."""
    points = [
        (m, m.n_parameters, board.averages.get(m.key, {}).get("all"))
        for m in board.models
        if m.kind != "reference"
    ]
    points = [(m, n, s) for m, n, s in points if n and s is not None]
    if not points:
        return None
    marks = [SizePoint(m.key + (" *" if board.counts.get(m.key, {}).get("all", 0) < len(board.tasks) else ""),
                       n, 100 * s, adapted=m.kind == "adapted") for m, n, s in points]
    fig = size_scatter(marks, xlabel="total parameters (log scale)", ylabel="Mean(Task) ×100",
                       title=f"{board.domain}: score vs model size (★ adapted, * fewer tasks)",
                       figsize=(7, 4.2), star_size=80)
    return _svg(fig)


def plot_type_profile(board: Any) -> bytes | None:
    """Per-task-type average ×100 of the top models (by Borda rank), one line per model."""
    if not board.types:
        return None
    ranked = sorted((m for m in board.models if m.kind != "reference" and m.key in board.borda),
                    key=lambda m: (board.borda[m.key].rank, m.key))[:TOP_MODELS]
    if not ranked:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(board.types) + 3), 4.2))
    xs = list(range(len(board.types)))
    for m in ranked:
        ys = [100 * board.averages[m.key][t] if t in board.averages.get(m.key, {}) else float("nan") for t in board.types]
        ax.plot(xs, ys, marker="o", label=f"#{board.borda[m.key].rank} {m.key}")
    ax.set_xticks(xs, board.types, rotation=20, ha="right")
    ax.set_ylabel("Mean per task type ×100")
    ax.set_title(f"{board.domain}: task-type profile of the top {len(ranked)} models")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _svg(fig)


def plot_gain_over_base(board: Any) -> bytes | None:
    """Δ Mean(Task) ×100 of each adapted model over its base, with the bootstrap CI as error bars."""
    rows = [(key, d) for key, d in sorted(board.delta_vs_base.items())]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.5 * len(rows)))
    ys = list(range(len(rows)))
    deltas = [100 * d["delta"] for _, d in rows]
    lo = [max(0.0, 100 * (d["delta"] - d["lo"])) if d.get("lo") is not None else 0.0 for _, d in rows]
    hi = [max(0.0, 100 * (d["hi"] - d["delta"])) if d.get("hi") is not None else 0.0 for _, d in rows]
    colors = ["#1a7f37" if d.get("lo") is not None and d["lo"] > 0 else ("#cf222e" if d.get("hi") is not None and d["hi"] < 0 else "#8c959f")
              for _, d in rows]
    ax.barh(ys, deltas, xerr=[lo, hi], color=colors, capsize=4, ecolor="#333333", height=0.5)
    ax.set_yticks(ys, [f"{key} vs {d['base']}" for key, d in rows])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"gain over base, Mean(Task) ×100, {int(100 * board.rank_level)}% paired bootstrap CI")
    ax.set_title(f"{board.domain}: adapted models vs their base")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


#: figure id → (title, plotting function)
PLOTS: dict[str, tuple[str, Callable[[Any], bytes | None]]] = {
    "score_vs_params": ("Score vs parameters", plot_score_vs_params),
    "type_profile": ("Task-type profile of the top models", plot_type_profile),
    "gain_over_base": ("Gain over base (adapted models)", plot_gain_over_base),
}


def render_plots(board: Any) -> dict[str, bytes]:
    """figure id → SVG bytes for every figure that has data."""
    out = {}
    for key, (_, fn) in PLOTS.items():
        svg = fn(board)
        if svg is not None:
            out[key] = svg
    return out


def plot_path(domain: str, key: str) -> Path:
    return Path("plots") / f"{domain}-{key}.svg"
