"""BM25 top-``depth`` reranked by a cross-encoder: a retrieval model (``search``) whose scores are
the cross-encoder's on BM25's candidates. In a GPL report it is the ceiling row: the student is
trained on this teacher's margins (registry name ``bm25-ce-rerank``)."""

from __future__ import annotations

from typing import Any

from domainteb.core.io import stable_hash


class BM25CrossEncoderRerank:
    """``search``: BM25 ranks the corpus, the cross-encoder rescores each query's top ``depth``."""

    cacheable = False

    def __init__(self, bm25: Any, reranker: Any, *, depth: int = 100, name: str | None = None,
                 display_name: str | None = None) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.bm25, self.reranker, self.depth = bm25, reranker, int(depth)
        self.name = name or f"bm25-ce-rerank-top{depth}"
        self.display_name = display_name or f"BM25 top-{depth} → {reranker.display_name}"
        self.revision = stable_hash({"bm25": bm25.revision, "reranker": reranker.revision, "depth": depth})[:16]
        self.labels = ["lexical+reranker", *[x for x in reranker.labels if x != "reranker"]]
        self.license = reranker.license

    def search(self, corpus: dict[str, dict[str, str]], queries: dict[str, str], top_k: int,
               candidates: dict[str, list[str]] | None = None) -> dict[str, dict[str, float]]:
        if candidates is None:
            first = self.bm25.search(corpus, queries, self.depth)
            candidates = {qid: list(run) for qid, run in first.items()}
        return self.reranker.search(corpus, queries, top_k, candidates=candidates)

    def model_info(self) -> dict[str, Any]:
        info = self.reranker.model_info()
        return {"name": self.name, "display_name": self.display_name, "revision": self.revision,
                "n_parameters": info.get("n_parameters"), "embed_dim": None, "license": self.license,
                "labels": list(self.labels), "max_seq_length": info.get("max_seq_length"),
                "source": f"bm25 top-{self.depth} + {info.get('name')}", "depth": self.depth}
