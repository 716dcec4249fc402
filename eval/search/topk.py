"""Exact top-k by cosine or dot product, streamed over document chunks.

:class:`StreamingTopK` keeps a running top-k per query while document blocks arrive, so no
query × corpus score matrix is ever held: memory is ``query_chunk × doc_chunk`` scores plus
``n_queries × k`` winners. :func:`top_k` (one call over an in-memory matrix), the exact
search backend and the approximate backends' recall probe all use it. Candidate scoring
(reranking) multiplies each query with its own candidate block only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Score = Literal["cosine", "dot"]

#: upper bound on the number of scores held at once (floats): 16M ≈ 64 MiB.
MAX_SCORES_IN_MEMORY = 1 << 24


@dataclass
class TopK:
    """Best ``k`` documents per query: ``scores[i, j]`` is the j-th best score of query i."""

    scores: np.ndarray  # float32 [n_queries, k], sorted descending
    indices: np.ndarray  # int64 [n_queries, k], row indices into the document matrix


def check_score(score: str) -> Score:
    if score not in ("cosine", "dot"):
        raise ValueError(f"unknown score {score!r}; use 'cosine' or 'dot'")
    return score  # type: ignore[return-value]


def prepare(x: np.ndarray, score: Score) -> np.ndarray:
    """float32 rows, L2-normalised for cosine (torch's arithmetic, as mteb uses)."""
    import torch

    check_score(score)
    t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    if score == "cosine" and len(t):
        t = torch.nn.functional.normalize(t, p=2, dim=1)
    return t.numpy()


class StreamingTopK:
    """Running exact top-``k`` of fixed (already prepared) queries over streamed document blocks."""

    def __init__(self, queries: np.ndarray, k: int, *, query_chunk: int = 1024) -> None:
        import torch

        self.q = torch.as_tensor(np.ascontiguousarray(queries, dtype=np.float32))
        self.k = max(0, int(k))
        self.query_chunk = max(1, min(query_chunk, max(1, len(self.q))))
        self.n_seen = 0
        self._best_s: list = [None] * ((len(self.q) + self.query_chunk - 1) // self.query_chunk)
        self._best_i: list = [None] * len(self._best_s)

    def doc_block(self) -> int:
        """Document rows per product so that ``query_chunk × block`` stays within the score budget."""
        return max(self.k, 1, MAX_SCORES_IN_MEMORY // self.query_chunk)

    def update(self, docs: np.ndarray) -> None:
        """Score prepared document rows (numbered after those seen so far) and merge the winners."""
        import torch

        n = len(docs)
        if n == 0 or self.k == 0:
            self.n_seen += n
            return
        step = self.doc_block()
        with torch.inference_mode():
            for ds in range(0, n, step):
                block = torch.as_tensor(np.ascontiguousarray(docs[ds : ds + step], dtype=np.float32))
                offset = self.n_seen + ds
                for c, qs in enumerate(range(0, len(self.q), self.query_chunk)):
                    s = self.q[qs : qs + self.query_chunk] @ block.T
                    kk = min(self.k, s.shape[1])
                    s, i = torch.topk(s, kk, dim=1, largest=True, sorted=False)
                    i = i + offset
                    if self._best_s[c] is not None:
                        s = torch.cat([self._best_s[c], s], dim=1)
                        i = torch.cat([self._best_i[c], i], dim=1)
                        if s.shape[1] > self.k:
                            s, pos = torch.topk(s, self.k, dim=1, largest=True, sorted=False)
                            i = torch.gather(i, 1, pos)
                    self._best_s[c], self._best_i[c] = s, i
        self.n_seen += n

    def result(self) -> TopK:
        import torch

        n_q = len(self.q)
        k = min(self.k, self.n_seen)
        scores = np.zeros((n_q, k), np.float32)
        indices = np.zeros((n_q, k), np.int64)
        if k == 0:
            return TopK(scores, indices)
        for c, qs in enumerate(range(0, n_q, self.query_chunk)):
            s, i = self._best_s[c], self._best_i[c]
            # ties keep the lower row first: sort by row, then stably by score
            by_row = torch.argsort(i, dim=1)
            s, i = torch.gather(s, 1, by_row), torch.gather(i, 1, by_row)
            order = torch.argsort(s, dim=1, descending=True, stable=True)
            scores[qs : qs + len(s)] = torch.gather(s, 1, order).numpy()
            indices[qs : qs + len(s)] = torch.gather(i, 1, order).numpy()
        return TopK(scores, indices)


def top_k(
    queries: np.ndarray,
    docs: np.ndarray,
    k: int,
    *,
    score: Score = "cosine",
    query_chunk: int = 1024,
    doc_chunk: int | None = None,
) -> TopK:
    """Exact top-``k`` documents for every query (``k`` is capped at the corpus size)."""
    n_q = len(queries)
    k = max(0, min(int(k), len(docs)))
    if n_q == 0 or k == 0:
        return TopK(np.zeros((n_q, k), np.float32), np.zeros((n_q, k), np.int64))
    stream = StreamingTopK(prepare(queries, score), k, query_chunk=query_chunk)
    step = max(1, doc_chunk or stream.doc_block())
    for ds in range(0, len(docs), step):
        stream.update(prepare(docs[ds : ds + step], score))
    return stream.result()


def recall_at(found: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the exact top-``k`` rows that ``found`` also returns in its top ``k``."""
    if len(exact) == 0 or exact.shape[1] == 0:
        return 1.0
    k = min(k, exact.shape[1])
    hits = [len(set(f[:k].tolist()) & set(e[:k].tolist())) / k for f, e in zip(found, exact)]
    return float(np.mean(hits))


def as_run(query_ids: Iterable[str], found: TopK, doc_ids: list[str]) -> dict[str, dict[str, float]]:
    """BEIR-style run ``{query id: {doc id: score}}`` from row indices (``-1`` = no hit)."""
    ids = np.asarray(doc_ids, dtype=object)
    run: dict[str, dict[str, float]] = {}
    for qid, row_s, row_i in zip(query_ids, found.scores, found.indices):
        keep = row_i >= 0
        run[qid] = dict(zip(ids[row_i[keep]].tolist(), row_s[keep].tolist()))
    return run


def search_run(
    query_ids: list[str],
    query_emb: np.ndarray,
    doc_ids: list[str],
    doc_emb: np.ndarray,
    k: int,
    *,
    score: Score = "cosine",
) -> dict[str, dict[str, float]]:
    """BEIR-style run ``{query id: {doc id: score}}`` with the top-``k`` documents per query."""
    return as_run(query_ids, top_k(query_emb, doc_emb, k, score=score), doc_ids)


def candidate_run(
    query_ids: list[str],
    query_emb: np.ndarray,
    doc_row: dict[str, int],
    doc_emb: np.ndarray,
    candidates: dict[str, list[str]],
    *,
    score: Score = "cosine",
) -> dict[str, dict[str, float]]:
    """Run over each query's own candidate documents (reranking); queries without candidates get ``{}``.

    Each query is scored against its candidate block with one ``1 × n_candidates`` product,
    the same arithmetic mteb uses, so tied candidates (duplicate texts) stay exactly tied.
    """
    import torch

    q_all = torch.as_tensor(prepare(query_emb, score))
    d_all = torch.as_tensor(prepare(doc_emb, score))
    run: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for row, qid in enumerate(query_ids):
            cands = list(dict.fromkeys(candidates.get(qid) or []))
            if not cands:
                run[qid] = {}
                continue
            idx = torch.as_tensor([doc_row[d] for d in cands], dtype=torch.long)
            scores = torch.mm(q_all[row : row + 1], d_all[idx].T)[0].tolist()
            run[qid] = dict(zip(cands, scores))
    return run
