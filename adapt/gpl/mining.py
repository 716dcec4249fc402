"""Hard negatives from the same corpus (GPL step 2) and the round-trip filter.

* ``base``: the base model itself, through :func:`sentence_transformers.util.mine_hard_negatives`
  (its ``relative_margin`` is the dense false-negative guard; its embedding cache makes a rerun
  free);
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


def _guard(q: np.ndarray, pos: np.ndarray, neg: np.ndarray, relative_margin: float) -> bool:
    """True when the negative is clearly below the positive (mine_hard_negatives' relative margin)."""
    pos_score = float(q @ pos)
    return float(q @ neg) <= pos_score - abs(pos_score) * relative_margin


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


def mine_dense(queries: list[TrainQuery], inputs: Inputs, cfg: MiningConfig, model: Any, batch_size: int,
               cache: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The base model's hard negatives via sentence-transformers' ``mine_hard_negatives``."""
    import datasets
    from sentence_transformers.util import mine_hard_negatives

    from domainteb.adapt.basemodel import prompt_text

    pids = list(inputs.chunks)
    texts = [inputs.text(pid) for pid in pids]
    pid_of: dict[str, str] = {}
    for pid, text in zip(pids, texts):
        pid_of.setdefault(text, pid)
    qid_of = {q.query: q.qid for q in queries}
    dataset = datasets.Dataset.from_dict({"anchor": [q.query for q in queries],
                                          "positive": [inputs.text(q.pid) for q in queries]})
    mined = mine_hard_negatives(
        dataset, model, corpus=texts, range_min=cfg.range_min, range_max=cfg.candidates,
        relative_margin=cfg.relative_margin, num_negatives=cfg.negatives_per_miner, sampling_strategy="top",
        query_prompt=prompt_text(model, "query") or None, corpus_prompt=prompt_text(model, "document") or None,
        output_format="triplet", batch_size=batch_size, use_faiss=False, verbose=False, cache_folder=str(cache),
    )
    out: dict[str, list[str]] = {q.qid: [] for q in queries}
    source = {q.qid: q.pid for q in queries}
    for anchor, negative in zip(mined["anchor"], mined["negative"]):
        qid, pid = qid_of.get(anchor), pid_of.get(negative)
        if qid is None or pid is None or pid == source[qid] or pid in out[qid]:
            continue
        out[qid].append(pid)
    return out, {"mined": int(sum(len(v) for v in out.values())), "queries_without": sum(not v for v in out.values())}
