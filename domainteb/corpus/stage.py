"""The corpus step: load → drop evaluation queries → chunk → subsample → ``corpus/chunks.jsonl``.

Config keys (the pipeline passes them): ``corpus`` (path), ``base`` (whose tokenizer chunks),
``chunk_tokens`` (null → the base model's max_seq_length), ``chunk_overlap``, ``keep_title``,
``n_passages`` (null → all chunks; else a seeded sample), ``seed``, ``eval_task`` (its queries
are excluded), ``output_dir``. Writes ``<output_dir>/corpus/chunks.jsonl`` and
``<output_dir>/corpus/report.json`` atomically.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.core.io import atomic_write_json
from domainteb.corpus.chunking import chunk_documents, load_tokenizer
from domainteb.corpus.exclusion import EvalQueries
from domainteb.corpus.loaders import corpus_kind, load_documents
from domainteb.corpus.records import Chunk
from domainteb.corpus.store import CHUNKS_FILE, write_chunks


def subsample(chunks: list[Chunk], n: int | None, seed: int) -> list[Chunk]:
    """A seeded sample of ``n`` chunks in corpus order (all when ``n`` is None or larger)."""
    if n is None or n >= len(chunks):
        return chunks
    keep = set(random.Random(seed).sample(range(len(chunks)), n))
    return [c for i, c in enumerate(chunks) if i in keep]


def _positive_int_or_none(cfg: Any, key: str) -> int | None:
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}={value!r} must be a positive integer or null")
    return value


def run(cfg: Any) -> int:
    t0 = time.monotonic()
    if not cfg.get("corpus"):
        raise ConfigError("corpus is empty; pass corpus=<file.jsonl | folder | BEIR folder>")
    n_passages = _positive_int_or_none(cfg, "n_passages")
    chunk_tokens = _positive_int_or_none(cfg, "chunk_tokens")
    overlap = int(cfg.get("chunk_overlap", 32))
    docs = load_documents(str(cfg.corpus))
    excluded = EvalQueries.from_task(cfg.get("eval_task"))
    kept = [d for d in docs if not (excluded and excluded.matches_document(d.doc_id, d.text))]
    tokenizer, window = load_tokenizer(str(cfg.base))
    size = chunk_tokens or window
    chunks = chunk_documents(kept, tokenizer, max_tokens=size, overlap=overlap, keep_title=bool(cfg.get("keep_title", True)))
    if not chunks:
        raise TaskDataError(f"{cfg.corpus}: no document has any text; add text to the documents")
    sample = subsample(chunks, n_passages, int(cfg.get("seed", 42)))
    out = Path(str(cfg.output_dir)) / "corpus"
    write_chunks(out / CHUNKS_FILE, sample)
    atomic_write_json(out / "report.json", {
        "corpus": str(cfg.corpus), "kind": corpus_kind(Path(str(cfg.corpus)).expanduser()),
        "documents": len(docs), "excluded_eval_queries": len(docs) - len(kept),
        "eval_queries_source": excluded.source, "documents_without_text": len(kept) - len({c.doc_id for c in chunks}),
        "chunks": len(chunks), "chunks_kept": len(sample), "chunk_tokens": size, "chunk_overlap": overlap,
        "documents_split": len({c.doc_id for c in chunks if c.id != c.doc_id}), "base": str(cfg.base),
        "seconds": round(time.monotonic() - t0, 3),
    })
    print(f"corpus: {len(docs)} documents → {len(chunks)} chunks of ≤{size} tokens; kept {len(sample)}"
          + (f"; {len(docs) - len(kept)} excluded as evaluation queries" if len(docs) != len(kept) else ""))
    return 0
