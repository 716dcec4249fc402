"""A deterministic stand-in encoder for testing the embedding cache's bookkeeping."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np


class HashEncoder:
    """Deterministic 8-dim vectors from sha256(prompt + text); counts the texts it embeds.

    Used to test the cache's bookkeeping independently of model speed; the real-model cache
    test uses ``tiny_model``.
    """

    def __init__(self, name: str = "hash", revision: str = "r1", prompts: dict[str, str] | None = None) -> None:
        self.name = name
        self.revision = revision
        self.prompts = prompts or {"query": "q: "}
        self.embedded: list[str] = []

    def prompt_for(self, prompt_type: str | None, task_name: str | None = None) -> str | None:
        return self.prompts.get(prompt_type or "")

    def encode(self, texts: Sequence[str], *, prompt_type=None, task_name=None, batch_size=32, show_progress=False) -> np.ndarray:
        prompt = self.prompt_for(prompt_type, task_name) or ""
        self.embedded.extend(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256((prompt + t).encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(8))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 8)

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision}
