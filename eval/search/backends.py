"""Search backends behind one small interface: ``add`` documents, ``search`` queries, ``clear``.

* ``exact`` (default): the corpus as one ``float32``/``float16`` matrix, searched with
  :class:`~domainteb.eval.search.topk.StreamingTopK` block by block (torch).
* ``faiss-flat``: FAISS ``IndexFlatIP``: exact, equal to ``exact`` on ids and to 1e-6 on scores.
* ``faiss-ivf``: FAISS ``IndexIVFFlat`` (approximate; trained on the first ``train_size``
  documents added, at least 39 per list; ``nlist`` ≈ √N unless given; ``nprobe`` lists searched).
* ``faiss-hnsw``: FAISS ``IndexHNSWFlat`` (approximate; ``hnsw_m`` links, ``ef_search``).

Vectors arrive already prepared (L2-normalised for cosine), so every backend ranks by inner
product. FAISS indexes move to the GPU when the installed FAISS has GPU support and a GPU is
visible. Backends are registered in :data:`BACKENDS` by name (``search.backend=...``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from domainteb.core.errors import ConfigError
from domainteb.core.registry import Registry
from domainteb.eval.search.settings import SearchSettings
from domainteb.eval.search.topk import StreamingTopK, TopK

log = logging.getLogger(__name__)


class SearchIndex(Protocol):
    """What every backend offers; rows are numbered in the order they were added."""

    name: str
    approximate: bool

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> TopK: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...

    def describe(self) -> dict[str, Any]: ...


IndexFactory = Callable[[int, SearchSettings, int | None], SearchIndex]
BACKENDS: Registry[IndexFactory] = Registry("search backend")


def make_index(dim: int, settings: SearchSettings, expected_size: int | None = None) -> SearchIndex:
    """A fresh, empty index of ``settings.backend`` for ``dim``-dimensional vectors."""
    return BACKENDS.get(settings.backend)(dim, settings, expected_size)


# ----------------------------------------------------------------------------- exact (torch)


class ExactIndex:
    """One matrix of the corpus at ``settings.dtype``, grown in place; exact streamed top-k."""

    approximate = False

    def __init__(self, dim: int, settings: SearchSettings, expected_size: int | None = None) -> None:
        self.name = "exact"
        self.dim = dim
        self.dtype = np.dtype(settings.dtype)
        self.block = settings.corpus_chunk_size
        self.query_chunk = settings.query_chunk_size
        self._data = np.empty((max(0, expected_size or 0), dim), self.dtype)
        self._n = 0

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dim {self.dim}, got shape {vectors.shape}")
        need = self._n + len(vectors)
        if need > len(self._data):  # grow geometrically (one copy held; the old buffer is freed)
            grown = np.empty((max(need, int(len(self._data) * 1.5) + 1024), self.dim), self.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = vectors
        self._n = need

    def search(self, queries: np.ndarray, k: int) -> TopK:
        stream = StreamingTopK(queries, min(k, self._n), query_chunk=self.query_chunk)
        step = max(1, min(self.block, stream.doc_block()))
        for start in range(0, self._n, step):
            stream.update(self._data[start : min(start + step, self._n)].astype(np.float32, copy=False))
        return stream.result()

    def clear(self) -> None:
        self._data = np.empty((0, self.dim), self.dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "dtype": self.dtype.name, "approximate": False, "device": "cpu"}


BACKENDS.register("exact", ExactIndex)


# ----------------------------------------------------------------------------- FAISS


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("search.backend=faiss-* needs FAISS: pip install faiss-cpu (or faiss-gpu)") from None
    return faiss


def faiss_gpus() -> int:
    """GPUs FAISS can use here (0 for faiss-cpu or without a visible GPU)."""
    faiss = _faiss()
    getter = getattr(faiss, "get_num_gpus", None)
    return int(getter()) if getter is not None else 0


class FaissIndex:
    """Shared FAISS plumbing: float32 rows in, inner-product top-k out, optional GPU."""

    approximate = True

    def __init__(self, dim: int, settings: SearchSettings, expected_size: int | None = None) -> None:
        self.faiss = _faiss()
        self.dim = dim
        self.settings = settings
        self.expected_size = expected_size
        self.device = "cpu"
        self._index: Any = None
        self._pending: list[np.ndarray] = []  # rows held back until an IVF index can be trained
        self._pending_n = 0
        threads = settings.faiss_threads
        if threads:
            self.faiss.omp_set_num_threads(int(threads))

    # subclasses build the CPU index; trained indexes may need rows first
    def _build(self, sample: np.ndarray | None) -> Any:
        raise NotImplementedError

    def _needs_training(self) -> bool:
        return False

    def _to_device(self, index: Any) -> Any:
        if self.settings.faiss_gpu and faiss_gpus() > 0:
            res = self.faiss.StandardGpuResources()
            self.device = "cuda"
            return self.faiss.index_cpu_to_gpu(res, 0, index)
        return index

    def add(self, vectors: np.ndarray) -> None:
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dim {self.dim}, got shape {x.shape}")
        if self._index is None and self._needs_training():
            self._pending.append(x)
            self._pending_n += len(x)
            if self._pending_n < self._train_rows():
                return
            self._flush()
            return
        if self._index is None:
            self._index = self._to_device(self._build(None))
        self._index.add(x)

    def _train_rows(self) -> int:
        return self.settings.train_size

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_n = [], 0
        if self._index is None:
            self._index = self._to_device(self._build(rows[: self._train_rows()]))
        self._index.add(rows)

    def search(self, queries: np.ndarray, k: int) -> TopK:
        self._flush()
        n = len(self)
        k = min(int(k), n)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if k == 0 or len(q) == 0:
            return TopK(np.zeros((len(q), k), np.float32), np.zeros((len(q), k), np.int64))
        self._set_search_params()
        scores, ids = self._index.search(q, k)
        return TopK(scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False))

    def _set_search_params(self) -> None:
        return None

    def clear(self) -> None:
        self._index = None
        self._pending, self._pending_n = [], 0

    def __len__(self) -> int:
        return (self._index.ntotal if self._index is not None else 0) + self._pending_n

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "dtype": "float32", "approximate": self.approximate, "device": self.device}


class FaissFlatIndex(FaissIndex):
    approximate = False
    name = "faiss-flat"

    def _build(self, sample: np.ndarray | None) -> Any:
        return self.faiss.IndexFlatIP(self.dim)


class FaissIVFIndex(FaissIndex):
    name = "faiss-ivf"

    def __init__(self, dim: int, settings: SearchSettings, expected_size: int | None = None) -> None:
        super().__init__(dim, settings, expected_size)
        self.nlist = 0

    def _needs_training(self) -> bool:
        return True

    def _train_rows(self) -> int:
        return max(self.settings.train_size, 39 * self._nlist_for(self.expected_size or self.settings.train_size))

    def _nlist_for(self, n: int) -> int:
        if self.settings.nlist:
            return int(self.settings.nlist)
        return max(1, int(math.sqrt(max(1, n))))

    def _build(self, sample: np.ndarray | None) -> Any:
        assert sample is not None
        self.nlist = max(1, min(self._nlist_for(self.expected_size or len(sample)), len(sample) // 39 or 1))
        quantizer = self.faiss.IndexFlatIP(self.dim)
        index = self.faiss.IndexIVFFlat(quantizer, self.dim, self.nlist, self.faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = self.settings.kmeans_iters
        index.cp.seed = self.settings.seed
        index.train(sample)
        self._quantizer = quantizer  # keep it alive as long as the index
        return index

    def _set_search_params(self) -> None:
        self._index.nprobe = min(self.settings.nprobe, self.nlist)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "nlist": self.nlist, "nprobe": min(self.settings.nprobe, self.nlist or self.settings.nprobe)}


class FaissHNSWIndex(FaissIndex):
    name = "faiss-hnsw"

    def _build(self, sample: np.ndarray | None) -> Any:
        index = self.faiss.IndexHNSWFlat(self.dim, self.settings.hnsw_m, self.faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.settings.ef_construction
        return index

    def _to_device(self, index: Any) -> Any:  # FAISS has no GPU HNSW: it stays on the CPU
        return index

    def _set_search_params(self) -> None:
        self._index.hnsw.efSearch = max(self.settings.ef_search, 1)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "hnsw_m": self.settings.hnsw_m, "ef_search": self.settings.ef_search}


BACKENDS.register("faiss-flat", FaissFlatIndex)
BACKENDS.register("faiss-ivf", FaissIVFIndex)
BACKENDS.register("faiss-hnsw", FaissHNSWIndex)
