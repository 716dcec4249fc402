"""``chunks.jsonl`` on disk: written atomically, read back with line-precise errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from domainteb.core.errors import TaskDataError
from domainteb.core.io import atomic_write_jsonl, iter_jsonl
from domainteb.corpus.records import Chunk

CHUNKS_FILE = "chunks.jsonl"


def write_chunks(path: str | Path, chunks: Iterable[Chunk]) -> int:
    return atomic_write_jsonl(path, (c.record() for c in chunks))


def read_chunks(path: str | Path) -> list[Chunk]:
    out = []
    for lineno, rec in iter_jsonl(path):
        try:
            out.append(Chunk.model_validate(rec))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise TaskDataError(
                f"{path}:{lineno}: field {'.'.join(map(str, err['loc']))!r}: {err['msg']}; "
                "chunks need _id, title, text, doc_id (rerun the corpus stage)"
            ) from None
    if not out:
        raise TaskDataError(f"{path}: no chunks; rerun the corpus stage on a corpus with text")
    return out
