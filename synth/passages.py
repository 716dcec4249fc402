"""Where passages come from: a domain's training corpus, a user's JSONL file (``id`` or BEIR ``_id``), or a folder of .txt files."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.core.io import iter_jsonl, require_field


@dataclass(frozen=True)
class Passage:
    id: str
    text: str


def _from_jsonl(path: Path) -> list[Passage]:
    out = []
    for lineno, rec in iter_jsonl(path):
        pid = require_field(rec, "_id" if "_id" in rec and "id" not in rec else "id", path, lineno, (str, int))
        text = require_field(rec, "text", path, lineno)
        title = rec.get("title")
        if isinstance(title, str) and title.strip():
            text = f"{title.strip()}\n{text}"
        out.append(Passage(str(pid), text))
    return out


def _chunks(text: str, max_chars: int) -> list[str]:
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    out: list[str] = []
    cur = ""
    for para in filter(None, paragraphs):
        if cur and len(cur) + 1 + len(para) > max_chars:
            out.append(cur)
            cur = para
        else:
            cur = f"{cur} {para}".strip()
    if cur:
        out.append(cur)
    return out


def _from_folder(path: Path, max_chars: int) -> list[Passage]:
    files = sorted(path.rglob("*.txt"))
    if not files:
        raise ConfigError(f"passages folder {path} holds no .txt files; put one document per .txt file there")
    out = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TaskDataError(f"{f}: not UTF-8 text; re-save it as UTF-8") from None
        rel = f.relative_to(path).as_posix()
        out += [Passage(f"{rel}#{i}", chunk) for i, chunk in enumerate(_chunks(text, max_chars))]
    return out


def load_passages(domain: str, source: str | None, *, max_chars: int = 2000) -> list[Passage]:
    """All candidate passages: ``source`` None → the domain's training corpus; else a .jsonl file or a folder."""
    if source in (None, "", "null"):
        from domainteb.core.tasks import training_corpus

        passages = [Passage(str(r["id"]), str(r["text"])) for r in training_corpus(domain)]
    else:
        path = Path(str(source)).expanduser()
        if path.is_dir():
            passages = _from_folder(path, max_chars)
        elif path.is_file():
            passages = _from_jsonl(path)
        else:
            raise ConfigError(f"passages={source}: no such file or folder; give a JSONL file with id/text or a folder of .txt files")
    seen: set[str] = set()
    for p in passages:
        if p.id in seen:
            raise TaskDataError(f"{source or domain + ' training corpus'}: passage id {p.id!r} appears twice; ids must be unique")
        seen.add(p.id)
    return passages


def select_passages(passages: list[Passage], n: int | None, seed: int, min_chars: int = 40, max_chars: int = 2000) -> list[Passage]:
    """A seeded sample of ``n`` passages of usable length (all of them when ``n`` is None or larger)."""
    usable = [Passage(p.id, p.text.strip()[:max_chars]) for p in passages if len(p.text.strip()) >= min_chars]
    if not usable:
        raise ConfigError(f"no passage has at least {min_chars} characters; lower min_passage_chars or check the passages")
    if n is None or n >= len(usable):
        return usable
    idx = sorted(random.Random(seed).sample(range(len(usable)), n))
    return [usable[i] for i in idx]
