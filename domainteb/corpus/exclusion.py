"""Keep the evaluation task's own queries out of training.

When ``eval_task`` is a BEIR folder, its query ids and (normalised) query texts are read;
the corpus stage drops documents carrying such an id or text, and the query stage drops
generated queries equal to, or containing, an evaluation query.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from domainteb.core.io import iter_jsonl

_WORD = re.compile(r"\w+", re.U)
#: evaluation queries shorter than this are only matched exactly (not as a substring).
MIN_CONTAINED_WORDS = 4


def normalise(text: str) -> str:
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))


@dataclass(frozen=True)
class EvalQueries:
    ids: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()
    source: str = ""
    _long: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_task(cls, eval_task: str | None) -> EvalQueries:
        """The queries of ``eval_task`` when it is a folder with ``queries.jsonl``; else none."""
        if not eval_task:
            return cls()
        path = Path(str(eval_task)).expanduser()
        qfile = path / "queries.jsonl"
        if not qfile.is_file():
            return cls()
        ids, texts = set(), set()
        for _, rec in iter_jsonl(qfile):
            if "_id" in rec:
                ids.add(str(rec["_id"]))
            if isinstance(rec.get("text"), str) and rec["text"].strip():
                texts.add(normalise(rec["text"]))
        long = tuple(sorted(t for t in texts if len(t.split()) >= MIN_CONTAINED_WORDS))
        return cls(frozenset(ids), frozenset(texts), str(qfile), long)

    def __bool__(self) -> bool:
        return bool(self.ids or self.texts)

    def matches_document(self, doc_id: str, text: str) -> bool:
        return doc_id in self.ids or normalise(text) in self.texts

    def matches_query(self, query: str) -> bool:
        q = normalise(query)
        if q in self.texts:
            return True
        padded = f" {q} "
        return any(f" {t} " in padded for t in self._long)
