"""The ``tasks`` stage: list tasks with type, split sizes, source, licence and availability."""

from __future__ import annotations

import json
import sys
from typing import Any

from omegaconf import DictConfig

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.tasks import TaskSpec, list_tasks


def task_record(spec: TaskSpec, *, build: bool, size: str | None) -> dict[str, Any]:
    """Metadata record of one task; offline tasks are built (cached) to report split sizes."""
    reason = spec.availability()
    record: dict[str, Any] = {
        "name": spec.name,
        "domain": spec.domain,
        "type": spec.type.value,
        "benchmark": spec.benchmark,
        "source": spec.source,
        "license": spec.license,
        "license_url": spec.license_url or None,
        "description": spec.description,
        "available": reason is None,
        "unavailable_reason": reason,
        "n_samples": {},
    }
    if reason is None and build:
        try:
            task = spec.build(**({"size": size} if size and spec.benchmark == "domainteb" else {}))
            meta = task.metadata
            record.update(
                n_samples=meta.n_samples, main_score=meta.main_score, eval_splits=meta.eval_splits,
                revision=meta.revision, languages=meta.languages, citation=meta.citation,
                source=meta.source or spec.source, license=meta.license or spec.license,
            )
        except DomainTebError as exc:
            record.update(available=False, unavailable_reason=str(exc))
    return record


def run(cfg: DictConfig) -> int:
    fmt = str(cfg.get("format", "table"))
    if fmt not in {"table", "json"}:
        raise ConfigError(f"format={fmt!r} is not supported; use format=table or format=json")
    types = cfg.get("types")
    specs = list_tasks(
        domain=cfg.get("domain"), benchmark=cfg.get("benchmark"),
        types=[str(t) for t in types] if types else None,
    )
    if not specs:
        raise ConfigError(
            f"no tasks match domain={cfg.get('domain')} benchmark={cfg.get('benchmark')}; run 'domainteb tasks' to see all"
        )
    records = [task_record(s, build=bool(cfg.get("build", True)), size=cfg.get("size")) for s in specs]
    if fmt == "json":
        json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="domainteb tasks")
    for col in ("name", "domain", "type", "benchmark", "splits (size)", "source", "license", "available"):
        table.add_column(col, overflow="fold")
    for r in records:
        sizes = ", ".join(f"{k}:{v}" for k, v in r["n_samples"].items()) or "-"
        avail = "yes" if r["available"] else f"no: {r['unavailable_reason']}"
        table.add_row(r["name"], r["domain"], r["type"], r["benchmark"], sizes, r["source"], r["license"], avail)
    Console(width=200).print(table)
    return 0
