"""LLM-free pseudo-queries for corpus chunks: inverse cloze (ICT) and span cropping.

* ``ict`` (inverse cloze task, Lee et al. 2019): one sentence of the chunk is the query and
  the rest of the chunk is the positive (``positive_text``). Chunks with a single usable
  sentence give none.
* ``crop`` (Contriever-style random cropping, Izacard et al. 2022): a random span of 10–50 %
  of the chunk's words (4–32 words) is the query; the positive is the whole chunk.

Sampling is seeded per chunk (``seed`` and the chunk id), so adding chunks never changes the
queries of the others. Results are plain :class:`~domainteb.synth.records.GeneratedQuery` records.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.core.io import atomic_write_jsonl, read_jsonl_records
from domainteb.synth.records import GeneratedQuery

#: a sentence end: . ! ? (optionally followed by a closing quote/bracket) then whitespace, or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\s*\n+\s*")
ICT_MIN_WORDS = 4
ICT_MAX_WORDS = 48
ICT_MIN_REST_WORDS = 8
CROP_MIN_WORDS = 4
CROP_MAX_WORDS = 32
CROP_MIN_CHUNK_WORDS = 8


def _chunk_fields(chunk: Any) -> tuple[str, str]:
    """(id, text) of a Chunk record or a ``{"_id", "text"}`` dict."""
    if isinstance(chunk, dict):
        return str(chunk["_id"]), str(chunk["text"])
    return str(chunk.id), str(chunk.text)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (blank pieces dropped)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if text[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _ict(pid: str, text: str, n: int, rng: random.Random) -> list[tuple[str, str | None]]:
    spans = split_sentences(text)
    if len(spans) < 2:
        return []
    total = len(text.split())
    usable = [(s, e) for s, e in spans
              if ICT_MIN_WORDS <= len(text[s:e].split()) <= ICT_MAX_WORDS and total - len(text[s:e].split()) >= ICT_MIN_REST_WORDS]
    out = []
    for s, e in rng.sample(usable, min(n, len(usable))):
        rest = " ".join(f"{text[:s]} {text[e:]}".split())
        out.append((" ".join(text[s:e].split()), rest))
    return out


def _crop(pid: str, text: str, n: int, rng: random.Random) -> list[tuple[str, str | None]]:
    words = text.split()
    if len(words) < CROP_MIN_CHUNK_WORDS:
        return []
    lo = max(CROP_MIN_WORDS, int(0.1 * len(words)))
    hi = max(lo, min(CROP_MAX_WORDS, int(0.5 * len(words))))
    out, seen = [], set()
    for _ in range(n * 4):
        if len(out) >= n:
            break
        length = rng.randint(lo, hi)
        start = rng.randint(0, len(words) - length)
        if start in seen:
            continue
        seen.add(start)
        out.append((" ".join(words[start : start + length]), None))
    return out


#: method name → generator of (query, positive_text) for one chunk.
METHODS: dict[str, Callable[[str, str, int, random.Random], list[tuple[str, str | None]]]] = {"ict": _ict, "crop": _crop}


def generate_pseudo_queries(chunks: Iterable[Any], method: str = "ict", per_passage: int = 1, seed: int = 42) -> list[GeneratedQuery]:
    """``per_passage`` pseudo-queries per chunk (fewer where a chunk is too short), seeded."""
    if method not in METHODS:
        raise ConfigError(f"generator={method!r} is not an LLM-free method; use {' or '.join(METHODS)} (or generator=llm)")
    if not isinstance(per_passage, int) or per_passage < 1:
        raise ConfigError(f"queries_per_passage={per_passage!r} must be a positive integer")
    make = METHODS[method]
    out: list[GeneratedQuery] = []
    for chunk in chunks:
        pid, text = _chunk_fields(chunk)
        rng = random.Random(f"{seed}:{method}:{pid}")
        for i, (query, positive) in enumerate(make(pid, text, per_passage, rng)):
            out.append(GeneratedQuery(qid=f"{method}:{pid}:{i}", query=query, pid=pid, generator=method, positive_text=positive))
    return out


def queries_file(run_dir: str | Path, generator: str) -> Path:
    """``<run_dir>/queries/<generator>.jsonl``; ``llm:<model>`` is stored as ``llm.jsonl``."""
    name = generator.split(":", 1)[0]
    if name not in (*METHODS, "llm"):
        raise ConfigError(f"generator={generator!r}: use ict, crop or llm")
    return Path(run_dir) / "queries" / f"{name}.jsonl"


def write_queries(path: str | Path, queries: Iterable[GeneratedQuery]) -> int:
    return atomic_write_jsonl(path, (q.model_dump(mode="json") for q in queries))


def read_queries(path: str | Path) -> list[GeneratedQuery]:
    return read_jsonl_records(path, GeneratedQuery, "each line needs qid, query, pid, generator")
