"""GAPrune domain-aware pruning (Tang & Yang 2025) and its baselines.

Modules: ``calibration`` (triplet sets + k-means representative sampling), ``targets``
(prunable weights by module path), ``fisher`` (per-sample Fisher / mean gradients),
``scoring`` (DAI + baseline scorers registry), ``masks`` (global exact-count masks),
``prune`` (the three-step pipeline), ``retrain`` (mask-keeping retraining), ``evaluation``,
``report`` and ``stage`` (the ``adapt method=gaprune`` entry point, registered below).
"""

from __future__ import annotations

from domainteb.adapt.gaprune.stage import run_gaprune

__all__ = ["run_gaprune"]


def _register() -> None:
    try:
        from domainteb.adapt.stage import METHODS
    except ImportError:  # the adapt stage itself is not installed
        return
    if "gaprune" not in METHODS:
        METHODS.register("gaprune", run_gaprune)


_register()
