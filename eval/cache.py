"""Content-hashed on-disk embedding cache shared across tasks, runs and processes.

:class:`CachedEncoder` wraps any :class:`~domainteb.core.encoder.Encoder`. A vector is keyed by
``sha256(model identity, prompt text actually applied, text)``, where the identity is the
model's name and revision (weights sha256 / API base URL). Each distinct text is therefore
embedded once per model and prompt, within a call and across calls and runs.

Storage: one SQLite database per model identity under ``cache_root()/embeddings`` (or
``cache_dir``), in WAL mode so concurrent runs read while one writes; writes are batched
``INSERT OR REPLACE`` transactions (the same key always maps to the same vector, so racing
writers are harmless). Each row keeps the vector's dimension and CRC32: a truncated or
corrupt row is logged once, ignored and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.io import cache_root, stable_hash

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors ("
    " key BLOB PRIMARY KEY, dim INTEGER NOT NULL, crc INTEGER NOT NULL, vec BLOB NOT NULL"
    ") WITHOUT ROWID"
)
_READ_CHUNK = 4096
_COMPUTE_CHUNK = 8192


@dataclass
class CacheStats:
    """Hits = requested texts served without running the model; misses = distinct texts embedded."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt, "hit_rate": self.hit_rate}


class EmbeddingStore:
    """A SQLite file of ``key → float32 vector`` rows with length and checksum checks."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._warned_corrupt = False
        self._lock = threading.Lock()  # one connection per process, shared by its threads

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share a connection across fork
            conn = sqlite3.connect(str(self.path), timeout=120.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=120000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, keys: Sequence[bytes]) -> tuple[dict[bytes, np.ndarray], int]:
        """Valid vectors for the keys present, and the number of corrupt rows skipped."""
        found: dict[bytes, np.ndarray] = {}
        corrupt = 0
        with self._lock:
            try:
                rows = self._select(keys)
            except sqlite3.DatabaseError as exc:
                self._set_aside(exc)
                rows = []
        for key, dim, crc, blob in rows:
            if not isinstance(blob, bytes) or not isinstance(dim, int) or len(blob) != 4 * dim or zlib.crc32(blob) != crc:
                corrupt += 1
                continue
            found[key] = np.frombuffer(blob, dtype=np.float32)
        if corrupt and not self._warned_corrupt:
            log.warning("%s: %d corrupt cache entr%s ignored and recomputed", self.path, corrupt, "y" if corrupt == 1 else "ies")
            self._warned_corrupt = True
        return found, corrupt

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Move a damaged database file aside (logged) and start an empty one; re-raise lock errors."""
        text = str(exc).lower()
        if not ("not a database" in text or "malformed" in text or "corrupt" in text):
            raise exc
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        broken = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(broken) + suffix))
        log.warning("%s: damaged cache database (%s) moved to %s; embeddings will be recomputed", self.path, exc, broken)

    def _select(self, keys: Sequence[bytes]) -> list[tuple[bytes, int, int, bytes]]:
        conn = self._connection()
        rows: list[tuple[bytes, int, int, bytes]] = []
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows.extend(conn.execute(f"SELECT key, dim, crc, vec FROM vectors WHERE key IN ({marks})", chunk))
        return rows

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = []
        for key, vec in items:
            blob = np.ascontiguousarray(vec, dtype=np.float32).tobytes()
            rows.append((key, len(blob) // 4, zlib.crc32(blob), blob))
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO vectors (key, dim, crc, vec) VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("_") or "model"


class CachedEncoder:
    """An Encoder that serves repeated texts from the on-disk store (``stats`` counts hits)."""

    def __init__(self, encoder: Any, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.revision = encoder.revision
        self.identity = stable_hash({"name": encoder.name, "revision": encoder.revision})
        folder = Path(cache_dir) if cache_dir is not None else cache_root() / "embeddings"
        self.store = EmbeddingStore(folder / f"{_safe(encoder.name)}-{self.identity[:16]}.sqlite")
        self.stats = CacheStats()

    def __getattr__(self, item: str) -> Any:  # display_name, labels, model, … of the wrapped encoder
        if item == "encoder":
            raise AttributeError(item)
        return getattr(self.encoder, item)

    def applied_prompt(self, prompt_type: PromptType | None, task_name: str | None) -> str:
        """The prompt text the wrapped encoder applies; unknown encoders key on the arguments."""
        prompt_for = getattr(self.encoder, "prompt_for", None)
        if prompt_for is not None:
            return prompt_for(prompt_type, task_name) or ""
        return f"\x00{prompt_type}\x00{task_name}"

    def key(self, text: str, prompt: str) -> bytes:
        h = hashlib.sha256(self.identity.encode())
        h.update(b"\x00" + prompt.encode("utf-8") + b"\x00" + text.encode("utf-8", "surrogatepass"))
        return h.digest()

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: PromptType | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        texts = list(texts)
        prompt = self.applied_prompt(prompt_type, task_name)
        keys = [self.key(t, prompt) for t in texts]
        unique: dict[bytes, str] = dict(zip(keys, texts))
        found, corrupt = self.store.get_many(list(unique))
        self.stats.corrupt += corrupt
        missing = [k for k in unique if k not in found]
        for start in range(0, len(missing), _COMPUTE_CHUNK):
            chunk = missing[start : start + _COMPUTE_CHUNK]
            vectors = np.asarray(
                self.encoder.encode([unique[k] for k in chunk], prompt_type=prompt_type, task_name=task_name,
                                    batch_size=batch_size, show_progress=show_progress),
                dtype=np.float32,
            )
            self.store.put_many(zip(chunk, vectors))
            found.update(zip(chunk, vectors))
        self.stats.misses += len(missing)
        self.stats.hits += len(texts) - len(missing)
        if not texts:
            return self.encoder.encode([], prompt_type=prompt_type, task_name=task_name)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def model_info(self) -> dict[str, Any]:
        return self.encoder.model_info()
