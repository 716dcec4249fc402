"""``engine=ray``: corpus texts the embedding cache lacks are embedded by Ray Data encoder actors.

The driver computes each text's cache key, sends only the missing texts through
``ray.data.from_items(...).map_batches(EncoderActor, concurrency=actors, num_gpus=...)`` (one
model per actor, loaded once in ``__init__``), and writes the returned vectors into the same
embedding cache as shards. The wrapped model then serves every text from the cache, so search
and scoring are the local engine's. An actor refuses to run when its model's identity (weights
and full sentence-transformers config) differs from the driver's, e.g. a worker with other
package versions. ``ray.address``: ``null`` starts a local cluster (``ray.init()`` with no
address, as the tests do), ``auto`` joins the running cluster, ``host:port`` a remote one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domainteb.core.encoder import PromptType
from domainteb.core.errors import ConfigError

log = logging.getLogger(__name__)


class RaySettings(BaseModel):
    """``ray.*`` in ``conf/eval.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = None
    actors: int = Field(1, ge=1)
    num_gpus: float = Field(0, ge=0)
    cpus_per_actor: float = Field(1, gt=0)
    batch_size: int = Field(256, ge=1)  # texts per map_batches call
    shard_rows: int = Field(8192, ge=1)  # texts per cache shard written by the driver
    num_cpus: int | None = Field(None, ge=1)  # local cluster only
    object_store_memory: int | None = Field(None, ge=78_643_200)  # local cluster only (bytes)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> RaySettings:
        values = {k: v for k, v in dict(cfg or {}).items() if v is not None}
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(root)"
            raise ConfigError(f"ray.{field}={err.get('input')!r}: {err['msg']}; see conf/eval.yaml (ray:)") from None


def connect(settings: RaySettings) -> Any:
    """``ray`` after ``ray.init`` (once per process)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("engine=ray needs Ray: pip install 'domainteb[ray]'") from None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if settings.address:
            kwargs["address"] = settings.address
        else:
            if settings.num_cpus:
                kwargs["num_cpus"] = settings.num_cpus
            if settings.object_store_memory:
                kwargs["object_store_memory"] = settings.object_store_memory
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"ray.address={settings.address!r}: cannot reach the Ray cluster ({exc}); "
                              "start it with 'ray start --head' or use ray.address=null for a local one") from None
    return ray


class EncoderActor:
    """One model per actor; embeds a batch of ``{key, text}`` rows."""

    def __init__(self, model: str, device: str, identity: str, prompt_type: str | None, task_name: str | None,
                 batch_size: int) -> None:
        from domainteb.eval.cache import identity_hash
        from domainteb.eval.models import load_model

        self.encoder = load_model(model, device=device, cache=False)
        mine = identity_hash(self.encoder)
        if mine != identity:
            raise RuntimeError(f"model {model!r} on this Ray worker has identity {mine[:16]}, the driver's is "
                               f"{identity[:16]}: install the same model files and package versions on every node")
        self.prompt_type, self.task_name, self.batch_size = prompt_type, task_name, batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]], prompt_type=self.prompt_type,
                                      task_name=self.task_name, batch_size=self.batch_size)
        return {"key": batch["key"], "vector": np.asarray(vectors, np.float32)}


class RayEncoder:
    """A cached encoder whose cache misses are embedded on a Ray cluster (``engine = "ray"``)."""

    engine = "ray"

    def __init__(self, cached: Any, model_name: str, settings: RaySettings, *, device: str = "auto") -> None:
        from domainteb.eval.cache import CachedEncoder

        if not isinstance(cached, CachedEncoder):
            raise ConfigError("engine=ray writes into the embedding cache: set cache=true (and use an embedding model)")
        self.cached = cached
        self.model_name = model_name
        self.settings = settings
        self.device = "cuda" if settings.num_gpus > 0 else ("cpu" if device == "auto" else device)
        self.remote_texts = 0

    def __getattr__(self, item: str) -> Any:
        if item == "cached":
            raise AttributeError(item)
        return getattr(self.cached, item)

    def encode(self, texts: Sequence[str], *, prompt_type: PromptType | None = None, task_name: str | None = None,
               batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        keys = self.cached.keys_for(texts, prompt_type=prompt_type, task_name=task_name)
        todo = dict(zip(keys, texts))
        from domainteb.eval.cache import _as_key_array  # the cache's key layout

        shard, _ = self.cached.store.lookup(_as_key_array(list(todo)))
        missing = [(k, t) for (k, t), s in zip(todo.items(), shard.tolist()) if s < 0]
        if missing:
            self._embed_remote(missing, prompt_type, task_name, batch_size)
        return self.cached.encode(texts, prompt_type=prompt_type, task_name=task_name, batch_size=batch_size,
                                  show_progress=show_progress)

    def _embed_remote(self, missing: list[tuple[bytes, str]], prompt_type: PromptType | None,
                      task_name: str | None, batch_size: int) -> None:
        ray = connect(self.settings)
        s = self.settings
        blocks = max(1, min(len(missing) // s.batch_size, 4 * s.actors * 8))
        ds = ray.data.from_items([{"key": np.frombuffer(k, np.uint8), "text": t} for k, t in missing],
                                 override_num_blocks=blocks)
        ds = ds.map_batches(
            EncoderActor,
            fn_constructor_kwargs={"model": self.model_name, "device": self.device, "identity": self.cached.identity,
                                   "prompt_type": prompt_type, "task_name": task_name, "batch_size": batch_size},
            concurrency=s.actors, num_gpus=s.num_gpus or None, num_cpus=s.cpus_per_actor, batch_size=s.batch_size,
            batch_format="numpy",
        )
        written = 0
        for batch in ds.iter_batches(batch_size=s.shard_rows, batch_format="numpy"):
            keys = np.stack(batch["key"]).astype(np.uint8) if batch["key"].dtype == object else batch["key"]
            self.cached.store.write(keys, np.asarray(batch["vector"], np.float32))
            written += len(keys)
        self.remote_texts += written
        log.info("ray: %d texts embedded by %d actor(s) and written to %s", written, s.actors, self.cached.store.path)
