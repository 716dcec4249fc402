"""Dense retrieval over a streamed corpus: chunks in, one index, top-k out, with accounting.

:func:`stream_search` consumes embedding chunks (each computed or read from the cache when
the iterator asks for it), adds each to the chosen backend and forgets it, so at most one
copy of the corpus embeddings (the index's) is held. For approximate backends it also runs
exact search for a fixed sample of queries on the same chunks and records recall@10.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from domainteb.eval.search.backends import make_index
from domainteb.eval.search.settings import SearchSettings
from domainteb.eval.search.topk import Score, StreamingTopK, TopK, prepare, recall_at

RECALL_K = 10


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class SearchRecord:
    """What a dense search did, recorded in the result's settings and in MLflow."""

    backend: str
    dtype: str
    device: str
    approximate: bool
    corpus_chunk_size: int
    n_documents: int = 0
    index_seconds: float = 0.0  # encode/read + add, over all chunks
    search_seconds: float = 0.0
    passages_per_second: float = 0.0
    peak_rss_bytes: int = 0
    recall_at_10: float | None = None  # approximate backends, against exact search
    recall_sample: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _progress(total: int | None, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="passage", unit_scale=True, desc="corpus", leave=False,
                mininterval=1.0)


def stream_search(
    query_emb: np.ndarray,
    doc_chunks: Iterable[np.ndarray],
    k: int,
    *,
    score: Score,
    settings: SearchSettings,
    n_documents: int | None = None,
    show_progress: bool = False,
) -> tuple[TopK, SearchRecord]:
    """Top-``k`` rows (in chunk order) per query, and the :class:`SearchRecord` of the run."""
    queries = prepare(query_emb, score)
    index = None
    probe: StreamingTopK | None = None
    sample = np.zeros(0, np.int64)
    start = time.perf_counter()
    with _progress(n_documents, show_progress) as bar:
        for chunk in doc_chunks:
            docs = prepare(chunk, score)
            if index is None:
                index = make_index(docs.shape[1], settings, n_documents)
                if index.approximate and settings.recall_sample and len(queries):
                    rng = np.random.default_rng(settings.seed)
                    sample = np.sort(rng.choice(len(queries), min(settings.recall_sample, len(queries)), replace=False))
                    probe = StreamingTopK(queries[sample], RECALL_K, query_chunk=settings.query_chunk_size)
            index.add(docs)
            if probe is not None:
                probe.update(docs)
            bar.update(len(docs))
            if bar.format_dict.get("elapsed"):
                bar.set_postfix_str(f"{bar.n / max(bar.format_dict['elapsed'], 1e-9):,.0f} passages/s", refresh=False)
            del docs, chunk
    index_seconds = time.perf_counter() - start
    if index is None:  # empty corpus
        from domainteb.eval.search.backends import BACKENDS

        empty = TopK(np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        record = SearchRecord(backend=settings.backend, dtype=settings.dtype, device="cpu",
                              approximate=settings.backend not in ("exact", "faiss-flat"),
                              corpus_chunk_size=settings.corpus_chunk_size, peak_rss_bytes=peak_rss_bytes())
        assert settings.backend in BACKENDS
        return empty, record
    start = time.perf_counter()
    found = index.search(queries, k)
    search_seconds = time.perf_counter() - start
    desc = index.describe()
    record = SearchRecord(
        backend=desc.pop("backend"), dtype=desc.pop("dtype"), device=desc.pop("device"),
        approximate=bool(desc.pop("approximate")), corpus_chunk_size=settings.corpus_chunk_size,
        n_documents=len(index), index_seconds=index_seconds, search_seconds=search_seconds,
        passages_per_second=len(index) / max(index_seconds, 1e-9), params=desc,
    )
    if probe is not None:
        exact = probe.result()
        approx = index.search(queries[sample], RECALL_K) if k < RECALL_K else TopK(found.scores[sample], found.indices[sample])
        record.recall_at_10 = recall_at(approx.indices, exact.indices, RECALL_K)
        record.recall_sample = len(sample)
    index.clear()
    record.peak_rss_bytes = peak_rss_bytes()
    return found, record
