"""``prune_report.json``: what one pruning run did and how the model scored (pydantic record)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.io import atomic_write_json

REPORT_FILE = "prune_report.json"


class PruneReport(BaseModel):
    """One GAPrune/baseline run. Scores are keyed by phase: ``dense``, ``one_shot``, ``retrained``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    method: str = "gaprune"
    criterion: str
    domain: str
    base: str
    sparsity_target: float
    sparsity_achieved: float
    sparsity_measured: float = Field(description="fraction of exact zeros in the saved prunable weights")
    sparsity_per_layer: dict[str, float]
    n_prunable: int
    n_pruned: int
    jaccard_vs_magnitude: float | None
    prunable_modules: str
    #: mean absolute size of each DAI term over the prunable weights (gaprune only).
    term_magnitudes: dict[str, float] = Field(default_factory=dict)
    settings: dict[str, Any]
    calibration: dict[str, Any]
    scores: dict[str, dict[str, float | None]]
    seconds: dict[str, float]
    retrain: dict[str, float] = Field(default_factory=dict)
    #: structured export (``adapt.structured.enabled``): FFN width and parameter counts.
    structured: dict[str, Any] = Field(default_factory=dict)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def write_report(output_dir: Path, report: PruneReport) -> Path:
    path = Path(output_dir) / REPORT_FILE
    atomic_write_json(path, _clean(report.model_dump(mode="json")))
    return path
