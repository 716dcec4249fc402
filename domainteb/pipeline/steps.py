"""Content-addressed pipeline steps.

A step composes its own stage config (``conf/<stage>.yaml``) with overrides, hashes the
resolved config together with the hashes of its inputs, and runs into
``<work_dir>/<step>-<hash>``. A ``done.json`` marker written last (atomically) makes a
finished step skippable on rerun; an unfinished step is simply run again (each stage is
itself resumable: synth's response cache, fine-tuning checkpoints, eval's result files).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from domainteb.core.io import atomic_write_json, read_json, stable_hash
from domainteb.core.tracking import redact_tree

log = logging.getLogger(__name__)

#: config keys that do not change a step's outputs.
VOLATILE_KEYS = {"output_dir", "mlflow", "verbose", "hydra"}


@contextlib.contextmanager
def hydra_context() -> Iterator[None]:
    """Make ``hydra.compose`` usable both inside a running Hydra app and from plain Python."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        yield
        return
    from hydra import initialize_config_module

    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        yield


def compose_stage(config_name: str, overrides: Sequence[str], inherit: DictConfig | None = None,
                  inherit_keys: Sequence[str] = ("mlflow", "seed", "device", "verbose")) -> DictConfig:
    """Compose a stage's config; copy shared blocks (MLflow, seed, device…) from the parent."""
    from hydra import compose

    with hydra_context():
        cfg = compose(config_name=config_name, overrides=list(overrides))
    if inherit is not None:
        with open_dict(cfg):
            for key in inherit_keys:
                if key in inherit:
                    cfg[key] = OmegaConf.to_container(inherit[key], resolve=True) if isinstance(
                        inherit[key], DictConfig) else inherit[key]
    return cfg


def config_hash(cfg: DictConfig, inputs: dict[str, str]) -> str:
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    stable = {k: v for k, v in container.items() if k not in VOLATILE_KEYS}
    return stable_hash({"config": stable, "inputs": inputs})[:12]


@dataclass
class StepResult:
    name: str
    key: str
    out_dir: Path
    outputs: dict[str, Any]
    skipped: bool
    seconds: float


@dataclass
class Step:
    """One pipeline step: a stage config plus how to run it and what it produces."""

    name: str
    config_name: str
    overrides: list[str]
    runner: Callable[[DictConfig], int | None]
    #: maps the step's output folder to the record of its outputs (paths etc.).
    outputs: Callable[[Path, DictConfig], dict[str, Any]]
    inputs: dict[str, str] = field(default_factory=dict)
    #: False: the step writes into shared folders (results, site), not into its own.
    own_output_dir: bool = True
    #: config tweaks applied after composing (e.g. the parent's llm block).
    patch: Callable[[DictConfig], None] | None = None
    #: a ready config instead of composing ``config_name`` (for steps with no stage of their own).
    config: dict[str, Any] | None = None

    def execute(self, work_dir: Path, parent: DictConfig) -> StepResult:
        if self.config is not None:
            cfg = OmegaConf.create(self.config)
        else:
            cfg = compose_stage(self.config_name, self.overrides, inherit=parent)
        if self.patch is not None:
            with open_dict(cfg):
                self.patch(cfg)
        key = config_hash(cfg, self.inputs)
        out_dir = work_dir / f"{self.name}-{key}"
        marker = out_dir / "done.json"
        if marker.is_file():
            record = read_json(marker)
            log.info("step %s: up to date (%s), skipped", self.name, out_dir)
            return StepResult(self.name, key, out_dir, record["outputs"], True, 0.0)
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.own_output_dir:
            with open_dict(cfg):
                cfg.output_dir = str(out_dir)
        start = time.perf_counter()
        status = self.runner(cfg)
        if status:
            from domainteb.core.errors import DomainTebError

            raise DomainTebError(
                f"pipeline step {self.name!r} finished with status {status}; fix the errors above and rerun "
                f"(finished steps are kept)"
            )
        outputs = self.outputs(out_dir, cfg)
        seconds = time.perf_counter() - start
        # the config is redacted like MLflow params (no URL credentials or keys in done.json)
        atomic_write_json(marker, {"step": self.name, "key": key, "inputs": self.inputs, "outputs": outputs,
                                   "seconds": seconds, "config": redact_tree(OmegaConf.to_container(cfg, resolve=True))},
                          root=work_dir)
        return StepResult(self.name, key, out_dir, outputs, False, seconds)
