"""The ``leaderboard`` stage: ``domainteb leaderboard results_dir=<dir | [dirs]> output_dir=<site>
[publish=<git remote>[#branch]]``."""

from __future__ import annotations

from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.eval.leaderboard.build import build_site


def _dirs(value: Any) -> str | list[str]:
    if value is None or value == "":
        return "results"
    if isinstance(value, str):
        return value
    try:
        dirs = [str(v) for v in value]
    except TypeError:
        raise ConfigError(f"results_dir must be a folder or a list of folders, got {value!r}") from None
    if not dirs:
        raise ConfigError("results_dir is an empty list; pass results_dir=<folder> or results_dir=[<a>,<b>]")
    return dirs


def _int(cfg: Any, key: str, default: int) -> int:
    try:
        return int(cfg.get(key, default))
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {cfg.get(key)!r}") from None


def run(cfg: Any) -> int:
    """Build the site from the stage config (see ``conf/leaderboard.yaml``), publish it if asked,
    and print where it is."""
    results_dir = _dirs(cfg.get("results_dir"))
    output_dir = str(cfg.get("output_dir") or "site")
    n_boot = _int(cfg, "n_boot", 1000)
    if n_boot < 100:
        raise ConfigError(f"n_boot={n_boot} is too few for 95% rank intervals; use at least 100 (default 1000)")
    index = build_site(
        results_dir,
        output_dir,
        title=str(cfg.get("title") or "domainteb leaderboard"),
        mlflow_ui_url=str(cfg.get("mlflow_ui_url") or ""),
        n_boot=n_boot,
        seed=_int(cfg, "seed", 0),
    )
    print(f"leaderboard: {index.resolve().as_uri()}  (or: python -m http.server -d {output_dir})")
    target = cfg.get("publish")
    if target:
        from domainteb.eval.leaderboard.publish import publish_site

        done = publish_site(output_dir, str(target))
        state = f"committed {done.commit[:10]}" if done.changed else f"already up to date at {done.commit[:10]}"
        print(f"published to {done.remote}#{done.branch}: {state} ({done.n_files} files)")
    return 0
