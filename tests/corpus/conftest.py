"""Fixtures for the corpus tests: the real 3-layer MiniLM's tokenizer."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    from domainteb.corpus import load_tokenizer

    tok, _ = load_tokenizer("minilm-l3")
    return tok
