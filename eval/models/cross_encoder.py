"""A cross-encoder reranker as a :class:`~domainteb.core.encoder.SearchModel`.

It scores (query, document) pairs jointly, so it only **reranks**: ``search`` needs the
candidate lists of a reranking task (or of a first-stage retriever) and scores exactly those.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from domainteb.core.errors import DomainTebError

log = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Scores candidate documents with a sentence-transformers ``CrossEncoder`` (its default activation)."""

    cacheable = False

    def __init__(self, model: Any, *, name: str, revision: str, display_name: str | None = None,
                 labels: Sequence[str] = (), license: str | None = None, source: str | None = None,
                 batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.revision = revision
        self.display_name = display_name or name
        self.labels = list(labels)
        self.license = license
        self.source = source
        self.batch_size = batch_size

    def search(
        self,
        corpus: dict[str, dict[str, str]],
        queries: dict[str, str],
        top_k: int,
        candidates: dict[str, list[str]] | None = None,
    ) -> dict[str, dict[str, float]]:
        if candidates is None:
            raise DomainTebError(
                f"{self.name} is a reranker: it needs candidate documents per query; evaluate it on "
                "reranking tasks (or give it a first-stage retriever's candidates)"
            )
        pairs: list[tuple[str, str]] = []
        owners: list[tuple[str, str]] = []
        for qid, query in queries.items():
            for did in candidates.get(qid, []):
                doc = corpus.get(did)
                if doc is None:
                    continue
                pairs.append((query, f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()))
                owners.append((qid, did))
        results: dict[str, dict[str, float]] = {qid: {} for qid in queries}
        if not pairs:
            return results
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        for (qid, did), score in zip(owners, scores.reshape(len(pairs), -1)[:, 0]):
            results[qid][did] = float(score)
        return results

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "revision": self.revision,
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
            "embed_dim": None,
            "license": self.license,
            "labels": list(self.labels),
            "max_seq_length": getattr(self.model, "max_length", None),
            "source": self.source,
        }
