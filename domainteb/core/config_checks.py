"""Up-front checks of the config values every stage shares, run once before any model or task loads.

Each check is registered under the top-level key it validates and runs only when the stage's
config has that key; it returns ``None`` or one sentence saying what is wrong and how to fix it.
:func:`check_config` raises one :class:`~domainteb.core.errors.ConfigError` (exit status 2)
listing every problem, so ``size=huge`` is reported once, not once per task.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.registry import Registry

Check = Callable[[Any], "str | None"]

CHECKS: Registry[Check] = Registry("config check")

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _int_like(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    return None


@CHECKS.register("batch_size")
def check_batch_size(value: Any) -> str | None:
    n = _int_like(value)
    if n is None or n < 1:
        return f"batch_size={value!r} must be a whole number >= 1 (e.g. batch_size=32)"
    return None


@CHECKS.register("seed")
def check_seed(value: Any) -> str | None:
    if _int_like(value) is None:
        return f"seed={value!r} must be a whole number (e.g. seed=42)"
    return None


@CHECKS.register("device")
def check_device(value: Any) -> str | None:
    device = str(value).strip().lower()
    if not _DEVICE.match(device):
        return f"device={value!r} is not supported; use device=auto, cpu, cuda, cuda:<n> or mps"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"device={value} but CUDA is not available on this machine (torch {torch.__version__}); use device=cpu or device=auto"
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            return f"device={value} but only {torch.cuda.device_count()} CUDA device(s) exist; use device=cuda:0 or device=auto"
    if device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            return "device=mps but Apple MPS is not available on this machine; use device=cpu or device=auto"
    return None


@CHECKS.register("output_dir")
def check_output_dir(value: Any) -> str | None:
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        return f"output_dir={value} is a file, not a folder; point output_dir at a folder (it is created if missing)"
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"output_dir={value}: {ancestor} is a file, so the folder cannot be created; choose another output_dir"
    if ancestor.exists() and not os.access(ancestor, os.W_OK | os.X_OK):
        return f"output_dir={value}: {ancestor} is not writable; choose a folder you can write to"
    return None


@CHECKS.register("size")
def check_size(value: Any) -> str | None:
    from domainteb.domains.base import resolve_size

    try:
        resolve_size(None if value in (None, "") else str(value))
    except DomainTebError as exc:
        return str(exc)
    return None


@CHECKS.register("types")
def check_types(value: Any) -> str | None:
    from domainteb.core.types import TaskType

    if value in (None, ""):
        return None
    values = [value] if isinstance(value, str) else list(value)
    names = [s.strip() for v in values for s in str(v).split(",") if s.strip()]
    unknown = []
    for name in names:
        try:
            TaskType.parse(name)
        except DomainTebError:
            unknown.append(name)
    if unknown:
        return (f"types: unknown task type(s) {', '.join(map(repr, unknown))}; "
                f"use any of {', '.join(t.value for t in TaskType)}")
    return None


def _bool_problem(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return f"{key}={value!r} must be true or false"


for _flag in ("verbose", "overwrite", "cache", "summary", "allow_pickle"):
    CHECKS.register(_flag, lambda value, _key=_flag: _bool_problem(_key, value))


@CHECKS.register("mlflow")
def check_mlflow(block: Any) -> str | None:
    if not isinstance(block, Mapping):
        return None
    problems = [p for p in (_bool_problem("mlflow.enabled", block.get("enabled")),) if p]
    timeout = block.get("timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        problems.append(f"mlflow.timeout_s={timeout!r} must be a number of seconds > 0")
    retries = block.get("max_retries")
    if retries is not None and (_int_like(retries) is None or int(retries) < 0):
        problems.append(f"mlflow.max_retries={retries!r} must be a whole number >= 0")
    return "; ".join(problems) or None


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Every registered check whose key the config has → the problems found (empty: all good)."""
    problems = []
    for key, check in CHECKS.items():
        if key in cfg:
            try:
                value = cfg.get(key)
            except Exception:  # an interpolation that cannot resolve: the stage reports it in context
                continue
            problem = check(value)
            if problem:
                problems.append(problem)
    return problems


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise one :class:`ConfigError` naming every bad value (nothing has been loaded yet)."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
