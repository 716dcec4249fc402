"""Content-hashed on-disk embedding cache: memmapped shards shared across tasks, runs and processes.

:class:`CachedEncoder` wraps any :class:`~domainteb.core.encoder.Encoder`. A vector is keyed by
:func:`text_key` = ``sha256(model identity, prompt text actually applied, text)``; the model
identity (:func:`model_identity`, the one cache-key builder) is the model's name, its weights
revision and, for sentence-transformers models, the full configuration that changes an
embedding: modules and their settings (pooling, normalisation, dense layers), max_seq_length,
the transformer config, the tokenizer's complete definition, backend and precision. Each
distinct text is embedded once per model and prompt, within a call and across calls and runs.

Storage (:class:`ShardStore`): one folder per model identity under ``cache_root()/embeddings``
(or ``cache_dir``) holding immutable shards. A shard is a folder ``shard-<id>/`` with
``keys.npy`` (N × 32 bytes), ``vectors.npy`` (N × dim float32, read memory-mapped) and
``meta.json`` (sizes and CRC32s). A writer builds it as ``.tmp-<id>/`` (files fsynced) and
publishes it with one atomic rename, so a writer killed at any instant (``kill -9``) leaves
either a complete shard or a ``.tmp-`` folder that readers ignore and later remove. Readers
check sizes on load and the vectors' CRC32 on first use; a damaged shard is moved aside
(``corrupt-<id>``, logged) and its rows are recomputed, never trusted. Concurrent writers
never touch the same files; a text written twice is harmless (same key, same vector).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.io import cache_root, stable_hash
from domainteb.core.paths import slug

log = logging.getLogger(__name__)

KEY_BYTES = 32
_COMPUTE_CHUNK = 8192  # texts embedded (and published as one shard) per step
_STALE_TMP_SECONDS = 3600.0  # a .tmp- folder this old is a dead writer's leftover
_OPEN_SHARDS = 4  # memory maps kept open (a mapping's resident pages count towards RSS)
_CRC_BLOCK = 1 << 22


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


# ----------------------------------------------------------------------------- keys


def model_identity(encoder: Any) -> dict[str, Any]:
    """Everything about a model that changes its embeddings (the one cache-key builder's input)."""
    ident: dict[str, Any] = {"name": str(encoder.name), "revision": str(encoder.revision)}
    extra = getattr(encoder, "cache_identity", None)
    if callable(extra):
        ident["config"] = extra()
    return ident


def identity_hash(encoder: Any) -> str:
    return stable_hash(model_identity(encoder))


def text_key(identity: str, prompt: str, text: str) -> bytes:
    """The 32-byte key of ``text`` embedded with ``prompt`` by the model of ``identity``."""
    h = hashlib.sha256(identity.encode())
    h.update(b"\x00" + prompt.encode("utf-8") + b"\x00" + text.encode("utf-8", "surrogatepass"))
    return h.digest()


def _as_key_array(keys: Sequence[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)


def _prefix(keys: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(keys[:, :8]).view("<u8").ravel()


# ----------------------------------------------------------------------------- shards


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_crc(path: Path, offset: int) -> int:
    crc = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while block := fh.read(_CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc


def _npy_data_offset(path: Path) -> int:
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(fh)
        else:
            np.lib.format.read_array_header_2_0(fh)
        return fh.tell()


@dataclass
class _Shard:
    name: str
    path: Path
    n: int
    dim: int
    vectors_crc: int
    checked: bool = False


class ShardStore:
    """A folder of immutable, atomically published ``keys → float32 vectors`` shards."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._shards: list[_Shard] = []
        self._loaded: set[str] = set()
        self._keys = np.zeros((0, KEY_BYTES), np.uint8)
        self._sorted_prefix = np.zeros(0, "<u8")
        self._order = np.zeros(0, np.int64)
        self._shard_of = np.zeros(0, np.int32)
        self._row_of = np.zeros(0, np.int64)
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._warned = False
        self._swept = False

    # ---------------------------------------------------------------- loading
    def refresh(self) -> None:
        """Load shards published since the last call (cheap when nothing changed)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        if not self._swept:
            self._sweep_tmp()
        names = sorted(p.name for p in self.path.glob("shard-*") if p.name not in self._loaded)
        new_keys, new_shard, new_row = [], [], []
        for name in names:
            shard = self._open_shard(self.path / name)
            self._loaded.add(name)
            if shard is None:
                continue
            keys = np.load(shard.path / "keys.npy", allow_pickle=False)
            self._shards.append(shard)
            new_keys.append(keys)
            new_shard.append(np.full(len(keys), len(self._shards) - 1, np.int32))
            new_row.append(np.arange(len(keys), dtype=np.int64))
        if not new_keys:
            return
        self._keys = np.concatenate([self._keys, *new_keys])
        self._shard_of = np.concatenate([self._shard_of, *new_shard])
        self._row_of = np.concatenate([self._row_of, *new_row])
        prefix = _prefix(self._keys)
        self._order = np.argsort(prefix, kind="stable")
        self._sorted_prefix = prefix[self._order]

    def _open_shard(self, path: Path) -> _Shard | None:
        """A published shard after size checks; ``None`` (and moved aside) when damaged."""
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            n, dim = int(meta["n"]), int(meta["dim"])
            keys_file, vec_file = path / "keys.npy", path / "vectors.npy"
            keys_offset, vec_offset = _npy_data_offset(keys_file), _npy_data_offset(vec_file)
            if keys_file.stat().st_size != keys_offset + n * KEY_BYTES:
                raise ValueError("keys.npy has the wrong size")
            if vec_file.stat().st_size != vec_offset + n * dim * 4:
                raise ValueError("vectors.npy has the wrong size")
            if _file_crc(keys_file, keys_offset) != int(meta["keys_crc"]):
                raise ValueError("keys.npy checksum mismatch")
            return _Shard(path.name, path, n, dim, int(meta["vectors_crc"]))
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            self._set_aside(path, str(exc))
            return None

    def _set_aside(self, path: Path, why: str) -> None:
        target = path.with_name("corrupt-" + path.name.removeprefix("shard-"))
        try:
            os.replace(path, target)
        except OSError:
            target = path  # another process moved it already
        if not self._warned:
            log.warning("%s: corrupt cache shard (%s) moved to %s; its embeddings will be recomputed", path, why, target.name)
            self._warned = True

    def _sweep_tmp(self) -> None:
        """Remove unfinished shards of writers that died (older than an hour)."""
        self._swept = True
        now = time.time()
        for tmp in self.path.glob(".tmp-*"):
            try:
                if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                continue

    # ---------------------------------------------------------------- reading
    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard number, row) per key; shard number -1 where the key is absent."""
        with self._lock:
            self._refresh()
            n = len(keys)
            shard = np.full(n, -1, np.int32)
            row = np.zeros(n, np.int64)
            if n == 0 or len(self._sorted_prefix) == 0:
                return shard, row
            pos = np.searchsorted(self._sorted_prefix, _prefix(keys))
            ok = pos < len(self._sorted_prefix)
            cand = self._order[np.where(ok, pos, 0)]
            ok &= (self._keys[cand] == keys).all(axis=1)  # full 32-byte match (prefix ties are ~impossible)
            shard[ok] = self._shard_of[cand[ok]]
            row[ok] = self._row_of[cand[ok]]
            return shard, row

    def read(self, shard: np.ndarray, row: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Copy the vectors at (shard, row) into ``out``; returns the mask of rows read (a damaged
        shard's rows are ``False``)."""
        valid = shard >= 0
        with self._lock:
            for s in np.unique(shard[valid]).tolist():
                sel = np.nonzero(shard == s)[0]
                vectors = self._vectors(int(s))
                if vectors is None:
                    valid[sel] = False
                    continue
                rows = row[sel]
                order = np.argsort(rows, kind="stable")  # sequential page access
                out[sel[order]] = vectors[rows[order]]
        return valid

    def _vectors(self, s: int) -> np.ndarray | None:
        if s in self._maps:
            self._maps.move_to_end(s)
            return self._maps[s]
        shard = self._shards[s]
        if shard is None:
            return None
        vec_file = shard.path / "vectors.npy"
        try:
            if not shard.checked:
                if _file_crc(vec_file, _npy_data_offset(vec_file)) != shard.vectors_crc:
                    raise ValueError("vectors.npy checksum mismatch")
                shard.checked = True
            mm = np.load(vec_file, mmap_mode="r", allow_pickle=False)
            if mm.shape != (shard.n, shard.dim) or mm.dtype != np.float32:
                raise ValueError(f"vectors.npy holds {mm.shape} {mm.dtype}")
        except (OSError, ValueError) as exc:
            self._set_aside(shard.path, str(exc))
            self._shards[s] = None  # type: ignore[call-overload]
            return None
        self._maps[s] = mm
        while len(self._maps) > _OPEN_SHARDS:
            self._maps.popitem(last=False)
        return mm

    # ---------------------------------------------------------------- writing
    def write(self, keys: np.ndarray, vectors: np.ndarray) -> Path | None:
        """Publish one shard atomically (fsynced files, then one rename); returns its folder."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        keys = np.ascontiguousarray(keys, dtype=np.uint8)
        if len(keys) == 0:
            return None
        if vectors.ndim != 2 or len(vectors) != len(keys) or keys.shape[1:] != (KEY_BYTES,):
            raise ValueError(f"shard needs N keys and N vectors, got {keys.shape} and {vectors.shape}")
        shard_id = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = self.path / f".tmp-{shard_id}"
        tmp.mkdir(parents=True)
        try:
            for name, array in (("keys.npy", keys), ("vectors.npy", vectors)):
                with open(tmp / name, "wb") as fh:
                    np.lib.format.write_array(fh, array, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
            meta = {"n": len(keys), "dim": int(vectors.shape[1]), "dtype": "float32",
                    "keys_crc": zlib.crc32(keys.tobytes()), "vectors_crc": zlib.crc32(vectors.data)}
            with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
                json.dump(meta, fh)
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(tmp)
            final = self.path / f"shard-{shard_id}"
            os.rename(tmp, final)
            _fsync_dir(self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def __len__(self) -> int:
        """Distinct keys stored."""
        with self._lock:
            self._refresh()
            return int(len(np.unique(self._sorted_prefix)))

    @property
    def n_shards(self) -> int:
        with self._lock:
            self._refresh()
            return sum(1 for s in self._shards if s is not None)

    def close(self) -> None:
        with self._lock:
            self._maps.clear()


# ----------------------------------------------------------------------------- the encoder


class CachedEncoder:
    """An Encoder that serves repeated texts from the on-disk shards (``stats`` counts hits)."""

    def __init__(self, encoder: Any, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.revision = encoder.revision
        self.folder = Path(cache_dir) if cache_dir is not None else cache_root() / "embeddings"
        self._stores: dict[str, ShardStore] = {}
        self.stats = CacheStats()

    def __getattr__(self, item: str) -> Any:  # display_name, labels, model, … of the wrapped encoder
        if item == "encoder":
            raise AttributeError(item)
        return getattr(self.encoder, item)

    @property
    def identity(self) -> str:
        """Hash of :func:`model_identity` now (re-read each call: max_seq_length may change)."""
        return identity_hash(self.encoder)

    @property
    def store(self) -> ShardStore:
        identity = self.identity
        if identity not in self._stores:
            self._stores[identity] = ShardStore(self.folder / f"{slug(self.encoder.name)}-{identity[:16]}")
        return self._stores[identity]

    def applied_prompt(self, prompt_type: PromptType | None, task_name: str | None) -> str:
        """The prompt text the wrapped encoder applies; unknown encoders key on the arguments."""
        prompt_for = getattr(self.encoder, "prompt_for", None)
        if prompt_for is not None:
            return prompt_for(prompt_type, task_name) or ""
        return f"\x00{prompt_type}\x00{task_name}"

    def key(self, text: str, prompt: str) -> bytes:
        return text_key(self.identity, prompt, text)

    def keys_for(self, texts: Sequence[str], *, prompt_type: PromptType | None = None,
                 task_name: str | None = None) -> list[bytes]:
        identity, prompt = self.identity, self.applied_prompt(prompt_type, task_name)
        return [text_key(identity, prompt, t) for t in texts]

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors computed elsewhere (another engine's workers) under their keys."""
        self.store.write(_as_key_array(list(keys)), vectors)

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
        if not texts:
            return self.encoder.encode([], prompt_type=prompt_type, task_name=task_name)
        store = self.store
        keys = self.keys_for(texts, prompt_type=prompt_type, task_name=task_name)
        first: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        unique = list(first)
        key_array = _as_key_array(unique)
        shard, row = store.lookup(key_array)
        dims = {store._shards[s].dim for s in np.unique(shard[shard >= 0]).tolist() if store._shards[s] is not None}
        dim = dims.pop() if len(dims) == 1 else None
        vectors: np.ndarray | None = np.empty((len(unique), dim), np.float32) if dim is not None else None
        have = store.read(shard, row, vectors) if vectors is not None else np.zeros(len(unique), bool)
        self.stats.corrupt += int(((shard >= 0) & ~have).sum())
        missing = np.nonzero(~have)[0]
        for start in range(0, len(missing), _COMPUTE_CHUNK):
            sel = missing[start : start + _COMPUTE_CHUNK]
            computed = np.asarray(
                self.encoder.encode([texts[first[unique[i]]] for i in sel.tolist()], prompt_type=prompt_type,
                                    task_name=task_name, batch_size=batch_size, show_progress=show_progress),
                dtype=np.float32,
            )
            if vectors is None:
                vectors = np.empty((len(unique), computed.shape[1]), np.float32)
            if computed.ndim != 2 or computed.shape != (len(sel), vectors.shape[1]):
                raise ValueError(f"model {self.name!r} returned embeddings of shape {computed.shape} for {len(sel)} "
                                 f"texts; the cache in {store.path} holds {vectors.shape[1]}-dim vectors")
            vectors[sel] = computed
            store.write(key_array[sel], computed)
        self.stats.misses += len(missing)
        self.stats.hits += len(texts) - len(missing)
        assert vectors is not None
        if len(unique) == len(texts):
            return vectors
        index = {k: j for j, k in enumerate(unique)}
        return vectors[np.fromiter((index[k] for k in keys), np.int64, count=len(keys))]

    def model_info(self) -> dict[str, Any]:
        return self.encoder.model_info()
