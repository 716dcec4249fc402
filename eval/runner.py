"""The ``eval`` stage: models × tasks → one result file per pair, MLflow runs, a summary table.

Each (model, task) pair is independent: a task that fails to load or a model that fails to
load is reported with its one-line reason while every other pair still completes, and the
summary is still written. Exit status: 0 all pairs done, 1 some failed, 2 nothing could run
because of bad input (a broken task folder, an unknown model).

Result reuse (the stage is resumable): an existing result file is kept only when its
:func:`reuse_key` matches: the task data's content hash, the task's scoring settings
(type, main score, splits, params), the seed, the model's revision and the domainteb
version. Anything else is recomputed; ``overwrite=true`` always recomputes.

Results are written before anything is sent to MLflow: a tracker that is down or hangs costs
one warning line (see :class:`~domainteb.core.tracking.Tracker`), never a result.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from domainteb import __version__
from domainteb.core.errors import ConfigError, DomainTebError, TaskDataError
from domainteb.core.io import stable_hash
from domainteb.core.results import TaskResult, make_result, read_result, result_path, write_result
from domainteb.core.taskio import task_data_hash
from domainteb.core.tasks import TaskSpec, get_task, list_tasks
from domainteb.core.tracking import Tracker, tracker_from_config
from domainteb.core.types import Task

log = logging.getLogger(__name__)


@dataclass
class Failure:
    model: str
    task: str
    reason: str
    #: True: caused by the user's input (DomainTebError); False: an unexpected error.
    bad_input: bool = True


@dataclass
class RunOutcome:
    results: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)


class TimedEncoder:
    """Proxy that sums the wall time spent inside ``encode`` (the benchmark's overhead ratio)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.encode_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._inner.encode(*args, **kwargs)
        finally:
            self.encode_seconds += time.perf_counter() - start


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return [s.strip() for s in str(value).split(",") if s.strip()] if "," in str(value) else [str(value)]


# ---------------------------------------------------------------- task resolution

@dataclass
class TaskRef:
    """A task to run: built lazily so one broken task does not stop the others."""

    label: str
    spec: TaskSpec | None = None
    path_or_name: str | None = None
    build_kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Task:
        if self.spec is not None:
            return self.spec.build(**self.build_kwargs)
        assert self.path_or_name is not None
        return get_task(self.path_or_name, **self.build_kwargs)


def resolve_tasks(cfg: DictConfig, outcome: RunOutcome | None = None) -> list[TaskRef]:
    size = cfg.get("size")
    kwargs: dict[str, Any] = {"size": size} if size else {}
    names = as_list(cfg.get("task"))
    if names:
        refs = []
        for name in names:
            is_path = "/" in name or name.startswith(".") or Path(name).expanduser().exists()
            refs.append(TaskRef(label=name, path_or_name=name, build_kwargs={} if is_path else kwargs))
        return refs
    domain = cfg.get("domain")
    if not domain:
        raise ConfigError("nothing to evaluate: set domain=<finance|chemistry|medical> or task=<name|folder>")
    benchmark = cfg.get("benchmark") or "domainteb"
    specs = list_tasks(domain=str(domain), benchmark=str(benchmark), types=as_list(cfg.get("types")) or None)
    if not specs:
        raise ConfigError(
            f"no tasks for domain={domain} benchmark={benchmark}; 'domainteb tasks' lists the known domains and benchmarks"
        )
    refs = []
    for spec in specs:
        reason = spec.availability()
        if reason:
            if outcome is not None:
                outcome.unavailable.append((spec.name, reason))
            continue
        refs.append(TaskRef(label=spec.name, spec=spec, build_kwargs=kwargs if spec.benchmark == "domainteb" else {}))
    return refs


# ---------------------------------------------------------------- evaluation

#: task metadata fields that change how a task is scored (descriptions, licences… do not).
SCORING_FIELDS = ("type", "main_score", "eval_splits", "train_split", "params", "revision")


def reuse_key(task: Task, model_info: dict[str, Any], splits: Sequence[str], seed: int, data_hash: str) -> str:
    """What a result depends on: data content, scoring settings, seed, model revision, domainteb version."""
    meta = task.metadata.model_dump(mode="json")
    return stable_hash({
        "data": data_hash,
        "task": {k: meta.get(k) for k in SCORING_FIELDS},
        "splits": list(splits),
        "seed": seed,
        "model": {"name": model_info.get("name"), "revision": model_info.get("revision")},
        "domainteb": __version__,
        "search": _search_scoring_key(),  # (scale) approximate backends / fp16 storage change scores
    })


def _search_scoring_key() -> dict[str, Any]:
    """(scale) The ``search.*`` settings that can change a dense retrieval score."""
    from domainteb.eval.search import current_settings

    return current_settings().scoring_key()


def _reusable(path: Path, key: str) -> bool:
    if not path.is_file():
        return False
    try:
        old = read_result(path)
    except Exception:  # unreadable or foreign file: recompute and replace it atomically
        return False
    return old.domainteb.get("reuse_key") == key


def evaluate_task(
    task: Task,
    model: Any,
    *,
    output_dir: str | Path,
    splits: Sequence[str] | None = None,
    batch_size: int = 32,
    seed: int = 42,
    show_progress: bool = False,
    tracker: Tracker | None = None,
    config: dict[str, Any] | None = None,
    overwrite: bool = True,
) -> tuple[TaskResult, Path, bool]:
    """Evaluate one model on one task, write the result file; returns (result, path, reused)."""
    from domainteb.eval.evaluators import evaluate_split

    info = dict(model.model_info())
    path = result_path(output_dir, info["name"], task.name)
    splits = list(splits or task.metadata.eval_splits)
    data_hash = task_data_hash(task)
    key = reuse_key(task, info, splits, seed, data_hash) if data_hash else ""
    if not overwrite and key and _reusable(path, key):
        return read_result(path), path, True
    timed = model if isinstance(model, TimedEncoder) else TimedEncoder(model)
    encode_before = timed.encode_seconds
    start = time.perf_counter()
    scores: dict[str, dict[str, Any]] = {}
    items: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    task.load()
    from domainteb.eval.report.predictions import PredictionRecorder  # (stats) retrieval top-k per query

    with PredictionRecorder() as predictions:
        for split in splits:
            out = evaluate_split(task, split, timed, batch_size=batch_size, seed=seed, show_progress=show_progress)
            scores[split] = {k: float(v) if isinstance(v, (int, float)) else v for k, v in out.metrics.items()}
            items[split] = out.items
            settings[split] = getattr(out, "settings", {})
    elapsed = time.perf_counter() - start
    meta = task.metadata
    result = make_result(
        task_name=task.name,
        task_type=meta.type.value,
        domain=meta.domain,
        dataset_revision=meta.revision,
        scores=scores,
        evaluation_time=elapsed,
        model=info,
        languages=meta.languages,
        extra={
            "benchmark": meta.benchmark,
            "main_score_name": meta.main_score,
            "encode_time": timed.encode_seconds - encode_before,
            "settings": settings,
            "data_hash": data_hash,
            "reuse_key": key,
            "task_metadata": {k: v for k, v in meta.model_dump(mode="json").items() if k not in {"citation"}},
            "items": items,
        },
    )
    written = write_result(output_dir, result)  # the result first: tracking can only add to it
    # (stats) mteb's prediction_folder convention: <results>/<model>/predictions/<Task>_predictions.json
    predictions.write(written.parent / "predictions", task.name, info, root=written.parent)
    tracker = tracker or Tracker(enabled=False)
    with tracker.run(
        f"eval-{meta.domain}-{info['name']}-{task.name}",
        tags={"stage": "eval", "domain": meta.domain, "model": info["name"], "task": task.name,
              "task_type": meta.type.value, "benchmark": meta.benchmark,
              "adapted": "adapted" in info.get("labels", [])},
    ) as run_id:
        if run_id:
            result.domainteb["mlflow_run_id"] = run_id
            written = write_result(output_dir, result)
        tracker.log_params({"model": info, "task": {"name": task.name, "type": meta.type.value, "revision": meta.revision,
                                                    "source": meta.source, "license": meta.license},
                            "config": config or {}})
        metrics: dict[str, float] = {"main_score": result.main_score(), "evaluation_time": elapsed,
                                     "encode_time": result.domainteb["encode_time"]}
        for split, m in scores.items():
            for key, value in m.items():
                if isinstance(value, (int, float)):
                    metrics[f"{split}.{key}"] = float(value)
        for split, split_settings in settings.items():  # (scale) dense search accounting
            searched = split_settings.get("search") if isinstance(split_settings, dict) else None
            if searched:
                metrics[f"{split}.passages_per_second"] = float(searched["passages_per_second"])
                metrics[f"{split}.peak_rss_bytes"] = float(searched["peak_rss_bytes"])
                if searched.get("recall_at_10") is not None:
                    metrics[f"{split}.search_recall_at_10"] = float(searched["recall_at_10"])
                tracker.set_tags({"search_backend": searched["backend"], "engine": searched.get("engine", "local")})
        tracker.log_metrics(metrics)
        tracker.log_artifact(written, artifact_path="results")
    return result, written, False


def load_model_for_eval(name: str, *, device: str, use_cache: bool, allow_pickle: bool = False,
                        backend: str | None = None) -> Any:
    from domainteb.eval.models import load_model

    return load_model(name, device=device, cache=use_cache, allow_pickle=allow_pickle, backend=backend)


def unreadable_weights(model: str) -> str | None:
    """For a local model folder: the first ``*.safetensors`` file whose header cannot be read, with why."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return None
    from safetensors import safe_open

    for weights in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="numpy"):
                pass
        except Exception as exc:
            return f"{weights}: corrupt or truncated safetensors file ({' '.join(str(exc).split())[:160]})"
    return None


def _failure(model: str, task: str, exc: BaseException) -> Failure:
    """One line per failure: a user error as it is, anything else with its type and a pointer."""
    if isinstance(exc, DomainTebError):
        return Failure(model=model, task=task, reason=str(exc))
    if task == "*" and (broken := unreadable_weights(model)):
        return Failure(model=model, task=task, reason=f"{broken}; re-download or re-save the model folder")
    text = " ".join(str(exc).split())[:300]
    where = f"model {model!r}" if task == "*" else f"task {task!r} with model {model!r}"
    hint = ("the model's files may be corrupt or incomplete; re-download or re-save the model folder"
            if task == "*" else "rerun with verbose=true for details")
    return Failure(model=model, task=task, reason=f"{where} failed ({type(exc).__name__}: {text}); {hint}",
                   bad_input=task == "*")


def run_eval(cfg: DictConfig) -> RunOutcome:
    outcome = RunOutcome()
    refs = resolve_tasks(cfg, outcome)
    models = as_list(cfg.get("model"))
    if not models:
        raise ConfigError("no model given: set model=<name> or model=[a,b]; 'domainteb eval --help' lists examples")
    tracker = tracker_from_config(cfg)
    output_dir = Path(str(cfg.get("output_dir") or "results"))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    from domainteb.eval.models.backends import get_backend

    get_backend(cfg.get("encode_backend"))  # unknown or not installed: one line, exit 2, before any task loads
    from domainteb.eval.search import SearchSettings, use_settings  # (scale) search.* in effect for the run

    with use_settings(SearchSettings.from_config(resolved.get("search"))):  # type: ignore[union-attr]
        return _run_eval(cfg, outcome, refs, models, tracker, output_dir, resolved)


def _run_eval(cfg: DictConfig, outcome: RunOutcome, refs: list[TaskRef], models: list[str], tracker: Tracker,
              output_dir: Path, resolved: Any) -> RunOutcome:
    show = sys.stderr.isatty()
    tasks: dict[str, Task | Failure] = {}
    for ref in refs:
        try:
            tasks[ref.label] = ref.build()
        except Exception as exc:
            tasks[ref.label] = _failure("*", ref.label, exc)
            outcome.failures.append(tasks[ref.label])  # type: ignore[arg-type]
    for model_name in models:
        try:
            model = TimedEncoder(load_model_for_eval(model_name, device=str(cfg.get("device", "auto")),
                                                     use_cache=bool(cfg.get("cache", True)),
                                                     allow_pickle=cfg.get("allow_pickle", False) is True,
                                                     backend=cfg.get("encode_backend")))
            from domainteb.eval.engines import engine_for  # (scale) engine=local|ray wraps the loaded model
            from domainteb.eval.models.backends import load_name  # Ray actors reload it with its backend

            model = TimedEncoder(engine_for(resolved)(model._inner, load_name(model_name, model._inner), resolved))
        except Exception as exc:
            outcome.failures.append(_failure(model_name, "*", exc))
            continue
        for label, task in list(tasks.items()):
            if isinstance(task, Failure):
                continue
            try:
                _, path, reused = evaluate_task(
                    task, model, output_dir=output_dir, batch_size=int(cfg.get("batch_size", 32)),
                    seed=int(cfg.get("seed", 42)), show_progress=show, tracker=tracker,
                    config=resolved, overwrite=bool(cfg.get("overwrite", False)),
                )
                (outcome.skipped if reused else outcome.results).append(path)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                failure = _failure(model_name, label, exc)
                outcome.failures.append(failure)
                if isinstance(exc, TaskDataError):
                    # the task's data are at fault: it fails once, not once per model
                    tasks[label] = Failure(model="*", task=label, reason=failure.reason)
                    failure.model = "*"
    return outcome


def report_outcome(outcome: RunOutcome, cfg: DictConfig) -> None:
    from rich.console import Console

    console = Console(stderr=False)
    if cfg.get("summary", True) and (outcome.results or outcome.skipped):
        from domainteb.eval.summary import write_summaries

        mine = outcome.results + outcome.skipped
        for domain, (table, paths) in write_summaries(mine, Path(str(cfg.output_dir))).items():
            console.print(table)
            console.print(f"[dim]summary written to {', '.join(str(p) for p in paths)}[/dim]")
    for name, reason in outcome.unavailable:
        console.print(f"[yellow]unavailable[/yellow] {name}: {reason}")
    for f in outcome.failures:
        print(f"error: model={f.model} task={f.task}: {f.reason}", file=sys.stderr)
    n = len(outcome.results)
    console.print(
        f"{n} result(s) written, {len(outcome.skipped)} reused, {len(outcome.failures)} failed, "
        f"{len(outcome.unavailable)} unavailable; results in {cfg.output_dir}"
    )


def exit_status(outcome: RunOutcome) -> int:
    """0: every pair done; 2: nothing done and every failure was bad input; 1: otherwise."""
    if not outcome.failures:
        return 0
    if not (outcome.results or outcome.skipped) and all(f.bad_input for f in outcome.failures):
        return 2
    return 1


def run(cfg: DictConfig) -> int:
    outcome = run_eval(cfg)
    report_outcome(outcome, cfg)
    return exit_status(outcome)


def iter_result_files(paths: Iterable[Path]) -> list[TaskResult]:
    return [read_result(p) for p in paths]
