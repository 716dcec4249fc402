"""Fixtures for the scale tests: the 3-layer MiniLM, uncached, on CPU."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_model() -> Any:
    from domainteb.eval.models import load_model

    return load_model("minilm-l3", device="cpu", cache=False)
