"""The ``gpl`` / ``qgen`` methods of the ``adapt`` stage (Hydra):

    domainteb adapt adapt=gpl profile=cpu base=bge-small domain=medical output_dir=<run_dir> \
        [chunks=<chunks.jsonl>] [data=<queries/ict.jsonl>] [adapt.train.max_steps=100]

``chunks`` defaults to ``<output_dir>/corpus/chunks.jsonl`` and ``data`` to the one queries file
under ``<output_dir>/queries/``. Keys of ``adapt.*`` that differ from ``conf/adapt/gpl.yaml``
override the profile; the rest come from ``conf/gpl_profile/<profile>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from domainteb.adapt.gpl.config import DEFAULTS_FILE, _read_yaml, load_gpl_config
from domainteb.core.errors import ConfigError, TaskDataError


def _changed(values: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of ``values`` whose value differs from ``defaults`` (unknown keys included)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        default = defaults.get(key, object())
        if isinstance(value, dict) and isinstance(default, dict):
            out |= _changed(value, default, f"{prefix}{key}.")
        elif value != default:
            out[f"{prefix}{key}"] = value
    return out


def _queries_file(cfg: DictConfig, out: Path) -> Path:
    if cfg.get("data"):
        return Path(str(cfg.data))
    found = sorted((out / "queries").glob("*.jsonl"))
    if len(found) != 1:
        where = out / "queries"
        raise TaskDataError(f"{where}: expected exactly one queries file, found {len(found)}; pass data=<queries.jsonl>")
    return found[0]


def run_gpl_method(cfg: DictConfig) -> dict[str, Any]:
    from domainteb.adapt.finetune_method import require_domain, stage_output_dir
    from domainteb.adapt.gpl.runner import run

    domain = require_domain(cfg)
    block = OmegaConf.to_container(cfg.adapt, resolve=True) if cfg.get("adapt") is not None else {}
    assert isinstance(block, dict)
    overrides = _changed({str(k): v for k, v in block.items()}, _read_yaml(*DEFAULTS_FILE))
    if cfg.get("base"):
        overrides["base"] = str(cfg.base)
    overrides.setdefault("seed", int(cfg.get("seed", 42)))
    overrides.setdefault("device", str(cfg.get("device", "auto")))
    overrides.setdefault("allow_pickle", cfg.get("allow_pickle", False) is True)
    profile = str(cfg.get("profile") or "cpu")
    gpl_cfg = load_gpl_config(profile, overrides)
    out = stage_output_dir(cfg, gpl_cfg.method)
    chunks = Path(str(cfg.chunks)) if cfg.get("chunks") else out / "corpus" / "chunks.jsonl"
    if not chunks.is_file():
        raise ConfigError(f"{chunks}: chunks file not found; run the corpus stage or pass chunks=<chunks.jsonl>")
    result = run(gpl_cfg, out, chunks_path=chunks, queries_path=_queries_file(cfg, out), domain=domain,
                 name=cfg.get("adapted_name") or None)
    s = result.summary
    return {"method": s["method"], "domain": domain, "base": s["base"], "profile": profile,
            "model_dir": str(result.model_dir), **{f"queries_{k}": v for k, v in s["queries"].items()},
            "base_dev": s["base_dev"], "best_dev": s["best_dev"], "best_step": s["best_step"],
            "global_step": s["global_step"], "summary": str(result.summary_path)}
