"""Quality filters for generated queries, each counting its rejections, and hard-negative mining.

Order: length bounds → prompt-injection echo (:mod:`domainteb.synth.injection`) → few-shot
example echo → not grounded in the passage → copied passage spans → exact duplicates →
near duplicates (character n-gram Jaccard) → round-trip consistency (the positive must rank
in the baseline retriever's top-k). Negatives are mined from the same retriever's ranking,
skipping candidates that score within a margin of the positive (likely false negatives).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from domainteb.core.errors import ConfigError
from domainteb.synth.injection import content_words, injection_verdict, instruction_spans
from domainteb.synth.passages import Passage

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.U)
@dataclass
class Candidate:
    """A generated query before filtering."""

    query: str
    passage_id: str
    persona: str
    query_type: str
    difficulty: str
    job_id: str
    prompt_hash: str
    negatives: list[str] = field(default_factory=list)


@dataclass
class FilterSettings:
    min_chars: int = 4
    max_chars: int = 400
    min_words: int = 1
    max_words: int = 60
    copy_ngram: int = 8
    near_dup_ngram: int = 4
    near_dup_threshold: float = 0.85
    roundtrip: bool = True
    retriever: str = "bm25"
    top_k: int = 5
    n_negatives: int = 1
    negative_depth: int = 20
    false_negative_margin: float = 0.95
    few_shot_echo: bool = True   # reject queries reusing the few-shot example's content words

    @classmethod
    def from_config(cls, block: Any) -> FilterSettings:
        data = dict(block or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"filters: unknown key(s) {unknown}; known: {sorted(known)}")
        out = cls(**data)
        if not 0 < out.near_dup_threshold <= 1:
            raise ConfigError("filters.near_dup_threshold must be in (0, 1]")
        if out.top_k < 1 or out.copy_ngram < 2:
            raise ConfigError("filters.top_k must be >= 1 and filters.copy_ngram >= 2")
        return out


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(text))


def words(text: str) -> list[str]:
    return normalise(text).split()


def injected_payloads(passage: str) -> list[str]:
    """The instruction-like spans of ``passage``, normalised (empty for a clean passage)."""
    return [normalise(span) for span in instruction_spans(passage) if normalise(span)]


def echoes_injection(query: str, passage: str) -> bool:
    """True when the query carries an instruction or a word found only in the passage's injected spans."""
    return injection_verdict(query, passage) == "injection_echo"


def _example_words() -> frozenset[str]:
    """Content words of the prompt's few-shot example (its passage and its answer)."""
    import json

    from domainteb.synth.prompts import _EXAMPLE_ASSISTANT, _EXAMPLE_USER

    passage = _EXAMPLE_USER.split("<passage>", 1)[1].split("</passage>", 1)[0]
    answer = " ".join(json.loads(_EXAMPLE_ASSISTANT)["queries"])
    return frozenset(w for w in content_words(f"{passage} {answer}") if len(w) >= 4 and not w.isdigit() and w not in _GENERIC)


#: everyday words of the example that legitimate queries use too ("what does … mean", "positive test").
_GENERIC = frozenset("does make means usually available requires required positive lose loses fallen head sound noise "
                     "efficiency wears side below level".split())


#: the few-shot example's content words (``pump``, ``cavitation``, ``suction``, ``rattling``, ``inlet`` …).
FEW_SHOT_WORDS = _example_words()


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def reuses_few_shot_example(query: str, passage: str) -> bool:
    """True when the query uses a content word of the prompt's few-shot example that its own passage lacks
    (the example's words glued to a passage term, ``pump <disease>``, or the example sentence plus passage text)."""
    example = {_singular(w) for w in FEW_SHOT_WORDS}
    own = {_singular(w) for w in content_words(passage)}
    return any(_singular(w) in example and _singular(w) not in own for w in content_words(query))


def copies_span(query: str, passage: str, n: int) -> bool:
    """True when the query shares a run of ``n`` or more consecutive words with the passage."""
    qw, pw = words(query), words(passage)
    if len(qw) < n:
        return False
    grams = {tuple(pw[i : i + n]) for i in range(len(pw) - n + 1)}
    return any(tuple(qw[i : i + n]) in grams for i in range(len(qw) - n + 1))


def shingles(text: str, n: int) -> set[str]:
    t = normalise(text)
    if len(t) <= n:
        return {t}
    return {t[i : i + n] for i in range(len(t) - n + 1)}


class Retriever(Protocol):
    def rank(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each ``[n_queries, k]``, best first."""
        ...


class BM25Retriever:
    """BM25 (bm25s) over a passage pool."""

    def __init__(self, texts: list[str]) -> None:
        from domainteb.eval.models.lexical import import_bm25s

        bm25s = import_bm25s()

        self._bm25s = bm25s
        self.n = len(texts)
        self._model = bm25s.BM25()
        self._model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def rank(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n)
        tokens = self._bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        tokens = [t if t else ["\u0000"] for t in tokens]
        idx, scores = self._model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return np.asarray(idx), np.asarray(scores, dtype=np.float32)


class DenseRetriever:
    """Cosine similarity under a sentence-transformers model (given by folder path)."""

    def __init__(self, texts: list[str], model_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_path, device="cpu")
        self.n = len(texts)
        self._docs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)

    def rank(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n)
        q = self._model.encode(queries, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
        sims = q @ self._docs.T
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)


def make_retriever(name: str, texts: list[str]) -> Retriever:
    if name == "bm25":
        return BM25Retriever(texts)
    from pathlib import Path

    if Path(name).expanduser().is_dir():
        return DenseRetriever(texts, str(Path(name).expanduser()))
    raise ConfigError(f"filters.retriever={name!r}: use 'bm25' or the folder of a sentence-transformers model")


#: every rejection reason, in filter order (each appears in the report, 0 when unused).
REJECTION_REASONS = ("length", "injection_echo", "few_shot_echo", "ungrounded", "copied_span", "exact_duplicate",
                     "near_duplicate", "roundtrip")


@dataclass
class FilterResult:
    kept: list[Candidate]
    rejections: Counter
    #: each rejected candidate with its reason (written to ``rejected.jsonl``).
    rejected: list[tuple[Candidate, str]] = field(default_factory=list)


def apply_filters(candidates: list[Candidate], passages: dict[str, Passage], pool: list[Passage], cfg: FilterSettings) -> FilterResult:
    """Run every filter in order; returns the kept candidates (with mined negatives) and rejection counts."""
    rejections: Counter = Counter()
    rejected: list[tuple[Candidate, str]] = []
    stage: list[Candidate] = []
    for c in candidates:
        n_words = len(words(c.query))
        if not (cfg.min_chars <= len(c.query) <= cfg.max_chars and cfg.min_words <= n_words <= cfg.max_words):
            rejections["length"] += 1
            rejected.append((c, "length"))
        elif (verdict := injection_verdict(c.query, passages[c.passage_id].text)) == "injection_echo":
            rejections["injection_echo"] += 1
            rejected.append((c, "injection_echo"))
        elif cfg.few_shot_echo and reuses_few_shot_example(c.query, passages[c.passage_id].text):
            rejections["few_shot_echo"] += 1
            rejected.append((c, "few_shot_echo"))
        elif verdict == "ungrounded":
            rejections["ungrounded"] += 1
            rejected.append((c, "ungrounded"))
        elif copies_span(c.query, passages[c.passage_id].text, cfg.copy_ngram):
            rejections["copied_span"] += 1
            rejected.append((c, "copied_span"))
        else:
            stage.append(c)
    seen: set[str] = set()
    unique: list[Candidate] = []
    for c in stage:
        key = normalise(c.query)
        if key in seen:
            rejections["exact_duplicate"] += 1
            rejected.append((c, "exact_duplicate"))
            continue
        seen.add(key)
        unique.append(c)
    kept_sh: list[set[str]] = []
    distinct: list[Candidate] = []
    for c in unique:
        sh = shingles(c.query, cfg.near_dup_ngram)
        if any(len(sh & o) / max(1, len(sh | o)) >= cfg.near_dup_threshold for o in kept_sh):
            rejections["near_duplicate"] += 1
            rejected.append((c, "near_duplicate"))
            continue
        kept_sh.append(sh)
        distinct.append(c)
    for name in REJECTION_REASONS:
        rejections.setdefault(name, 0)
    if not distinct:
        return FilterResult([], rejections, rejected)
    pool_ids = [p.id for p in pool]
    retriever = make_retriever(cfg.retriever, [p.text for p in pool])
    depth = max(cfg.top_k, cfg.negative_depth if cfg.n_negatives else 0)
    idx, scores = retriever.rank([c.query for c in distinct], depth)
    kept: list[Candidate] = []
    for c, row, srow in zip(distinct, idx, scores, strict=True):
        ids = [pool_ids[i] for i in row]
        rank = ids.index(c.passage_id) if c.passage_id in ids else None
        if cfg.roundtrip and (rank is None or rank >= cfg.top_k or srow[rank] <= 0):
            rejections["roundtrip"] += 1
            rejected.append((c, "roundtrip"))
            continue
        pos_score = float(srow[rank]) if rank is not None else float("inf")
        negs = []
        for did, s in zip(ids, srow, strict=True):
            if did == c.passage_id:
                continue
            if float(s) >= cfg.false_negative_margin * pos_score:
                rejections["negative_skipped_as_possible_positive"] += 1
                continue
            negs.append(did)
            if len(negs) >= cfg.n_negatives:
                break
        c.negatives = negs
        kept.append(c)
    return FilterResult(kept, rejections, rejected)
