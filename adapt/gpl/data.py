"""GPL inputs: the corpus chunks and one generated-queries file, checked against each other,
de-duplicated, sampled and split into training and dev queries (all seeded).

The dev queries are a held-out slice of the *generated* queries: the eval set's own queries
never enter training or checkpoint selection.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.errors import TaskDataError
from domainteb.corpus import Chunk, read_chunks
from domainteb.synth.pseudo_queries import read_queries
from domainteb.synth.records import GeneratedQuery


@dataclass(frozen=True)
class TrainQuery:
    """A generated query with its source chunk: ``positive`` is what the query is trained/labelled
    against (the ICT remainder, or the whole chunk); ``pid`` is never mined as its negative."""

    qid: str
    query: str
    pid: str
    positive: str
    generator: str


@dataclass
class Inputs:
    chunks: dict[str, Chunk]
    train: list[TrainQuery]
    dev: list[TrainQuery]
    counts: dict[str, int]
    generators: dict[str, int]

    def text(self, pid: str) -> str:
        return self.chunks[pid].full_text


def _positive(q: GeneratedQuery, chunk: Chunk) -> str:
    if q.positive_text:
        return f"{chunk.title} {q.positive_text}".strip() if chunk.title else q.positive_text
    return chunk.full_text


def load_inputs(chunks_path: Path, queries_path: Path, *, max_queries: int | None, dev_queries: int, seed: int) -> Inputs:
    """Read and validate; errors name the file and the record."""
    chunks: dict[str, Chunk] = {}
    for c in read_chunks(chunks_path):
        if c.id in chunks:
            raise TaskDataError(f"{chunks_path}: duplicate chunk _id {c.id!r}; rerun the corpus stage")
        chunks[c.id] = c
    queries = read_queries(queries_path)
    if not queries:
        raise TaskDataError(f"{queries_path}: no generated queries; run the query generator first")
    counts: dict[str, int] = {"generated": len(queries)}
    seen_qids: set[str] = set()
    seen_text: set[str] = set()
    unique: list[TrainQuery] = []
    for q in queries:
        if q.pid not in chunks:
            raise TaskDataError(
                f"{queries_path}: query {q.qid!r} names pid {q.pid!r}, which is not a chunk _id of {chunks_path}; "
                "regenerate the queries from these chunks"
            )
        if q.qid in seen_qids:
            raise TaskDataError(f"{queries_path}: duplicate qid {q.qid!r}; qids must be unique")
        seen_qids.add(q.qid)
        key = " ".join(q.query.lower().split())
        if not key or key in seen_text:
            continue
        seen_text.add(key)
        unique.append(TrainQuery(q.qid, q.query, q.pid, _positive(q, chunks[q.pid]), q.generator))
    counts["unique"] = len(unique)
    rng = random.Random(seed)
    rng.shuffle(unique)
    if max_queries is not None and len(unique) > max_queries + dev_queries:
        unique = unique[: max_queries + dev_queries]
    counts["sampled"] = len(unique)
    n_dev = min(dev_queries, max(1, len(unique) // 5))
    dev, train = unique[:n_dev], unique[n_dev:]
    if len(train) < 2:
        raise TaskDataError(f"{queries_path}: only {len(unique)} usable queries; GPL needs at least a few dozen")
    counts["dev_held_out"] = len(dev)
    counts["train_candidates"] = len(train)
    return Inputs(chunks=chunks, train=train, dev=dev, counts=counts,
                  generators=dict(Counter(q.generator for q in train + dev)))
