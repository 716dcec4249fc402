"""``build_site``: a results folder → a static leaderboard site (no server-side code).

Layout of the site::

    index.html                 domains with their model/task counts and leader
    <domain>.html              the domain's leaderboard (data embedded: works from file://)
    data/<domain>.json|.csv    the underlying numbers (main scores on the result files' 0–1 scale)
    assets/leaderboard.js|css  vanilla JS and CSS copied from this package

Averages are the mean over the tasks a model has; a model missing tasks is flagged (``n/N``)
and a missing score is a blank, never 0. Importing this module does not import torch.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections import defaultdict
from importlib import resources
from pathlib import Path
from string import Template
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_dir
from domainteb.core.paths import check_name, join_under
from domainteb.eval.report.collect import ResultSet, load_many
from domainteb.eval.leaderboard.plots import plot_path, render_plots
from domainteb.eval.leaderboard.ranking import borda, delta_vs_base, rank_intervals
from domainteb.eval.report.compare import model_sparsity

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
UNKNOWN_DOMAIN = "other"
ASSETS = ("leaderboard.js", "leaderboard.css")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskEntry(_Record):
    name: str
    type: str
    #: where the type came from: file | result | domainteb registry | mteb registry | score keys | unknown
    type_source: str = "file"


class ModelEntry(_Record):
    key: str
    name: str
    revision: str | None = None
    n_parameters: int | None = None
    embed_dim: int | None = None
    license: str | None = None
    labels: list[str] = Field(default_factory=list)
    base_model: str | None = None
    training_data: str | None = None
    mlflow_run: str | None = None
    mlflow_url: str | None = None
    sparsity: float | None = None
    max_tokens: int | None = None
    adaptation_method: str | None = None
    synthetic_size: int | None = None
    access: str  # "open" | "api"
    kind: str  # "adapted" | "generalist" | "reference" (the ceiling row, never ranked)
    #: False when the model was trained on this domain's train split or evaluated corpus
    zero_shot: bool = True
    contamination: str = ""


class BordaEntry(_Record):
    points: float
    rank: int


class DomainBoard(_Record):
    """One domain's leaderboard; ``scores``/``averages`` are keyed by model key (blanks omitted)."""

    schema_version: int = SCHEMA_VERSION
    domain: str
    title: str
    types: list[str]
    tasks: list[TaskEntry]
    models: list[ModelEntry]
    scores: dict[str, dict[str, float]]
    #: model → {"all": mean, <type>: mean}
    averages: dict[str, dict[str, float]]
    #: model → {"all": n tasks, <type>: n tasks}
    counts: dict[str, dict[str, int]]
    #: model → mean of its per-type averages (only models with every type)
    mean_type: dict[str, float] = Field(default_factory=dict)
    #: model → {"points": Borda points, "rank": Borda rank} (ranked models only)
    borda: dict[str, BordaEntry] = Field(default_factory=dict)
    #: model → [lo, hi] bootstrap rank interval of Mean(Task) (complete models only)
    rank_interval: dict[str, list[int]] = Field(default_factory=dict)
    leader: str | None = None
    #: models whose Mean(Task) is not significantly below the leader's (the leader included)
    tied_with_leader: list[str] = Field(default_factory=list)
    rank_n_boot: int = 0
    rank_level: float = 0.95
    rank_resampled_tasks: list[str] = Field(default_factory=list)
    rank_fixed_tasks: list[str] = Field(default_factory=list)
    #: adapted model → {"base", "delta", "lo", "hi", "n_tasks", "n_fixed"}
    delta_vs_base: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: figure id → site-relative path of its SVG
    plots: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


def _mlflow_url(run: Any, base: str) -> str | None:
    if not run:
        return None
    run = str(run)
    if run.startswith(("http://", "https://")):
        return run
    return f"{base.rstrip('/')}/#/runs/{run}" if base else None


#: models shown as a reference ("ceiling") row on boards with a retrieval task: BM25 top-100
#: reranked by the local cross-encoder (eval/models, engineer gpl), never ranked.
CEILING_MODELS = {"bm25-ce-rerank"}
CEILING_LABELS = {"ceiling", "reference"}
#: adaptation methods recognised in a model's labels when its info has no ``adaptation_method``
ADAPTATION_METHODS = ("gpl", "qgen", "gaprune", "finetune", "tsdae")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def is_ceiling(key: str, info: dict[str, Any]) -> bool:
    labels = {str(x).lower() for x in info.get("labels") or []}
    return key in CEILING_MODELS or str(info.get("name") or "") in CEILING_MODELS or bool(labels & CEILING_LABELS)


def _trained_on(info: dict[str, Any]) -> set[str]:
    """Domains, task names and corpora a model was trained on, as its info declares them
    (domainteb's ``domain``/``trained_on``; mteb's ``training_datasets``)."""
    out: set[str] = set()
    if info.get("domain") and ("adapted" in (info.get("labels") or []) or info.get("base_model")):
        out.add(str(info["domain"]))
    for key in ("trained_on", "training_datasets"):
        value = info.get(key)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if isinstance(value, (list, tuple, set, dict)):
            out.update(str(v) for v in value if v)
    return out


def contamination(info: dict[str, Any], domain: str, task_names: list[str]) -> str:
    """Why a model is not zero-shot on ``domain`` ('' when it is, as far as its metadata say)."""
    seen = _trained_on(info)
    if domain in seen:
        return f"trained on {domain} data (its train split or evaluated corpus)"
    hits = sorted(t for t in task_names if t in seen)
    if hits:
        return f"trained on {', '.join(hits)}"
    return ""


def _adaptation_method(info: dict[str, Any], labels: list[str]) -> str | None:
    if info.get("adaptation_method"):
        return str(info["adaptation_method"])
    low = [x.lower() for x in labels]
    return next((m for m in ADAPTATION_METHODS if m in low), None)


def _model_entry(key: str, info: dict[str, Any], mlflow_ui_url: str) -> ModelEntry:
    # an integer token limit is not a secret, but its key matches the redaction rule ("token"): read it first
    max_tokens = _int_or_none(info.get("max_tokens") or info.get("max_seq_length"))
    labels = [str(x) for x in info.get("labels") or []]
    embed_dim = info.get("embed_dim")
    n_params = info.get("n_parameters")
    adapted = "adapted" in labels or bool(info.get("base_model"))
    api = "api" in labels or info.get("open_weights") is False
    return ModelEntry(
        key=key,
        name=str(info.get("name") or key),
        revision=str(info["revision"]) if info.get("revision") else None,
        n_parameters=int(n_params) if isinstance(n_params, (int, float)) and not isinstance(n_params, bool) else None,
        embed_dim=int(embed_dim) if isinstance(embed_dim, int) and not isinstance(embed_dim, bool) else None,
        license=str(info["license"]) if info.get("license") else None,
        labels=labels,
        base_model=str(info["base_model"]) if info.get("base_model") else None,
        training_data=str(info["training_data"]) if info.get("training_data") else None,
        mlflow_run=str(info["mlflow_run"]) if info.get("mlflow_run") else None,
        mlflow_url=_mlflow_url(info.get("mlflow_run"), mlflow_ui_url),
        sparsity=model_sparsity(info),
        max_tokens=max_tokens,
        adaptation_method=_adaptation_method(info, labels) if adapted else None,
        synthetic_size=_int_or_none(info.get("synthetic_pairs") or info.get("synthetic_size") or info.get("n_synthetic")),
        access="api" if api else "open",
        kind="reference" if is_ceiling(key, info) else ("adapted" if adapted else "generalist"),
    )


def _base_key(base: str | None, models: list[str], infos: dict[str, dict[str, Any]]) -> str | None:
    """The board's model that is ``base`` (by key, by the name its files claim, or by display name)."""
    if not base:
        return None
    for m in models:
        info = infos[m]
        if base in (m, info.get("name"), info.get("display_name"), info.get("reference")):
            return m
    return None


def domain_boards(
    results: ResultSet, title: str = "domainteb leaderboard", mlflow_ui_url: str = "http://127.0.0.1:5000", *,
    n_boot: int = 1000, level: float = 0.95, seed: int = 0,
) -> list[DomainBoard]:
    """One :class:`DomainBoard` per domain found in the results."""
    by_domain: dict[str, list] = defaultdict(list)
    for rec in results.records:
        by_domain[rec.domain or UNKNOWN_DOMAIN].append(rec)
    boards = []
    for domain, records in sorted(by_domain.items()):
        task_types: dict[str, tuple[str, str]] = {}
        scores: dict[str, dict[str, float]] = defaultdict(dict)
        by_key = {}
        for rec in records:
            task_types.setdefault(rec.task_name, (rec.task_type or "Other", rec.task_type_source if rec.task_type else "unknown"))
            if rec.main_score is not None and math.isfinite(rec.main_score):
                scores[rec.model][rec.task_name] = rec.main_score
                by_key[(rec.model, rec.task_name)] = rec
        tasks = [TaskEntry(name=n, type=t, type_source=src) for n, (t, src) in sorted(task_types.items(), key=lambda kv: (kv[1][0], kv[0]))]
        types = sorted({t.type for t in tasks})
        names = [t.name for t in tasks]
        models = sorted({rec.model for rec in records})
        infos = {m: results.model_info(m) for m in models}
        entries = [_model_entry(m, infos[m], mlflow_ui_url) for m in models]
        has_retrieval = any(t.type == "Retrieval" for t in tasks)
        for e in entries:
            why = contamination(infos[e.key], domain, names)
            e.zero_shot, e.contamination = not why, why
        # the ceiling row is shown only where it means something: boards with a retrieval task
        entries = [e for e in entries if e.kind != "reference" or has_retrieval]
        kinds = {e.key: e.kind for e in entries}
        models = [m for m in models if m in kinds]
        averages: dict[str, dict[str, float]] = {}
        counts: dict[str, dict[str, int]] = {}
        mean_type: dict[str, float] = {}
        for model in models:
            own = scores.get(model, {})
            avg: dict[str, float] = {}
            cnt: dict[str, int] = {}
            for group in ["all", *types]:
                group_names = [t.name for t in tasks if group == "all" or t.type == group]
                values = [own[n] for n in group_names if n in own]
                cnt[group] = len(values)
                if values:
                    avg[group] = sum(values) / len(values)
            averages[model], counts[model] = avg, cnt
            if types and all(t in avg for t in types):
                mean_type[model] = sum(avg[t] for t in types) / len(types)
        ranked = [m for m in models if kinds[m] != "reference"]
        points, borda_rank = borda(scores, names, ranked)
        # rank intervals: over the tasks at least two ranked models have (a task only one model ran
        # cannot separate anyone), among the models that have all of them
        core = [t for t in names if sum(1 for m in ranked if t in scores.get(m, {})) >= min(2, len(ranked))]
        complete = [m for m in ranked if all(t in scores.get(m, {}) for t in core)]
        stats = rank_intervals(by_key, complete, core, n_boot=n_boot, level=level, seed=seed)
        deltas = {}
        for e in entries:
            base = _base_key(e.base_model, models, infos) if e.kind == "adapted" else None
            if base is None or base == e.key:
                continue
            own = {t: by_key[(e.key, t)] for t in names if (e.key, t) in by_key}
            ref = {t: by_key[(base, t)] for t in names if (base, t) in by_key}
            d = delta_vs_base(own, ref, n_boot=n_boot, level=level, seed=seed)
            if d is not None:
                deltas[e.key] = {"base": base, **d}
        boards.append(
            DomainBoard(
                domain=domain,
                title=title,
                types=types,
                tasks=tasks,
                models=entries,
                scores={m: dict(s) for m, s in scores.items() if m in kinds},
                averages=averages,
                counts=counts,
                mean_type=mean_type,
                borda={m: BordaEntry(points=points[m], rank=borda_rank[m]) for m in ranked},
                rank_interval=stats.intervals,
                leader=stats.leader,
                tied_with_leader=stats.tied,
                rank_n_boot=n_boot if stats.intervals else 0,
                rank_level=level,
                rank_resampled_tasks=stats.resampled_tasks,
                rank_fixed_tasks=stats.fixed_tasks,
                delta_vs_base=deltas,
                warnings=[w for w in results.warnings],
            )
        )
    return boards


def rank_key(board: DomainBoard, model: str) -> tuple[int, float, float]:
    """Ranking as on the page: ranked models by Borda rank (then Mean(Task)); the reference row last."""
    borda_entry = board.borda.get(model)
    rank = borda_entry.rank if borda_entry else 10**9
    return -rank, float(board.counts[model]["all"] >= len(board.tasks)), board.averages[model].get("all", float("-inf"))


def board_frame(board: DomainBoard) -> pd.DataFrame:
    """The board as a table, one row per model in page order; blanks are NA (empty in the CSV)."""
    rows = []
    for m in sorted(board.models, key=lambda m: rank_key(board, m.key), reverse=True):
        borda_entry = board.borda[m.key].model_dump() if m.key in board.borda else {}
        interval = board.rank_interval.get(m.key)
        delta = board.delta_vs_base.get(m.key) or {}
        row: dict[str, Any] = {
            "model": m.key, "borda_rank": borda_entry.get("rank"), "borda_points": borda_entry.get("points"),
            "rank_interval_low": interval[0] if interval else None, "rank_interval_high": interval[1] if interval else None,
            "tied_with_leader": (m.key in board.tied_with_leader) if interval else None,
            "mean_task": board.averages[m.key].get("all"), "mean_task_type": board.mean_type.get(m.key),
            "n_parameters": m.n_parameters, "embed_dim": m.embed_dim, "max_tokens": m.max_tokens,
            "license": m.license, "access": m.access, "kind": m.kind, "zero_shot": m.zero_shot,
            "adaptation_method": m.adaptation_method, "sparsity": m.sparsity, "synthetic_size": m.synthetic_size,
            "base_model": delta.get("base"), "delta_vs_base": delta.get("delta"),
            "delta_ci_low": delta.get("lo"), "delta_ci_high": delta.get("hi"),
            "labels": ";".join(m.labels), "training_data": m.training_data,
            "mlflow_run": m.mlflow_run, "average": board.averages[m.key].get("all"),
            "n_tasks": board.counts[m.key]["all"],
        }
        for t in board.types:
            row[f"average_{t}"] = board.averages[m.key].get(t)
        for task in board.tasks:
            row[task.name] = board.scores.get(m.key, {}).get(task.name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("n_parameters", "embed_dim", "max_tokens", "synthetic_size", "n_tasks", "borda_rank",
                "rank_interval_low", "rank_interval_high"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _template(name: str) -> str:
    return resources.files("domainteb.eval.leaderboard").joinpath(name).read_text(encoding="utf-8")


def _embed_json(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _nav(boards: list[DomainBoard], current: str | None) -> str:
    links = ['<a href="index.html"' + (' class="active"' if current is None else "") + ">Overview</a>"]
    for b in boards:
        cls = ' class="active"' if b.domain == current else ""
        links.append(f'<a href="{html.escape(b.domain)}.html"{cls}>{html.escape(b.domain.capitalize())}</a>')
    return "\n".join(links)


def _index_rows(boards: list[DomainBoard]) -> str:
    rows = []
    for b in boards:
        ranked = [m for m in b.models if m.kind != "reference"]
        leader = next((m for m in ranked if m.key == b.leader), None) or max(ranked, key=lambda m: rank_key(b, m.key), default=None)
        lead = ""
        if leader is not None and "all" in b.averages[leader.key]:
            lead = f"{html.escape(leader.key)} ({100 * b.averages[leader.key]['all']:.2f})"
            if len(b.tied_with_leader) > 1:
                lead += f" · {len(b.tied_with_leader) - 1} tied"
        rows.append(
            f'<tr><td><a href="{html.escape(b.domain)}.html">{html.escape(b.domain)}</a></td>'
            f"<td>{len(b.models)}</td><td>{len(b.tasks)}</td><td>{html.escape(', '.join(b.types))}</td><td>{lead}</td>"
            f'<td><a href="data/{html.escape(b.domain)}.json" download>JSON</a> · '
            f'<a href="data/{html.escape(b.domain)}.csv" download>CSV</a></td></tr>'
        )
    return "\n".join(rows)


def build_site(
    results_dir: str | Path | Sequence[str | Path], output_dir: str | Path, *, title: str = "domainteb leaderboard",
    mlflow_ui_url: str = "http://127.0.0.1:5000", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
) -> Path:
    """Write the static site into ``output_dir``; returns the path of ``index.html``.

    ``results_dir`` may be several folders (e.g. domainteb's results and a folder written by
    mteb itself); their records are merged as if they were one folder."""
    results = load_many(results_dir)
    boards = domain_boards(results, title=title, mlflow_ui_url=mlflow_ui_url, n_boot=n_boot, level=level, seed=seed)
    out = Path(output_dir)
    ensure_dir(out / "assets", root=out)
    for asset in ASSETS:
        atomic_write_text(out / "assets" / asset, _template(asset), root=out)
    page = Template(_template("page.html"))
    for board in boards:
        data = board.model_dump(mode="json")
        # every file named after a domain is checked and proven to stay inside output_dir
        check_name(board.domain, field="domain")
        for key, svg in render_plots(board).items():
            rel = plot_path(board.domain, key)
            atomic_write_bytes(join_under(out, *rel.parts), svg, root=out)
            board.plots[key] = rel.as_posix()
        data = board.model_dump(mode="json")
        atomic_write_json(join_under(out, "data", f"{board.domain}.json"), data, root=out)
        csv = board_frame(board).to_csv(index=False, na_rep="", float_format="%.6g")
        atomic_write_text(join_under(out, "data", f"{board.domain}.csv"), csv, root=out)
        atomic_write_text(
            join_under(out, f"{board.domain}.html"),
            page.substitute(
                title=html.escape(title),
                domain=html.escape(board.domain),
                domain_title=html.escape(board.domain.capitalize()),
                nav=_nav(boards, board.domain),
                data=_embed_json(data),
            ),
            root=out,
        )
    index = out / "index.html"
    atomic_write_text(
        index,
        Template(_template("index.html")).substitute(
            title=html.escape(title), nav=_nav(boards, None), rows=_index_rows(boards),
            n_models=len(results.models), n_tasks=len(results.tasks),
        ),
        root=out,
    )
    log.info("leaderboard site written to %s (%d domain pages)", out, len(boards))
    return index
