"""Shared matplotlib pieces for the report (PNG) and the leaderboard (SVG): the headless pyplot,
and the one score-vs-model-size scatter both draw (adapted models as red stars, log x)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SizePoint:
    """One model on the score-vs-size scatter: its label, parameter count and score (×100)."""

    label: str
    n_parameters: int
    score: float
    adapted: bool = False


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def size_scatter(points: Sequence[SizePoint], *, xlabel: str, ylabel: str, title: str,
                 figsize: tuple[float, float] = (7, 4.5), star_size: int = 70) -> Any:
    """A figure of score against parameters (log scale), one annotated point per model."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    for p in points:
        ax.scatter([p.n_parameters], [p.score], s=star_size if p.adapted else 40, marker="*" if p.adapted else "o",
                   color="#d62728" if p.adapted else "#1f77b4", zorder=3)
        ax.annotate(p.label, (p.n_parameters, p.score), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    return fig
