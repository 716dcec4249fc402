"""``chunks.jsonl`` on disk: written atomically, read back with line-precise errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from domainteb.core.errors import TaskDataError
from domainteb.core.io import atomic_write_jsonl, read_jsonl_records
from domainteb.corpus.records import Chunk

CHUNKS_FILE = "chunks.jsonl"


def write_chunks(path: str | Path, chunks: Iterable[Chunk]) -> int:
    return atomic_write_jsonl(path, (c.record() for c in chunks))


def read_chunks(path: str | Path) -> list[Chunk]:
    out = read_jsonl_records(path, Chunk, "chunks need _id, title, text, doc_id (rerun the corpus stage)")
    if not out:
        raise TaskDataError(f"{path}: no chunks; rerun the corpus stage on a corpus with text")
    return out
