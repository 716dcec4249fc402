"""Hard negatives from the same corpus (GPL step 2) and the round-trip filter.

* ``base``: the base model itself: a streamed top-k over the chunk embeddings with the search
  backend of ``gpl.mining.search`` (domainteb's :mod:`~domainteb.eval.search`: exact by default,
  or FAISS flat/IVF/HNSW; corpus added ``corpus_chunk_size`` rows at a time, never a query ×
  corpus score matrix), with the selection rule of
  :func:`sentence_transformers.util.mine_hard_negatives` (``sampling_strategy="top"``): one
  candidate per distinct text, the source text excluded, the relative-margin guard, then
  ``range_min`` skipped and the top ``negatives_per_miner`` kept;
* ``bm25``: the repo's BM25 (:class:`domainteb.eval.models.lexical.LexicalModel`), with the same
  relative-to-positive guard applied on the base model's cosine scores.

The source passage is never a negative of its own query. The cross-encoder check (a negative
the teacher scores at least as high as the source is dropped) follows in :mod:`.labels`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from domainteb.adapt.gpl.config import MiningConfig
from domainteb.adapt.gpl.data import Inputs, TrainQuery
from domainteb.core.io import atomic_path, stable_hash

log = logging.getLogger(__name__)


def encode(model: Any, texts: Sequence[str], prompt_type: str, batch_size: int, cache: Path | None = None) -> np.ndarray:
    """Unit-length float32 embeddings with the prompt the model is evaluated with (cached as .npy)."""
    from domainteb.adapt.basemodel import eval_mode, prompt_text

    prompt = prompt_text(model, prompt_type)
    if cache is not None:
        key = stable_hash({"texts": list(texts), "prompt": prompt, "model": _model_key(model)})[:20]
        file = cache / f"emb-{prompt_type}-{key}.npy"
        if file.is_file():
            return np.load(file)
    with eval_mode(model):
        emb = model.encode(list(texts), prompt=prompt, batch_size=batch_size, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if cache is not None:
        with atomic_path(file, suffix=".npy") as tmp:
            np.save(tmp, emb)
    return emb


def _model_key(model: Any) -> str:
    """Identity of the weights for the embedding cache (a cheap fingerprint of every parameter that
    shapes an embedding; BERT's unused pooler is re-initialised randomly on every load, so it is left out)."""
    import torch

    with torch.no_grad():
        parts = [float(p.detach().float().sum()) for name, p in model.named_parameters() if ".pooler." not in name]
    return stable_hash({"params": [round(x, 4) for x in parts], "n": len(parts),
                        "max_seq_length": getattr(model, "max_seq_length", None)})


def round_trip_ranks(q_emb: np.ndarray, c_emb: np.ndarray, sources: list[int], k: int) -> list[int | None]:
    """Rank (0-based) of each query's source chunk in the base model's top-``k`` (None = not in it)."""
    from domainteb.eval.search import top_k

    found = top_k(q_emb, c_emb, k, score="dot")
    out: list[int | None] = []
    for row, src in zip(found.indices, sources):
        hits = np.flatnonzero(row == src)
        out.append(int(hits[0]) if hits.size else None)
    return out


def passes_margin(neg_score: float, pos_score: float, relative_margin: float) -> bool:
    """True when a candidate scores clearly below the positive (mine_hard_negatives' relative margin:
    dropped when above ``pos - |pos| × relative_margin``)."""
    return neg_score <= pos_score - abs(pos_score) * relative_margin


def _guard(q: np.ndarray, pos: np.ndarray, neg: np.ndarray, relative_margin: float) -> bool:
    """True when the negative is clearly below the positive (mine_hard_negatives' relative margin)."""
    return passes_margin(float(q @ neg), float(q @ pos), relative_margin)


def mine_bm25(queries: list[TrainQuery], inputs: Inputs, cfg: MiningConfig, q_emb: np.ndarray,
              c_emb: np.ndarray, row: dict[str, int]) -> tuple[dict[str, list[str]], dict[str, int]]:
    from domainteb.eval.models import load_model

    bm25 = load_model("bm25", cache=False)
    corpus = {pid: {"title": "", "text": inputs.text(pid)} for pid in inputs.chunks}
    run = bm25.search(corpus, {q.qid: q.query for q in queries}, cfg.candidates + 1)
    out: dict[str, list[str]] = {}
    stats = {"candidates": 0, "guard_dropped": 0}
    for i, q in enumerate(queries):
        ranked = [pid for pid, _ in sorted(run.get(q.qid, {}).items(), key=lambda kv: -kv[1]) if pid != q.pid]
        ranked = ranked[cfg.range_min : cfg.candidates]
        stats["candidates"] += len(ranked)
        kept = []
        for pid in ranked:
            if _guard(q_emb[i], c_emb[row[q.pid]], c_emb[row[pid]], cfg.relative_margin):
                kept.append(pid)
                if len(kept) == cfg.negatives_per_miner:
                    break
            else:
                stats["guard_dropped"] += 1
        out[q.qid] = kept
    return out, stats


def mine_dense(queries: list[TrainQuery], inputs: Inputs, cfg: MiningConfig, q_emb: np.ndarray,
               c_emb: np.ndarray, row: dict[str, int]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The base model's hard negatives, searched with ``cfg.search``'s backend over the chunk embeddings.

    ``q_emb`` (one row per query) and ``c_emb`` (row ``row[pid]`` per chunk) are unit-length, so the
    inner product is the cosine. For each query the top ``candidates + 1`` distinct chunk texts are
    retrieved; the source text, then every candidate failing :func:`passes_margin`, are removed; of
    the rest, ``range_min`` are skipped and ``negatives_per_miner`` kept, as mine_hard_negatives does.
    """
    from domainteb.eval.search import stream_search

    pids = list(inputs.chunks)
    first: dict[str, int] = {}  # one candidate per distinct text: its first chunk
    for pid in pids:
        first.setdefault(inputs.text(pid), row[pid])
    rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    unique_of_row = {int(r): u for u, r in enumerate(rows)}
    step = cfg.search.corpus_chunk_size
    chunks = (c_emb[rows[s : s + step]] for s in range(0, len(rows), step))
    found, record = stream_search(q_emb, chunks, cfg.candidates + 1, score="dot", settings=cfg.search,
                                  n_documents=len(rows))
    out: dict[str, list[str]] = {}
    dropped = 0
    for i, q in enumerate(queries):
        pos_row = first[inputs.text(q.pid)]
        pos_unique = unique_of_row[pos_row]
        pos_score = float(q_emb[i] @ c_emb[pos_row])
        ranked = []
        for score, u in zip(found.scores[i].tolist(), found.indices[i].tolist()):
            if u < 0 or u == pos_unique:
                continue
            if passes_margin(score, pos_score, cfg.relative_margin):
                ranked.append(pids[rows[u]])
            else:
                dropped += 1
        out[q.qid] = ranked[cfg.range_min : cfg.range_min + cfg.negatives_per_miner]
    stats: dict[str, Any] = {
        "mined": int(sum(len(v) for v in out.values())), "queries_without": sum(not v for v in out.values()),
        "guard_dropped": dropped, "search": {"backend": record.backend, "approximate": record.approximate,
                                             "n_documents": record.n_documents, "recall_at_10": record.recall_at_10},
    }
    return out, stats
