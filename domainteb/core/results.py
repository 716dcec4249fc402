"""Result files: one mteb-compatible JSON per (model, task) under ``<output_dir>/<model>/<task>.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domainteb import __version__
from domainteb.core.io import atomic_write_json, read_json
from domainteb.core.paths import check_name, ensure_under, slug
from domainteb.core.tracking import redact_tree


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
    #: the mteb version that wrote the file; None when domainteb's own evaluators scored it
    #: (``domainteb.produced_by`` then says which tool and metric definitions were used).
    mteb_version: str | None = None
    scores: dict[str, list[SplitScores]]
    evaluation_time: float
    kg_co2_emissions: float | None = None
    domainteb: dict[str, Any] = Field(default_factory=dict)

    def main_score(self, split: str | None = None) -> float:
        """The task score of ``split`` (default: the first): the mean over its hf_subsets, as mteb does."""
        split = split or next(iter(self.scores))
        entries = self.scores[split]
        return float(sum(e.main_score for e in entries) / len(entries))


#: what scored a file written by :func:`make_result` (mteb did not write it).
PRODUCED_BY = {
    "tool": "domainteb",
    "metrics": "domainteb evaluators implementing mteb 2.26.24's metric definitions (parity: tests/hostile/test_public_parity.py)",
}
#: task data keys for one subset of a multi-subset task: ``<split>:<hf_subset>``.
SUBSET_SEP = ":"


def split_and_subset(key: str) -> tuple[str, str]:
    """``"test:en"`` → ``("test", "en")``; ``"test"`` → ``("test", "default")``."""
    split, sep, subset = key.partition(SUBSET_SEP)
    return (split, subset) if sep and subset else (key, "default")


def _scores_by_split(
    scores: dict[str, dict[str, Any]], languages: list[str] | None, subset_languages: dict[str, list[str]]
) -> dict[str, list[SplitScores]]:
    """``{"test:en": m1, "test:fr": m2}`` → ``{"test": [m1 (hf_subset en), m2 (hf_subset fr)]}`` (mteb's layout)."""
    out: dict[str, list[SplitScores]] = {}
    for key, metrics in scores.items():
        split, subset = split_and_subset(key)
        langs = subset_languages.get(subset) or languages or ["eng-Latn"]
        out.setdefault(split, []).append(SplitScores(**{"languages": list(langs), **metrics, "hf_subset": subset}))
    return out


def _items_by_split(items: dict[str, Any]) -> dict[str, Any]:
    """Per-item data keyed like ``scores``: the ``<split>:<subset>`` entries are kept and each
    multi-subset split also gets one combined entry under ``<split>`` (statistic ``subset_mean``,
    whose full value is the task score), so CIs are computed for the score that is reported."""
    from domainteb.eval.items import combine_subsets

    grouped: dict[str, dict[str, Any]] = {}
    for key, value in items.items():
        split, subset = split_and_subset(key)
        if key != split:
            grouped.setdefault(split, {})[subset] = value
    out = dict(items)
    for split, per_subset in grouped.items():
        if split not in out and all(isinstance(v, dict) and "statistic" in v for v in per_subset.values()):
            out[split] = combine_subsets(per_subset)
    return out


def model_dir_name(model_name: str) -> str:
    """Folder-safe model name (``openai:text-embedding-3-small`` → ``openai__text-embedding-3-small``)."""
    return slug(model_name)


def result_path(output_dir: str | Path, model_name: str, task_name: str) -> Path:
    """``<output_dir>/<model slug>/<task>.json``; the task name must be a safe file name and the
    path must stay inside ``output_dir`` (symlinks followed)."""
    check_name(task_name, field="task name")
    return ensure_under(output_dir, Path(output_dir) / model_dir_name(model_name) / f"{task_name}.json")


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
    """Build a :class:`TaskResult` from ``split -> metrics`` (each containing ``main_score``).

    Keys ``<split>:<hf_subset>`` (multi-subset public tasks) become one entry per subset under
    ``scores[<split>]``, with the subset's languages from the task metadata's
    ``params["hf_subset_languages"]`` (passed in ``extra["task_metadata"]``).
    """
    params = ((extra or {}).get("task_metadata") or {}).get("params") or {}
    subset_languages = params.get("hf_subset_languages") or {}
    if extra and isinstance(extra.get("items"), dict):
        extra = {**extra, "items": _items_by_split(extra["items"])}
    return TaskResult(
        dataset_revision=dataset_revision,
        task_name=task_name,
        scores=_scores_by_split(scores, languages, subset_languages),
        evaluation_time=evaluation_time,
        domainteb={
            "version": __version__,
            "produced_by": {**PRODUCED_BY, "version": __version__},
            "task_type": task_type,
            "domain": domain,
            "model": model,
            **(extra or {}),
        },
    )


def write_result(output_dir: str | Path, result: TaskResult) -> Path:
    model_name = result.domainteb.get("model", {}).get("name", "model")
    path = result_path(output_dir, model_name, result.task_name)
    record = result.model_dump(mode="json")
    # model identity (revision, base_url, source…) is redacted like MLflow params before it reaches disk
    block = record.get("domainteb") or {}
    if isinstance(block.get("model"), dict):
        block["model"] = redact_tree(block["model"])
    record["dataset_revision"] = redact_tree(record.get("dataset_revision", ""))
    atomic_write_json(path, record, root=output_dir)
    return path


def read_result(path: str | Path) -> TaskResult:
    """A result file; its task name and domain (which name summary/leaderboard files) must be safe file names."""
    result = TaskResult(**read_json(path))
    check_name(result.task_name, field="task_name", where=path)
    check_name(result.domainteb.get("domain", "unknown"), field="domainteb.domain", where=path)
    return result
