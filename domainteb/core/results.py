"""Result files: one mteb-compatible JSON per (model, task) under ``<output_dir>/<model>/<task>.json``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domainteb import __version__
from domainteb.core.io import atomic_write_json, read_json


class SplitScores(BaseModel):
    """Scores of one split and subset, with mteb's metric key names (extra keys allowed)."""

    model_config = ConfigDict(extra="allow")

    main_score: float
    hf_subset: str = "default"
    languages: list[str] = Field(default_factory=lambda: ["eng-Latn"])


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    revision: str = ""
    n_parameters: int | None = None
    embed_dim: int | None = None
    license: str | None = None
    #: e.g. ["int8-dequantized"], ["adapted"], ["api"]
    labels: list[str] = Field(default_factory=list)
    base_model: str | None = None
    training_data: str | None = None
    mlflow_run: str | None = None


class TaskResult(BaseModel):
    """mteb-compatible result of one model on one task, plus a ``domainteb`` block."""

    model_config = ConfigDict(extra="allow")

    dataset_revision: str = ""
    task_name: str
    mteb_version: str = "2.0.0"
    scores: dict[str, list[SplitScores]]
    evaluation_time: float
    kg_co2_emissions: float | None = None
    domainteb: dict[str, Any] = Field(default_factory=dict)

    def main_score(self, split: str | None = None) -> float:
        split = split or next(iter(self.scores))
        entries = self.scores[split]
        return float(sum(e.main_score for e in entries) / len(entries))


def model_dir_name(model_name: str) -> str:
    """Folder-safe model name (``openai:text-embedding-3-small`` → ``openai__text-embedding-3-small``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", model_name).strip("_") or "model"


def result_path(output_dir: str | Path, model_name: str, task_name: str) -> Path:
    return Path(output_dir) / model_dir_name(model_name) / f"{task_name}.json"


def make_result(
    *,
    task_name: str,
    task_type: str,
    domain: str,
    dataset_revision: str,
    scores: dict[str, dict[str, Any]],
    evaluation_time: float,
    model: dict[str, Any],
    languages: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> TaskResult:
    """Build a :class:`TaskResult` from ``split -> metrics`` (each containing ``main_score``)."""
    return TaskResult(
        dataset_revision=dataset_revision,
        task_name=task_name,
        scores={
            split: [SplitScores(**{"languages": languages or ["eng-Latn"], **metrics})]
            for split, metrics in scores.items()
        },
        evaluation_time=evaluation_time,
        domainteb={
            "version": __version__,
            "task_type": task_type,
            "domain": domain,
            "model": model,
            **(extra or {}),
        },
    )


def write_result(output_dir: str | Path, result: TaskResult) -> Path:
    model_name = result.domainteb.get("model", {}).get("name", "model")
    path = result_path(output_dir, model_name, result.task_name)
    atomic_write_json(path, result.model_dump(mode="json"))
    return path


def read_result(path: str | Path) -> TaskResult:
    return TaskResult(**read_json(path))
