"""Reciprocal-rank fusion (Cormack et al., SIGIR 2009) of a dense model with BM25.

``score(d) = Σ_runs 1 / (k + rank_run(d))`` over the dense run and the BM25 run (each the top
``depth`` documents, ranks from 1). Loaded as ``rrf:<dense model>`` (any name ``load_model``
accepts, e.g. an adapted model's folder) or the registry's ``rrf-*`` specs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from domainteb.core.io import stable_hash


def reciprocal_rank_fusion(runs: list[dict[str, float]], k: int = 60) -> dict[str, float]:
    """Fused scores of one query's runs (doc id → score, higher first)."""
    fused: dict[str, float] = {}
    for run in runs:
        for rank, did in enumerate(sorted(run, key=lambda d: -run[d]), start=1):
            fused[did] = fused.get(did, 0.0) + 1.0 / (k + rank)
    return fused


class RRFHybrid:
    """``search`` over a dense encoder and BM25, fused by reciprocal rank."""

    cacheable = False

    def __init__(self, dense: Any, bm25: Any, *, k: int = 60, depth: int = 100, name: str | None = None) -> None:
        if k < 1 or depth < 1:
            raise ValueError("k and depth must be >= 1")
        self.dense, self.bm25, self.k, self.depth = dense, bm25, int(k), int(depth)
        info = dense.model_info()
        self.dense_name = str(info.get("name") or dense.name)
        self.name = name or f"rrf-{self.dense_name}-bm25"
        self.display_name = f"RRF({info.get('display_name') or self.dense_name} + BM25)"
        self.revision = stable_hash({"dense": dense.revision, "bm25": bm25.revision, "k": k, "depth": depth})[:16]
        self.labels = ["hybrid", *[x for x in info.get("labels") or [] if x not in ("hybrid",)]]
        self.license = info.get("license")
        self._info = info

    def _dense_run(self, corpus: dict[str, dict[str, str]], queries: dict[str, str], ids: list[str] | None) -> dict[str, dict[str, float]]:
        from domainteb.eval.evaluators.retrieval import document_text
        from domainteb.eval.search import search_run

        doc_ids = ids if ids is not None else list(corpus)
        qids = list(queries)
        q = self.dense.encode([queries[x] for x in qids], prompt_type="query")
        d = self.dense.encode([document_text(corpus[x]) for x in doc_ids], prompt_type="document")
        return search_run(qids, np.asarray(q), doc_ids, np.asarray(d), self.depth, score="cosine")

    def search(self, corpus: dict[str, dict[str, str]], queries: dict[str, str], top_k: int,
               candidates: dict[str, list[str]] | None = None) -> dict[str, dict[str, float]]:
        if candidates is not None:  # reranking: fuse the two models' orders of each query's candidates
            ids = list(dict.fromkeys(d for c in candidates.values() for d in c))
            dense = self._dense_run(corpus, queries, ids)
            dense = {qid: {d: s for d, s in run.items() if d in set(candidates.get(qid, []))} for qid, run in dense.items()}
            lexical = self.bm25.search(corpus, queries, self.depth, candidates=candidates)
        else:
            dense = self._dense_run(corpus, queries, None)
            lexical = self.bm25.search(corpus, queries, self.depth)
        out: dict[str, dict[str, float]] = {}
        for qid in queries:
            fused = reciprocal_rank_fusion([dense.get(qid, {}), lexical.get(qid, {})], self.k)
            best = sorted(fused, key=lambda d: -fused[d])[:top_k]
            out[qid] = {d: fused[d] for d in best}
        return out

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, "revision": self.revision,
                "n_parameters": self._info.get("n_parameters"), "embed_dim": None, "license": self.license,
                "labels": list(self.labels), "max_seq_length": self._info.get("max_seq_length"),
                "source": f"rrf(k={self.k}, depth={self.depth}): {self.dense_name} + bm25", "k": self.k,
                "depth": self.depth, "dense_model": self.dense_name}
