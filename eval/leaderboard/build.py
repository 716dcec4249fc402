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
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.io import atomic_write_json, atomic_write_text
from domainteb.eval.report.collect import ResultSet, load_results
from domainteb.eval.report.compare import model_sparsity

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
UNKNOWN_DOMAIN = "other"
ASSETS = ("leaderboard.js", "leaderboard.css")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskEntry(_Record):
    name: str
    type: str


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
    access: str  # "open" | "api"
    kind: str  # "adapted" | "generalist"


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
    warnings: list[str] = Field(default_factory=list)


def _mlflow_url(run: Any, base: str) -> str | None:
    if not run:
        return None
    run = str(run)
    if run.startswith(("http://", "https://")):
        return run
    return f"{base.rstrip('/')}/#/runs/{run}" if base else None


def _model_entry(key: str, info: dict[str, Any], mlflow_ui_url: str) -> ModelEntry:
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
        access="api" if api else "open",
        kind="adapted" if adapted else "generalist",
    )


def domain_boards(results: ResultSet, title: str = "domainteb leaderboard", mlflow_ui_url: str = "http://127.0.0.1:5000") -> list[DomainBoard]:
    """One :class:`DomainBoard` per domain found in the results."""
    by_domain: dict[str, list] = defaultdict(list)
    for rec in results.records:
        by_domain[rec.domain or UNKNOWN_DOMAIN].append(rec)
    boards = []
    for domain, records in sorted(by_domain.items()):
        task_types = {}
        scores: dict[str, dict[str, float]] = defaultdict(dict)
        for rec in records:
            task_types.setdefault(rec.task_name, rec.task_type or "Other")
            if rec.main_score is not None and math.isfinite(rec.main_score):
                scores[rec.model][rec.task_name] = rec.main_score
        tasks = [TaskEntry(name=n, type=t) for n, t in sorted(task_types.items(), key=lambda kv: (kv[1], kv[0]))]
        types = sorted({t.type for t in tasks})
        models = sorted({rec.model for rec in records})
        averages: dict[str, dict[str, float]] = {}
        counts: dict[str, dict[str, int]] = {}
        for model in models:
            own = scores.get(model, {})
            avg: dict[str, float] = {}
            cnt: dict[str, int] = {}
            for group in ["all", *types]:
                names = [t.name for t in tasks if group == "all" or t.type == group]
                values = [own[n] for n in names if n in own]
                cnt[group] = len(values)
                if values:
                    avg[group] = sum(values) / len(values)
            averages[model], counts[model] = avg, cnt
        boards.append(
            DomainBoard(
                domain=domain,
                title=title,
                types=types,
                tasks=tasks,
                models=[_model_entry(m, results.model_info(m), mlflow_ui_url) for m in models],
                scores={m: dict(s) for m, s in scores.items()},
                averages=averages,
                counts=counts,
                warnings=[w for w in results.warnings],
            )
        )
    return boards


def rank_key(board: DomainBoard, model: str) -> tuple[bool, float]:
    """Ranking as on the page: complete models first, then by overall average (higher first)."""
    complete = board.counts[model]["all"] >= len(board.tasks)
    return complete, board.averages[model].get("all", float("-inf"))


def board_frame(board: DomainBoard) -> pd.DataFrame:
    """The board as a table, one row per model in page order; blanks are NA (empty in the CSV)."""
    rows = []
    for m in sorted(board.models, key=lambda m: rank_key(board, m.key), reverse=True):
        row: dict[str, Any] = {
            "model": m.key, "n_parameters": m.n_parameters, "embed_dim": m.embed_dim, "license": m.license,
            "access": m.access, "kind": m.kind, "labels": ";".join(m.labels), "training_data": m.training_data,
            "mlflow_run": m.mlflow_run, "average": board.averages[m.key].get("all"),
            "n_tasks": board.counts[m.key]["all"],
        }
        for t in board.types:
            row[f"average_{t}"] = board.averages[m.key].get(t)
        for task in board.tasks:
            row[task.name] = board.scores.get(m.key, {}).get(task.name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("n_parameters", "embed_dim", "n_tasks"):
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
        leader = max(b.models, key=lambda m: rank_key(b, m.key), default=None)
        lead = ""
        if leader is not None and "all" in b.averages[leader.key]:
            lead = f"{html.escape(leader.key)} ({100 * b.averages[leader.key]['all']:.2f})"
        rows.append(
            f'<tr><td><a href="{html.escape(b.domain)}.html">{html.escape(b.domain)}</a></td>'
            f"<td>{len(b.models)}</td><td>{len(b.tasks)}</td><td>{html.escape(', '.join(b.types))}</td><td>{lead}</td>"
            f'<td><a href="data/{html.escape(b.domain)}.json" download>JSON</a> · '
            f'<a href="data/{html.escape(b.domain)}.csv" download>CSV</a></td></tr>'
        )
    return "\n".join(rows)


def build_site(
    results_dir: str | Path, output_dir: str | Path, *, title: str = "domainteb leaderboard", mlflow_ui_url: str = "http://127.0.0.1:5000"
) -> Path:
    """Write the static site into ``output_dir``; returns the path of ``index.html``."""
    results = load_results(results_dir)
    boards = domain_boards(results, title=title, mlflow_ui_url=mlflow_ui_url)
    out = Path(output_dir)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for asset in ASSETS:
        atomic_write_text(out / "assets" / asset, _template(asset))
    page = Template(_template("page.html"))
    for board in boards:
        data = board.model_dump(mode="json")
        atomic_write_json(out / "data" / f"{board.domain}.json", data)
        csv = board_frame(board).to_csv(index=False, na_rep="", float_format="%.6g")
        atomic_write_text(out / "data" / f"{board.domain}.csv", csv)
        atomic_write_text(
            out / f"{board.domain}.html",
            page.substitute(
                title=html.escape(title),
                domain=html.escape(board.domain),
                domain_title=html.escape(board.domain.capitalize()),
                nav=_nav(boards, board.domain),
                data=_embed_json(data),
            ),
        )
    index = out / "index.html"
    atomic_write_text(
        index,
        Template(_template("index.html")).substitute(
            title=html.escape(title), nav=_nav(boards, None), rows=_index_rows(boards),
            n_models=len(results.models), n_tasks=len(results.tasks),
        ),
    )
    log.info("leaderboard site written to %s (%d domain pages)", out, len(boards))
    return index
