"""Per-query retrieval predictions saved next to the results, in mteb's ``prediction_folder``
format, so that every retrieval CI can be recomputed from files and other tools (ranx,
pytrec_eval) can read the runs:

    <results>/<model>/predictions/<TaskName>_predictions.json
    {"mteb_model_meta": {"model_name": ..., "revision": ...},
     "<hf_subset>": {"<split>": {"<query id>": {"<doc id>": score, ...}, ...}}}

:class:`PredictionRecorder` listens on the retrieval evaluator's ``RUN_OBSERVERS`` hook while a
task is evaluated and writes the file atomically afterwards; :func:`read_predictions` and
:func:`per_query_from_predictions` read it back and recompute the per-query metrics.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_write_json
from domainteb.core.paths import check_name

Run = dict[str, dict[str, float]]


def prediction_file(folder: str | Path, task_name: str) -> Path:
    """mteb's name for a task's predictions: ``<folder>/<TaskName>_predictions.json``."""
    check_name(task_name, field="task_name")
    return Path(folder) / f"{task_name}_predictions.json"


class PredictionRecorder:
    """Collects the retrieval runs of the tasks evaluated while it is active (``with`` block)."""

    def __init__(self, top_k: int | None = None) -> None:
        self.top_k = top_k
        self.runs: dict[tuple[str, str], Run] = {}
        self._lock = threading.Lock()

    def _observe(self, task: Any, split: str, run: Run, per_query: dict[str, dict[str, float]]) -> None:
        kept: Run = {}
        for qid, scores in run.items():
            ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
            kept[str(qid)] = {str(d): float(s) for d, s in (ranked[: self.top_k] if self.top_k else ranked)}
        with self._lock:
            self.runs[(task.name, split)] = kept

    def __enter__(self) -> PredictionRecorder:
        from domainteb.eval.evaluators.retrieval import RUN_OBSERVERS

        RUN_OBSERVERS.append(self._observe)
        return self

    def __exit__(self, *exc: object) -> None:
        from domainteb.eval.evaluators.retrieval import RUN_OBSERVERS

        if self._observe in RUN_OBSERVERS:
            RUN_OBSERVERS.remove(self._observe)

    def write(self, folder: str | Path, task_name: str, model_info: dict[str, Any], *, root: str | Path | None = None) -> Path | None:
        """Write ``task_name``'s runs (all its splits) in mteb's format; None when it had none."""
        from domainteb.core.results import split_and_subset

        with self._lock:
            mine = {split: run for (task, split), run in self.runs.items() if task == task_name}
        if not mine:
            return None
        out: dict[str, Any] = {"mteb_model_meta": {"model_name": model_info.get("name"), "revision": model_info.get("revision")}}
        for key, run in mine.items():
            split, subset = split_and_subset(key)
            out.setdefault(subset, {})[split] = run
        path = prediction_file(folder, task_name)
        atomic_write_json(path, out, indent=None, root=root if root is not None else folder)
        return path


def read_predictions(path: str | Path) -> dict[str, dict[str, Run]]:
    """``{hf_subset: {split: run}}`` from a predictions file (one-line error on a bad file)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainTebError(f"{p}: cannot read predictions ({exc.__class__.__name__}); re-run 'domainteb eval'") from None
    if not isinstance(data, dict):
        raise DomainTebError(f"{p}: predictions must be a JSON object of hf_subset → split → run")
    out: dict[str, dict[str, Run]] = {}
    for subset, splits in data.items():
        if subset == "mteb_model_meta":
            continue
        if not isinstance(splits, dict) or not all(isinstance(r, dict) for r in splits.values()):
            raise DomainTebError(f"{p}: subset {subset!r} must map each split to a run {{query id: {{doc id: score}}}}")
        out[str(subset)] = splits
    return out


def per_query_from_predictions(run: Run, qrels: dict[str, dict[str, int]], k_values: tuple[int, ...] | None = None) -> dict[str, dict[str, float]]:
    """Per-query ranking metrics of a saved run (the same code the evaluator scores with)."""
    from domainteb.eval.evaluators.ranking_metrics import DEFAULT_K_VALUES, ranking_metrics

    _, per_query = ranking_metrics({q: r for q, r in qrels.items() if r}, run, tuple(k_values or DEFAULT_K_VALUES))
    return per_query
