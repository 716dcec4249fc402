"""Fixtures for model-registry tests; ``tiny_model`` and ``cache_dir`` are meant for the root conftest.

Converted models live under ``DOMAINTEB_CACHE`` (the suite-wide test cache set by
``tests/conftest.py``), so each conversion happens once and is reused between runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_fakes import HashEncoder


@pytest.fixture(scope="session")
def tiny_model() -> Any:
    """The 3-layer paraphrase-MiniLM-L3-v2 encoder (17M parameters), uncached, on CPU."""
    from domainteb.eval.models import load_model

    return load_model("minilm-l3", device="cpu", cache=False)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A fresh embedding-cache folder for one test."""
    path = tmp_path / "embeddings"
    path.mkdir()
    return path


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()
