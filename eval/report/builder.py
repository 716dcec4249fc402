"""``build_report``: results folder → comparisons → ``report.{json,md,html}`` + PNG figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_write_json, atomic_write_text, ensure_dir
from domainteb.eval.report.collect import load_profiles, load_results
from domainteb.eval.report.compare import ReportData, compare
from domainteb.eval.report.plots import make_plots
from domainteb.eval.report.render import to_html, to_markdown

log = logging.getLogger(__name__)


@dataclass
class Report:
    """A built report: its numbers and where its files are."""

    data: ReportData
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)


def build_report(
    results_dir: str | Path,
    adapted: str,
    baselines: list[str] | None = None,
    domain: str | None = None,
    out_dir: str | Path = "report",
    n_boot: int | str = "auto",
    seed: int = 0,
    level: float = 0.95,
    n_perm: int = 9999,
) -> Report:
    """Compare ``adapted`` with each baseline (default: every other model) and write the report.

    Writes ``report.json`` (the numbers), ``report.md``, ``report.html`` (self-contained) and
    the figures into ``out_dir``, each atomically.
    """
    if not adapted:
        raise DomainTebError("adapted is required: pass adapted=<model name as in the result files>")
    if not 0.5 <= level < 1.0:
        raise DomainTebError(f"level must be in [0.5, 1), got {level}")
    if n_boot != "auto":
        try:
            n_boot = int(n_boot)
        except (TypeError, ValueError):
            raise DomainTebError(f"n_boot must be 'auto' or an integer, got {n_boot!r}") from None
        if n_boot < 100:
            raise DomainTebError(f"n_boot={n_boot} is too few for a 95% interval; use at least 100 or n_boot=auto (the default)")
    if int(n_perm) < 99:
        raise DomainTebError(f"n_perm={n_perm} is too few for a permutation p-value; use at least 99 (default 9999)")
    results = load_results(results_dir)
    data = compare(
        results, adapted, baselines, domain, n_boot=n_boot, seed=seed, level=level, n_perm=int(n_perm),
        profiles=load_profiles(results_dir),
    )
    out = Path(out_dir)
    ensure_dir(out, root=out)
    figures = make_plots(data, out)
    files = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_json(files["json"], data.model_dump(mode="json"), root=out)
    atomic_write_text(files["md"], to_markdown(data, figures), root=out)
    atomic_write_text(files["html"], to_html(data, figures), root=out)
    log.info("report written to %s", out)
    return Report(data=data, out_dir=out, files=files, figures=figures)
