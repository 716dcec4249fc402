"""Fixtures for the leaderboard tests (result folders from the report tests' factory)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from results_factory import make_results_dir  # noqa: E402


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return make_results_dir(tmp_path / "results")
