"""The interface evaluators use to embed text, and to search with lexical models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

PromptType = Literal["query", "document"]


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into a float32 matrix (one row per text)."""

    #: stable identity used in results and cache keys (name + revision/weights hash).
    name: str
    revision: str

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: PromptType | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray: ...

    def model_info(self) -> dict[str, Any]:
        """Name, revision, parameters, embedding dim, licence, labels (e.g. int8-dequantized)."""
        ...


@runtime_checkable
class SearchModel(Protocol):
    """A model that scores documents for queries itself (BM25); used for retrieval/reranking."""

    name: str
    revision: str

    def search(
        self,
        corpus: dict[str, dict[str, str]],
        queries: dict[str, str],
        top_k: int,
        candidates: dict[str, list[str]] | None = None,
    ) -> dict[str, dict[str, float]]:
        """Return query id -> {doc id: score} for the best ``top_k`` docs (or all candidates)."""
        ...

    def model_info(self) -> dict[str, Any]: ...
