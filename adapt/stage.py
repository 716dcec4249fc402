"""The ``adapt`` stage: dispatch ``adapt.method`` to a registered adaptation method.

``domainteb adapt method=finetune base=minilm-l6 domain=finance [data=pairs.jsonl]``
``domainteb adapt method=gaprune base=minilm-l6 domain=finance sparsity=0.5``

Each method is a function ``(cfg) -> summary dict`` registered in :data:`METHODS`. Every
method writes ``<output_dir>/model`` (sentence-transformers, safetensors, model card) and
``<output_dir>/done.json`` (see :mod:`domainteb.adapt.export`). GAPrune registers itself when
``domainteb.adapt.gaprune`` is importable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from domainteb.adapt.finetune_method import is_main_process, run_finetune
from domainteb.core.errors import ConfigError
from domainteb.core.registry import Registry

log = logging.getLogger(__name__)

METHODS: Registry[Callable[[DictConfig], dict[str, Any]]] = Registry("adapt method")
METHODS.register("finetune", run_finetune)


def _gpl(cfg: DictConfig) -> dict[str, Any]:
    from domainteb.adapt.gpl.method import run_gpl_method

    return run_gpl_method(cfg)


METHODS.register("gpl", _gpl)  # GPL: MarginMSE on cross-encoder margins (adapt=gpl)
METHODS.register("qgen", _gpl)  # the same pipeline with MNRL on the generated pairs (adapt=gpl adapt.method=qgen)

try:  # GAPrune registers itself into METHODS on import.
    import domainteb.adapt.gaprune  # noqa: F401
except ImportError as exc:  # only a missing gaprune package is tolerated, not a broken one
    if not (exc.name or "").startswith("domainteb.adapt.gaprune"):
        raise
    log.debug("GAPrune is not available: %s", exc)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"adapt {summary.get('method', '')}: {summary.get('domain', '')}", show_header=False)
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        table.add_row(str(key), "" if value is None else str(value))
    Console(stderr=False).print(table)


def run(cfg: DictConfig) -> int:
    """Entry point of ``domainteb adapt``: run ``cfg.adapt.method`` and print its summary."""
    adapt = cfg.get("adapt")
    if adapt is None or not adapt.get("method"):
        raise ConfigError(f"no adaptation method: pass method=<{'|'.join(METHODS.names())}>")
    method = METHODS.get(str(adapt.method))
    summary = method(cfg)
    if is_main_process():
        _print_summary(summary)
    return 0
