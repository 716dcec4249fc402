"""The task registry: every task the suite knows, by name, plus user folders by path.

Domain packages register :class:`TaskSpec` entries (built lazily on first use); public
benchmark loaders register theirs with ``benchmark="finmteb"`` etc. and an availability
check, so an offline machine lists them as unavailable instead of crashing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from domainteb.core.errors import DomainTebError
from domainteb.core.registry import Registry
from domainteb.core.types import Task, TaskType

#: modules whose import registers tasks and corpora.
TASK_MODULES: list[str] = ["domainteb.domains"]


@dataclass
class TaskSpec:
    """What is known about a task before it is built or downloaded."""

    name: str
    domain: str
    type: TaskType
    #: builds (or loads) the task; may raise DomainTebError when unavailable.
    factory: Callable[..., Task] = field(repr=False)
    benchmark: str = "domainteb"
    source: str = ""
    license: str = ""
    #: where the licence can be read (public datasets: their Hugging Face card).
    license_url: str = ""
    description: str = ""
    #: returns None when available, else the reason (e.g. "no Hugging Face hub reachable").
    availability: Callable[[], str | None] = field(default=lambda: None, repr=False)

    def build(self, **kwargs: object) -> Task:
        return self.factory(**kwargs)


TASKS: Registry[TaskSpec] = Registry("task")
#: domain -> function returning the domain's training passages [{"id": ..., "text": ...}].
TRAINING_CORPORA: Registry[Callable[..., list[dict[str, str]]]] = Registry("training corpus")

_loaded = False


def load_task_modules() -> None:
    """Import the modules that register tasks (once)."""
    global _loaded
    if _loaded:
        return
    for mod in TASK_MODULES:
        importlib.import_module(mod)
    _loaded = True


def register_task(spec: TaskSpec) -> TaskSpec:
    TASKS.register(spec.name, spec)
    return spec


def list_tasks(domain: str | None = None, benchmark: str | None = None, types: list[str] | None = None) -> list[TaskSpec]:
    load_task_modules()
    wanted = {TaskType.parse(t) for t in types} if types else None
    out = []
    for _, spec in TASKS.items():
        if domain and spec.domain != domain:
            continue
        if benchmark and spec.benchmark != benchmark:
            continue
        if wanted and spec.type not in wanted:
            continue
        out.append(spec)
    return out


def get_task(name_or_path: str, **build_kwargs: object) -> Task:
    """A registered task by name, or a user's task folder by path."""
    load_task_modules()
    if name_or_path in TASKS:
        return TASKS.get(name_or_path).build(**build_kwargs)
    path = Path(name_or_path).expanduser()
    if path.exists() or "/" in name_or_path or name_or_path.startswith("."):
        from domainteb.core.taskio import load_task_folder

        return load_task_folder(path)
    TASKS.get(name_or_path)  # raises the "unknown task" error with suggestions
    raise AssertionError("unreachable")


def training_corpus(domain: str, **kwargs: object) -> list[dict[str, str]]:
    load_task_modules()
    if domain not in TRAINING_CORPORA:
        raise DomainTebError(f"domain {domain!r} has no training corpus; known: {', '.join(TRAINING_CORPORA.names())}")
    return TRAINING_CORPORA.get(domain)(**kwargs)
