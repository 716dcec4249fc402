"""Where a public dataset can be read from, and why not when it cannot.

Order: a local copy under ``$DOMAINTEB_HF_DATA/<org>/<name>`` (a folder laid out like the hub
repository, e.g. from ``huggingface-cli download --repo-type dataset``), then the pinned
revision's snapshot in the local Hugging Face hub cache, then the hub itself. The hub is only
tried when ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` are unset and a TCP connection to it
opens within :data:`PROBE_TIMEOUT_S` seconds (checked once per process), so an offline machine
learns quickly that a task is unavailable.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

LOCAL_DATA_ENV = "DOMAINTEB_HF_DATA"
PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class DataSource:
    """Resolved location of a dataset: a local folder, or the hub id with its revision."""

    path: str
    revision: str | None
    local: bool


def hub_offline_flag() -> bool:
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~/.cache"), "huggingface")
    return Path(hf_home) / "hub"


def local_copy(repo_id: str) -> Path | None:
    """``$DOMAINTEB_HF_DATA/<org>/<name>`` when that folder exists."""
    root = os.environ.get(LOCAL_DATA_ENV)
    if not root:
        return None
    folder = Path(root).expanduser() / repo_id
    return folder if folder.is_dir() else None


def cached_snapshot(repo_id: str, revision: str) -> Path | None:
    """The hub-cache snapshot folder of ``repo_id`` at ``revision`` (a commit or a cached ref)."""
    repo_dir = hub_cache_dir() / ("datasets--" + repo_id.replace("/", "--"))
    if not repo_dir.is_dir():
        return None
    commit = revision
    ref = repo_dir / "refs" / revision
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
    snap = repo_dir / "snapshots" / commit
    return snap if snap.is_dir() else None


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """True when a TCP connection to the hub endpoint opens quickly (DNS included, thread-bounded)."""
    if hub_offline_flag():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    port = urlparse(endpoint).port or 443
    result: list[bool] = []

    def _probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=_probe, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S + 0.5)
    return bool(result and result[0])


def resolve(repo_id: str, revision: str) -> DataSource | str:
    """Where to read ``repo_id@revision`` from, or a one-line reason why it is unavailable."""
    local = local_copy(repo_id)
    if local is not None:
        return DataSource(str(local), None, True)
    snap = cached_snapshot(repo_id, revision)
    if snap is not None:
        return DataSource(str(snap), None, True)
    if hub_reachable():
        return DataSource(repo_id, revision, False)
    why = "HF_HUB_OFFLINE is set" if hub_offline_flag() else "Hugging Face hub unreachable"
    return (
        f"{why} and dataset {repo_id}@{revision[:10]} not in the local HF cache ({hub_cache_dir()}); "
        f"go online once or put a copy under ${LOCAL_DATA_ENV}/{repo_id}"
    )


def unavailable_reason(repo_id: str, revision: str) -> str | None:
    found = resolve(repo_id, revision)
    return found if isinstance(found, str) else None
