"""Calibration triplets for GAPrune: loading the domain and general sets and reducing each one
to ``n`` representative triplets.

Sources
  * domain: pseudo-queries from the user's own corpus (``adapt.calibration_corpus=<chunks.jsonl |
    documents | BEIR folder>``, :func:`corpus_triplets`; measured best, see
    ``benchmarks/gaprune_corpus.py``), else a pairs/triplets JSONL file (``data=...``; fields
    ``anchor``/``query``, ``positive``, optional ``negative``), else the domain suite's real
    training pairs (``domainteb.domains.train_pairs(domain, n)``).
  * general: WordNet lemma → gloss triplets from Debian ``wordnet-base`` (Princeton WordNet 3.0,
    WordNet licence, BSD-like) via ``domainteb.domains.general.general_triplets(n, seed)``.

Representative sampling (after the paper): embed each triplet's *query*, run k-means with
``k = n`` (scikit-learn, ``kmeans_iters`` iterations), and keep for each centroid the nearest
real triplet not already taken (so the result has exactly ``n`` distinct triplets). The paper
embeds with Qwen3-Embedding-0.6B; here the model being pruned embeds the queries.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.io import iter_jsonl

log = logging.getLogger(__name__)

_QUERY_KEYS = ("anchor", "query", "question")
_POS_KEYS = ("positive", "pos", "document", "passage")
_NEG_KEYS = ("negative", "neg", "hard_negative")


@dataclass(frozen=True)
class Triplet:
    """One contrastive calibration example."""

    query: str
    positive: str
    negative: str


@dataclass(frozen=True)
class TextPrompts:
    """The query and passage prompts a model is evaluated with ("" = none), applied to every text the
    pruner embeds: the Fisher pass, k-means sampling, held-out recall and retraining."""

    query: str = ""
    document: str = ""

    @classmethod
    def of(cls, model: Any) -> TextPrompts:
        """The prompts the evaluators would use for ``model`` (same resolution as domainteb eval)."""
        from domainteb.eval.models.sentence_transformer import pick_prompt

        prompts = dict(getattr(model, "prompts", None) or {})
        return cls(pick_prompt(prompts, "query", None) or "", pick_prompt(prompts, "document", None) or "")

    def columns(self) -> dict[str, str]:
        """Per-column prompts for the sentence-transformers trainer (empty when the model has none)."""
        cols = {"anchor": self.query, "positive": self.document, "negative": self.document}
        return {k: v for k, v in cols.items() if v}


def _pick(rec: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = rec.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = " ".join(str(value.get(k, "")) for k in ("title", "text")).strip()
        if isinstance(value, str) and value.strip():
            return value
    return None


def to_triplets(records: Iterable[Mapping[str, Any]], source: str, seed: int = 0) -> list[Triplet]:
    """Normalise records with anchor/query, positive and optional negative fields.

    A record without a negative gets the positive of another record (a random in-set negative).
    """
    rows: list[tuple[str, str, str | None]] = []
    for i, rec in enumerate(records, start=1):
        q, p = _pick(rec, _QUERY_KEYS), _pick(rec, _POS_KEYS)
        if q is None or p is None:
            raise DomainTebError(
                f"{source}: record {i} has no {'query/anchor' if q is None else 'positive'} text; "
                "calibration records need 'anchor' (or 'query') and 'positive' fields"
            )
        rows.append((q, p, _pick(rec, _NEG_KEYS)))
    rng = random.Random(seed)
    out = []
    for i, (q, p, n) in enumerate(rows):
        if n is None:
            j = rng.randrange(len(rows) - 1) if len(rows) > 1 else 0
            j = j + 1 if j >= i and len(rows) > 1 else j
            n = rows[j][1]
        out.append(Triplet(q, p, n))
    return out


def read_triplets_file(path: str | Path, limit: int | None = None, seed: int = 0) -> list[Triplet]:
    """Triplets from a JSONL pairs file (one-line errors name the file and line)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"calibration data file {p} not found; pass data=<pairs.jsonl> or leave it empty to use the domain suite")
    recs = []
    for _, rec in iter_jsonl(p):
        recs.append(rec)
        if limit is not None and len(recs) >= limit:
            break
    return to_triplets(recs, str(p), seed)


def domain_triplets(domain: str, limit: int, path: str | Path | None = None, seed: int = 0) -> list[Triplet]:
    """Up to ``limit`` domain triplets from ``path`` or from the domain suite's training pairs."""
    if path:
        return read_triplets_file(path, limit, seed)
    try:
        from domainteb.domains import train_pairs  # type: ignore[attr-defined]
    except ImportError:
        raise DomainTebError(
            f"no domain training pairs available for {domain!r} (domainteb.domains.train_pairs is missing); "
            "pass data=<pairs.jsonl> with anchor/positive/negative fields"
        ) from None
    recs = train_pairs(domain, limit)
    return to_triplets(_records(recs), f"domains.train_pairs({domain!r})", seed)


def corpus_triplets(path: str | Path, limit: int, seed: int = 0, method: str = "ict") -> list[Triplet]:
    """Up to ``limit`` triplets from the user's own corpus, LLM-free: one pseudo-query per passage
    (``domainteb.synth.pseudo_queries``; inverse cloze: a sentence is the query, the rest of the
    passage the positive), shuffled with ``seed``; the negative is another passage's positive.

    ``path``: a ``chunks.jsonl`` of the corpus stage, a JSONL/folder of documents, or a BEIR folder
    (only its corpus is read, never its queries).
    """
    from domainteb.corpus import load_documents
    from domainteb.synth.pseudo_queries import generate_pseudo_queries

    docs = load_documents(path)
    text = {d.doc_id: f"{d.title} {d.text}".strip() if d.title else d.text for d in docs}
    queries = generate_pseudo_queries([{"_id": d.doc_id, "text": d.text} for d in docs], method=method, seed=seed)
    if not queries:
        raise DomainTebError(f"calibration_corpus={path}: no pseudo-queries could be made (passages too short); "
                             "pass data=<pairs.jsonl> instead")
    random.Random(seed).shuffle(queries)
    recs = [{"anchor": q.query, "positive": q.positive_text or text[q.pid]} for q in queries[:limit]]
    return to_triplets(recs, f"calibration_corpus={path}", seed)


def general_triplets(limit: int, seed: int = 0) -> list[Triplet]:
    """Up to ``limit`` general-domain triplets (WordNet lemma → gloss)."""
    try:
        from domainteb.domains.general import general_triplets as _general
    except ImportError:
        raise DomainTebError(
            "general calibration triplets need domainteb.domains.general (WordNet, Debian package wordnet-base); "
            "install wordnet-base or pass general_data=<triplets.jsonl>"
        ) from None
    return to_triplets(_records(_general(limit, seed)), "domains.general.general_triplets", seed)


def _records(obj: Any) -> list[Mapping[str, Any]]:
    """Accept a list of dicts, a ``datasets.Dataset`` or a list of (q, p, n) tuples."""
    if hasattr(obj, "to_list"):
        return list(obj.to_list())
    out = []
    for rec in obj:
        if isinstance(rec, Mapping):
            out.append(rec)
        elif hasattr(rec, "model_dump"):
            out.append(rec.model_dump())
        elif hasattr(rec, "__dataclass_fields__"):
            out.append({k: getattr(rec, k) for k in rec.__dataclass_fields__})
        else:
            seq = list(rec)
            out.append({"anchor": seq[0], "positive": seq[1], **({"negative": seq[2]} if len(seq) > 2 else {})})
    return out


def check_available(triplets: Sequence[Triplet], n: int, what: str) -> None:
    if len(triplets) < n:
        raise ConfigError(
            f"{what} calibration set has {len(triplets)} triplets but adapt.n_calibration={n}; "
            f"lower adapt.n_calibration to <= {len(triplets)} or supply more data"
        )


def representative_sample(
    triplets: Sequence[Triplet], n: int, embed: Any, *, iters: int = 20, seed: int = 0
) -> list[Triplet]:
    """``n`` distinct triplets nearest to the k-means centroids of the query embeddings.

    ``embed(texts) -> np.ndarray`` embeds the queries (L2-normalised rows are expected; the caller
    applies the model's query prompt, see :meth:`TextPrompts.of`).
    """
    check_available(triplets, n, "the")
    if len(triplets) == n:
        return list(triplets)
    from sklearn.cluster import KMeans

    x = np.asarray(embed([t.query for t in triplets]), dtype=np.float32)
    km = KMeans(n_clusters=n, max_iter=iters, n_init=1, random_state=seed).fit(x)
    centers = km.cluster_centers_.astype(np.float32)
    # squared distances centroid × sample, chunked to bound memory
    sq = (x * x).sum(1)
    taken: set[int] = set()
    chosen: list[int] = []
    for start in range(0, n, 256):
        c = centers[start : start + 256]
        d = (c * c).sum(1)[:, None] - 2.0 * c @ x.T + sq[None, :]
        for row in d:
            for j in np.argsort(row, kind="stable"):
                if int(j) not in taken:
                    taken.add(int(j))
                    chosen.append(int(j))
                    break
    log.info("representative sampling: %d of %d triplets (k-means, %d iterations)", n, len(triplets), iters)
    return [triplets[i] for i in chosen]
