"""``search.*`` settings (Hydra group in ``conf/eval.yaml``), validated once, in effect per run.

The eval stage validates ``cfg.search`` with :meth:`SearchSettings.from_config` (a one-line
error naming the field) and makes it current with :func:`use_settings`; evaluators read
:func:`current_settings` so their signatures stay the same.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domainteb.core.errors import ConfigError


class SearchSettings(BaseModel):
    """How dense retrieval reads, stores and searches a corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "exact"
    #: documents read, encoded and added to the index per step (also the exact search block)
    corpus_chunk_size: int = Field(50_000, ge=1)
    query_chunk_size: int = Field(1024, ge=1)
    #: storage of the corpus embeddings in the exact index: float32 or float16
    dtype: Literal["float32", "float16"] = "float32"
    #: approximate backends: queries whose recall@10 against exact search is measured (0: off)
    recall_sample: int = Field(200, ge=0)
    # FAISS IVF
    nlist: int | None = Field(None, ge=1)
    nprobe: int = Field(32, ge=1)
    train_size: int = Field(50_000, ge=1)
    kmeans_iters: int = Field(10, ge=1)
    # FAISS HNSW
    hnsw_m: int = Field(32, ge=2)
    ef_construction: int = Field(80, ge=1)
    ef_search: int = Field(128, ge=1)
    # FAISS runtime
    faiss_gpu: bool = True
    faiss_threads: int | None = Field(None, ge=1)
    seed: int = 0

    def scoring_key(self) -> dict[str, Any]:
        """The settings that can change a score (result reuse keys on them): exact backends with
        float32 storage rank identically, whatever the chunk sizes."""
        if self.backend in ("exact", "faiss-flat"):
            return {"exact": True, "dtype": self.dtype if self.backend == "exact" else "float32"}
        return self.model_dump(exclude={"corpus_chunk_size", "query_chunk_size", "recall_sample", "faiss_threads"})

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> SearchSettings:
        """Validated settings from ``cfg.search`` (``None`` → defaults); errors name the field."""
        from domainteb.eval.search.backends import BACKENDS

        values = {k: v for k, v in dict(cfg or {}).items() if v is not None}
        try:
            settings = cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(root)"
            got = err.get("input")
            raise ConfigError(f"search.{field}={got!r}: {err['msg']}; see conf/eval.yaml (search:)") from None
        if settings.backend not in BACKENDS:
            raise ConfigError(f"search.backend={settings.backend!r} is unknown; use one of {', '.join(BACKENDS)}")
        return settings


_CURRENT: contextvars.ContextVar[SearchSettings | None] = contextvars.ContextVar("domainteb_search", default=None)


def current_settings() -> SearchSettings:
    return _CURRENT.get() or SearchSettings()


@contextlib.contextmanager
def use_settings(settings: SearchSettings) -> Iterator[SearchSettings]:
    token = _CURRENT.set(settings)
    try:
        yield settings
    finally:
        _CURRENT.reset(token)
