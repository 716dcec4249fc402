"""Reading a results folder into one flat list of (model, task) scores.

Two on-disk layouts are understood, told apart by each file's content (not its path):

* domainteb's: ``<results>/<model>/<task>.json``, a :class:`domainteb.core.results.TaskResult`
  with a ``domainteb`` block (task type, domain, ``model_info()``, per-item data);
* the ``mteb`` library's (2.x): ``<results>/<model_name>/<revision>/<TaskName>.json`` with a
  ``model_meta.json`` beside it. Metadata that mteb does not store (domain, labels) stays blank,
  except task type and domain, which are filled from domainteb's task registry or from a
  domainteb result for the same task when one exists.

Anything else is skipped with a warning naming the file. Two folders that claim the same
model name are both kept, disambiguated by their folder. Nothing here imports torch or mteb.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainteb.core.errors import DomainTebError
from domainteb.core.paths import is_safe_name
from domainteb.core.tracking import redact_tree

log = logging.getLogger(__name__)

#: file names that live among result files but are not results.
NON_RESULT_FILES = {"model_meta.json", "run_settings.json", "report.json"}
#: folders under a results folder that hold other things than results.
NON_RESULT_DIRS = {"profiles", "report", "site", "data", "assets", "summary", "predictions"}


@dataclass
class ScoreRecord:
    """One model's main score on one task (one split), plus what the report needs around it."""

    model: str  # unique key (the model name, or ``name (folder)`` when two folders share it)
    model_name: str  # the name the result file claims
    task_name: str
    task_type: str | None
    domain: str | None
    split: str
    main_score: float | None
    info: dict[str, Any]
    items: dict[str, Any] | None
    path: Path
    fmt: str  # "domainteb" | "mteb"
    folder: str = ""  # model folder relative to the results folder
    #: metric names of the chosen split (to infer the task type of files that do not say it)
    score_keys: tuple[str, ...] = ()
    #: where ``task_type`` came from: file | result | domainteb registry | mteb registry | score keys
    task_type_source: str = "file"


@dataclass
class ResultSet:
    """Every readable score in a results folder, and what was skipped."""

    root: Path
    records: list[ScoreRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return sorted({r.model for r in self.records})

    @property
    def tasks(self) -> list[str]:
        return sorted({r.task_name for r in self.records})

    def model_info(self, model: str) -> dict[str, Any]:
        """Merged model info over a model's result files (first non-empty value wins)."""
        merged: dict[str, Any] = {}
        for rec in self.records:
            if rec.model == model:
                for key, value in rec.info.items():
                    if merged.get(key) in (None, "", []) and value not in (None, "", []):
                        merged[key] = value
        merged.setdefault("name", model)
        return merged

    def score(self, model: str, task: str) -> ScoreRecord | None:
        for rec in self.records:
            if rec.model == model and rec.task_name == task:
                return rec
        return None

    def for_domain(self, domain: str | None) -> list[ScoreRecord]:
        return [r for r in self.records if domain is None or r.domain == domain]


def _warn(result: ResultSet, message: str) -> None:
    log.warning(message)
    result.warnings.append(message)


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _pick_split(scores: dict[str, Any], preferred: tuple[str, ...] = ("test", "dev", "validation")) -> str | None:
    for split in preferred:
        if split in scores:
            return split
    return next(iter(scores), None)


def _split_main_score(entries: Any) -> float | None:
    """Mean ``main_score`` over a split's subsets (None when absent or not a number)."""
    if not isinstance(entries, list) or not entries:
        return None
    values = [_finite(e.get("main_score")) for e in entries if isinstance(e, dict)]
    if not values or any(v is None for v in values):
        return None
    return float(sum(values) / len(values))  # type: ignore[arg-type]


def _split_items(items: Any, split: str) -> dict[str, Any] | None:
    """Per-item data is either one items dict or ``{split: items dict}``."""
    if not isinstance(items, dict):
        return None
    if "statistic" in items:
        return items
    chosen = items.get(split)
    return chosen if isinstance(chosen, dict) and "statistic" in chosen else None


def _read_domainteb(path: Path, data: dict[str, Any]) -> ScoreRecord | None:
    block = data["domainteb"]
    info = redact_tree(dict(block.get("model") or {}))  # files from elsewhere may carry raw URLs with credentials
    split = _pick_split(data["scores"])
    if split is None:
        return None
    name = str(info.get("name") or path.parent.name)
    return ScoreRecord(
        model=name,
        model_name=name,
        task_name=str(data["task_name"]),
        task_type=block.get("task_type"),
        domain=block.get("domain"),
        split=split,
        main_score=_split_main_score(data["scores"][split]),
        info=info,
        items=_split_items(block.get("items"), split),
        path=path,
        fmt="domainteb",
    )


def _mteb_model_info(path: Path) -> dict[str, Any]:
    """Model info from the ``model_meta.json`` beside an mteb result, else from the path."""
    meta_path = path.parent / "model_meta.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {}
    folder_name = path.parent.parent.name.replace("__", "/")
    training = meta.get("training_datasets")
    return {
        "name": meta.get("name") or folder_name,
        "revision": meta.get("revision") or path.parent.name,
        "n_parameters": meta.get("n_parameters"),
        "embed_dim": meta.get("embed_dim"),
        "license": meta.get("license"),
        "labels": [],
        "base_model": meta.get("adapted_from"),
        "training_data": ", ".join(sorted(training)) if isinstance(training, (list, dict, set)) and training else None,
        "open_weights": meta.get("open_weights"),
        "max_tokens": meta.get("max_tokens"),
        "training_datasets": sorted(training) if isinstance(training, (list, dict, set)) and training else [],
        "mlflow_run": None,
        "reference": meta.get("reference"),
    }


def _read_mteb(path: Path, data: dict[str, Any]) -> ScoreRecord | None:
    split = _pick_split(data["scores"])
    if split is None:
        return None
    info = redact_tree(_mteb_model_info(path))
    return ScoreRecord(
        model=str(info["name"]),
        model_name=str(info["name"]),
        task_name=str(data["task_name"]),
        task_type=None,
        domain=None,
        split=split,
        main_score=_split_main_score(data["scores"][split]),
        info=info,
        items=None,
        path=path,
        fmt="mteb",
        score_keys=_score_keys(data["scores"][split]),
        task_type_source="",
    )


def _score_keys(entries: Any) -> tuple[str, ...]:
    if not isinstance(entries, list):
        return ()
    return tuple(sorted({str(k) for e in entries if isinstance(e, dict) for k in e}))


def _is_domainteb(data: dict[str, Any]) -> bool:
    return (
        isinstance(data.get("domainteb"), dict)
        and isinstance(data.get("scores"), dict)
        and "task_name" in data
    )


def _is_mteb(data: dict[str, Any]) -> bool:
    return isinstance(data.get("scores"), dict) and "task_name" in data and "mteb_version" in data


#: (format name, detector, reader); the first matching detector reads the file.
READERS: list[tuple[str, Callable[[dict[str, Any]], bool], Callable[[Path, dict[str, Any]], ScoreRecord | None]]] = [
    ("domainteb", _is_domainteb, _read_domainteb),
    ("mteb", _is_mteb, _read_mteb),
]


def _candidate_files(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root)
        if path.name in NON_RESULT_FILES or path.name.startswith(".") or path.name.endswith("_predictions.json"):
            continue  # predictions (mteb's prediction_folder files) sit beside results but are not results
        if any(part in NON_RESULT_DIRS for part in rel.parts[:-1]):
            continue
        out.append(path)
    return out


def _read_one(path: Path, result: ResultSet) -> ScoreRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _warn(result, f"{path}: skipped, not valid JSON ({exc.__class__.__name__}); regenerate or remove it")
        return None
    if not isinstance(data, dict):
        _warn(result, f"{path}: skipped, unknown result format (not a JSON object)")
        return None
    for fmt, detect, read in READERS:
        if detect(data):
            try:
                rec = read(path, data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                _warn(result, f"{path}: skipped, malformed {fmt} result ({exc!s}); regenerate it")
                return None
            if rec is None:
                _warn(result, f"{path}: skipped, {fmt} result has no scores")
            elif rec.domain is not None and not is_safe_name(rec.domain):
                # the domain names leaderboard/summary files: a hostile one must not pick the path
                _warn(result, f"{path}: skipped, domain {str(rec.domain)[:60]!r} cannot be a file name "
                              "(see domainteb.core.paths.check_name); fix the result file's domainteb.domain")
                return None
            return rec
    _warn(result, f"{path}: skipped, unknown result format (needs 'task_name' and 'scores' as written by domainteb or mteb)")
    return None


def _registry_task_meta() -> dict[str, tuple[str, str]]:
    """task name → (type, domain) from domainteb's task registry; empty if it cannot load."""
    try:
        from domainteb.core.tasks import TASKS, load_task_modules

        load_task_modules()
        return {name: (spec.type.value, spec.domain) for name, spec in TASKS.items()}
    except Exception as exc:  # the registry is optional here: metadata just stays blank
        log.debug("task registry unavailable for mteb results: %s", exc)
        return {}


#: score key → task type, for results whose file does not name the task type (mteb's own files)
#: and whose task is in neither registry; checked in this order, the first key present wins.
SCORE_KEY_TYPES: tuple[tuple[str, str], ...] = (
    ("lrap", "MultilabelClassification"),
    ("v_measure", "Clustering"),
    ("max_ap", "PairClassification"),
    ("cosine_ap", "PairClassification"),
    ("similarity_ap", "PairClassification"),
    ("cosine_spearman", "STS"),
    ("ndcg_at_10", "Retrieval"),
    ("map_at_1000", "Reranking"),
    ("mrr", "Reranking"),
    ("f1_weighted", "Classification"),
    ("scores_per_experiment", "Classification"),
    ("precision", "BitextMining"),
    ("accuracy", "Classification"),
)


def type_from_score_keys(keys: tuple[str, ...] | list[str] | set[str]) -> str | None:
    """The task type a set of mteb metric names implies (``ndcg_at_10`` → Retrieval, …), or None."""
    present = set(keys)
    return next((task_type for key, task_type in SCORE_KEY_TYPES if key in present), None)


#: mteb task-metadata domains → domainteb's domain names
MTEB_DOMAINS = {"Medical": "medical", "Financial": "finance", "Chemistry": "chemistry"}


def _mteb_registry_types(names: set[str]) -> dict[str, tuple[str, str | None]]:
    """task name → (type, domainteb domain or None) from the ``mteb`` library's task registry
    (tasks mteb does not know are left out; a task in several of our domains gets none)."""
    try:
        import mteb
    except Exception as exc:  # mteb is a dependency, but the report must not need it to run
        log.debug("mteb task registry unavailable: %s", exc)
        return {}
    out: dict[str, tuple[str, str | None]] = {}
    for name in sorted(names):
        try:
            meta = mteb.get_task(name).metadata
        except Exception:  # unknown to mteb (KeyError) or a task it cannot build: fall back to score keys
            continue
        ours = {MTEB_DOMAINS[d] for d in (meta.domains or []) if d in MTEB_DOMAINS}
        out[name] = (str(meta.type), ours.pop() if len(ours) == 1 else None)
    return out


def _fill_task_meta(records: list[ScoreRecord]) -> None:
    """Task type and domain for records whose file lacks them: from another result for the same
    task, from domainteb's task registry, then (type only) from mteb's registry, then from the
    score keys; ``task_type_source`` says which."""
    known: dict[str, tuple[str | None, str | None]] = {}
    for rec in records:
        if rec.task_type or rec.domain:
            known.setdefault(rec.task_name, (rec.task_type, rec.domain))
    missing = [r for r in records if not (r.task_type and r.domain)]
    if not missing:
        return
    registry = _registry_task_meta() if any(r.task_name not in known for r in missing) else {}
    for rec in missing:
        had_type = bool(rec.task_type)
        source = "result" if rec.task_name in known else "domainteb registry"
        task_type, domain = known.get(rec.task_name) or registry.get(rec.task_name) or (None, None)
        rec.task_type = rec.task_type or task_type
        rec.domain = rec.domain or domain
        if rec.task_type and not had_type:
            rec.task_type_source = source
    untyped = [r for r in records if not r.task_type]
    if not untyped:
        return
    mteb_types = _mteb_registry_types({r.task_name for r in untyped})
    for rec in untyped:
        if rec.task_name in mteb_types:
            rec.task_type, rec.task_type_source = mteb_types[rec.task_name][0], "mteb registry"
            rec.domain = rec.domain or mteb_types[rec.task_name][1]
        else:
            inferred = type_from_score_keys(rec.score_keys)
            if inferred:
                rec.task_type, rec.task_type_source = inferred, "score keys"


def _disambiguate(result: ResultSet) -> None:
    """Give records of one model name found in several folders distinct model keys."""
    folders: dict[str, set[str]] = defaultdict(set)
    for rec in result.records:
        folders[rec.model_name].add(rec.folder)
    for name, where in sorted(folders.items()):
        if len(where) < 2:
            continue
        _warn(
            result,
            f"model name {name!r} is claimed by {len(where)} folders ({', '.join(sorted(where))}); "
            "they are shown separately as 'name (folder)'; rename one model to merge or separate them",
        )
        for rec in result.records:
            if rec.model_name == name:
                rec.model = f"{name} ({rec.folder})"
    seen: dict[tuple[str, str], ScoreRecord] = {}
    kept = []
    for rec in result.records:
        key = (rec.model, rec.task_name)
        if key in seen:
            _warn(result, f"{rec.path}: duplicate result for model {rec.model!r} on {rec.task_name}; keeping {seen[key].path}")
            continue
        seen[key] = rec
        kept.append(rec)
    result.records = kept


def load_results(results_dir: str | Path) -> ResultSet:
    """Read every result file under ``results_dir``.

    Raises :class:`DomainTebError` (one line) when the folder is missing or holds no readable result.
    """
    root = Path(results_dir).expanduser()
    if not root.is_dir():
        raise DomainTebError(f"results_dir {root}: folder not found; pass results_dir=<folder written by 'domainteb eval'>")
    result = ResultSet(root=root)
    for path in _candidate_files(root):
        rec = _read_one(path, result)
        if rec is None:
            continue
        folder = path.parent if rec.fmt == "domainteb" else path.parent.parent
        rec.folder = folder.relative_to(root).as_posix() if folder != root else "."
        if rec.fmt == "mteb":
            rec.folder = f"{rec.folder}@{path.parent.name}"
        result.records.append(rec)
    if not result.records:
        raise DomainTebError(
            f"results_dir {root}: no readable result files (expected <model>/<task>.json from 'domainteb eval' "
            "or mteb's <model>/<revision>/<task>.json); run 'domainteb eval' first or point results_dir elsewhere"
        )
    _fill_task_meta(result.records)
    _disambiguate(result)
    return result


def load_profiles(results_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Complexity profiles ``<results>/profiles/<domain>.json`` as task name → measures (optional)."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(results_dir) / "profiles"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("%s: skipped, not valid JSON", path)
            continue
        rows = data
        if isinstance(data, dict):
            rows = data.get("tasks") or data.get("profiles") or []
        if not isinstance(rows, list):
            log.warning("%s: skipped, expected a list of per-task profiles", path)
            continue
        for row in rows:
            if isinstance(row, dict) and row.get("task_name"):
                out[str(row["task_name"])] = {k: v for k, v in row.items() if k != "task_name"}
    return out


def load_many(results_dirs: str | Path | Sequence[str | Path]) -> ResultSet:
    """:func:`load_results` over several folders, merged into one set (task metadata shared across
    them; a model name claimed in two folders is shown as ``name (folder)``)."""
    if isinstance(results_dirs, (str, Path)):
        return load_results(results_dirs)
    dirs = list(results_dirs)
    if not dirs:
        raise DomainTebError("results_dir is empty: pass results_dir=<folder> or results_dir=[<folder>,<folder>]")
    if len(dirs) == 1:
        return load_results(dirs[0])
    parts = [load_results(d) for d in dirs]
    merged = ResultSet(root=parts[0].root)
    for part in parts:
        for rec in part.records:
            rec.model = rec.model_name
            rec.folder = f"{part.root.as_posix()}/{rec.folder}"
            merged.records.append(rec)
        merged.warnings.extend(part.warnings)
    _fill_task_meta(merged.records)
    _disambiguate(merged)
    return merged
