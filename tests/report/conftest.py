"""Fixtures for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from results_factory import make_results_dir


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return make_results_dir(tmp_path / "results")
