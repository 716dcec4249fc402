"""The ``leaderboard`` stage: ``domainteb leaderboard results_dir=<dir> output_dir=<site>``."""

from __future__ import annotations

from typing import Any

from domainteb.eval.leaderboard.build import build_site


def run(cfg: Any) -> int:
    """Build the site from the stage config (see ``conf/leaderboard.yaml``) and print where it is."""
    results_dir = str(cfg.get("results_dir") or "results")
    output_dir = str(cfg.get("output_dir") or "site")
    index = build_site(
        results_dir,
        output_dir,
        title=str(cfg.get("title") or "domainteb leaderboard"),
        mlflow_ui_url=str(cfg.get("mlflow_ui_url") or ""),
    )
    print(f"leaderboard: {index.resolve().as_uri()}  (or: python -m http.server -d {output_dir})")
    return 0
