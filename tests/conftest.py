"""Suite-wide test settings: offline hub, a shared asset cache, a throwaway MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Offline everywhere: models and data come from pip packages, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted models and built tasks are shared by every test of a run (and kept between runs).
os.environ.setdefault("DOMAINTEB_CACHE", str(REPO / ".cache" / "domainteb-test"))


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes into the project's ./mlruns."""
    store = tmp_path_factory.getbasetemp() / "mlruns"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
