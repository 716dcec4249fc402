"""Execution engines for encoding: ``local`` (this process) and ``ray`` (Ray Data encoder actors).

``engine_for(cfg)`` returns a wrapper that takes the loaded (cached) model and returns the
model the evaluators use; every engine writes into the same embedding cache, and search and
scoring then run as usual, so scores do not depend on the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.core.registry import Registry

EngineWrap = Callable[[Any, str, Mapping[str, Any]], Any]
ENGINES: Registry[EngineWrap] = Registry("engine")


def encode_devices(cfg: Mapping[str, Any]) -> list[str]:
    """``encode_devices=[cuda:0,cuda:1]`` or ``encode_workers=N`` (N CPU processes) → the pool's devices."""
    devices = cfg.get("encode_devices")
    workers = cfg.get("encode_workers")
    if devices:
        if isinstance(devices, str):
            devices = [d.strip() for d in devices.strip("[]").split(",") if d.strip()]
        return [str(d) for d in devices]
    if workers in (None, "", 0, 1):
        return []
    try:
        n = int(workers)
    except (TypeError, ValueError):
        raise ConfigError(f"encode_workers={workers!r} is not a number; use encode_workers=N (CPU processes)") from None
    if n < 1:
        raise ConfigError(f"encode_workers={n} must be >= 1")
    return ["cpu"] * n


def _inner_st(model: Any) -> Any:
    """The sentence-transformers encoder under the cache wrapper, if any."""
    return getattr(model, "encoder", model) if hasattr(getattr(model, "encoder", model), "set_encode_devices") else None


@ENGINES.register("local")
def _local(model: Any, name: str, cfg: Mapping[str, Any]) -> Any:
    devices = encode_devices(cfg)
    st = _inner_st(model)
    if devices and st is not None:
        st.set_encode_devices(devices)
    return model


@ENGINES.register("ray")
def _ray(model: Any, name: str, cfg: Mapping[str, Any]) -> Any:
    from domainteb.eval.cache import CachedEncoder
    from domainteb.eval.engines.ray_engine import RayEncoder, RaySettings

    settings = RaySettings.from_config(cfg.get("ray"))
    if not isinstance(model, CachedEncoder):
        if cfg.get("cache", True) is False and callable(getattr(model, "encode", None)):
            raise ConfigError("engine=ray writes embeddings into the cache: set cache=true")
        return model  # lexical / search models run here; there is nothing to embed remotely
    return RayEncoder(model, name, settings, device=str(cfg.get("device", "auto")))


def engine_for(cfg: Mapping[str, Any]) -> EngineWrap:
    name = str(cfg.get("engine") or "local")
    if name not in ENGINES:
        raise ConfigError(f"engine={name!r} is unknown; use one of {', '.join(ENGINES)}")
    return ENGINES.get(name)


__all__ = ["ENGINES", "engine_for"]
