"""Exact dense search: top-k documents per query by cosine or dot product.

Scores are computed with chunked matrix products (torch, float32) and a running top-k per
query, so memory stays bounded by ``query_chunk × doc_chunk`` scores instead of a full
query × corpus matrix. Candidate scoring (reranking) multiplies each query with its own
candidate block only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

Score = Literal["cosine", "dot"]

#: upper bound on the number of scores held at once (floats): 16M ≈ 64 MiB.
MAX_SCORES_IN_MEMORY = 1 << 24


@dataclass
class TopK:
    """Best ``k`` documents per query: ``scores[i, j]`` is the j-th best score of query i."""

    scores: np.ndarray  # float32 [n_queries, k], sorted descending
    indices: np.ndarray  # int64 [n_queries, k], row indices into the document matrix


def _as_tensor(x: np.ndarray, score: Score):  # -> torch.Tensor
    import torch

    t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    if score == "cosine":
        t = torch.nn.functional.normalize(t, p=2, dim=1)
    elif score != "dot":
        raise ValueError(f"unknown score {score!r}; use 'cosine' or 'dot'")
    return t


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
    import torch

    n_q, n_d = len(queries), len(docs)
    k = max(0, min(int(k), n_d))
    if n_q == 0 or k == 0:
        return TopK(np.zeros((n_q, k), np.float32), np.zeros((n_q, k), np.int64))
    q_all = _as_tensor(queries, score)
    d_all = _as_tensor(docs, score)
    query_chunk = max(1, min(query_chunk, n_q))
    if doc_chunk is None:
        doc_chunk = max(k, MAX_SCORES_IN_MEMORY // query_chunk)
    doc_chunk = max(1, doc_chunk)
    out_scores = np.empty((n_q, k), np.float32)
    out_idx = np.empty((n_q, k), np.int64)
    with torch.inference_mode():
        for qs in range(0, n_q, query_chunk):
            q = q_all[qs : qs + query_chunk]
            best_s: torch.Tensor | None = None
            best_i: torch.Tensor | None = None
            for ds in range(0, n_d, doc_chunk):
                block = q @ d_all[ds : ds + doc_chunk].T
                kk = min(k, block.shape[1])
                s, i = torch.topk(block, kk, dim=1, largest=True, sorted=False)
                i = i + ds
                if best_s is None:
                    best_s, best_i = s, i
                else:
                    cat_s = torch.cat([best_s, s], dim=1)
                    cat_i = torch.cat([best_i, i], dim=1)
                    keep = min(k, cat_s.shape[1])
                    best_s, pos = torch.topk(cat_s, keep, dim=1, largest=True, sorted=False)
                    best_i = torch.gather(cat_i, 1, pos)
            assert best_s is not None and best_i is not None
            order = torch.argsort(best_s, dim=1, descending=True, stable=True)
            out_scores[qs : qs + len(q)] = torch.gather(best_s, 1, order).numpy()
            out_idx[qs : qs + len(q)] = torch.gather(best_i, 1, order).numpy()
    return TopK(out_scores, out_idx)


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
    found = top_k(query_emb, doc_emb, k, score=score)
    ids = np.asarray(doc_ids, dtype=object)
    return {
        qid: dict(zip(ids[row_i].tolist(), row_s.tolist()))
        for qid, row_s, row_i in zip(query_ids, found.scores, found.indices)
    }


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

    q_all = _as_tensor(query_emb, score)
    d_all = _as_tensor(doc_emb, score)
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
