"""Keeping training data out of evaluation, across every source and domain.

Two checks, both on *normalised* values so that spelling variants of one thing compare equal:

* **entities** — each source names its split entities in its own namespace (``icd10:A41`` in
  the GNU Health tasks is ICD-10 category ``A41`` of the ICD-10-CM tasks; ``tryton:Accounts
  Payable`` is the accounting term a GAAP line item may also be called).
  :func:`normalise_entity` strips those source prefixes and case/space differences, and
  :func:`entity_leaks` compares every evaluation split's entities with every source's *train*
  entities (:data:`TRAIN_ENTITIES`).
* **texts** — :func:`evaluation_texts` is the set of normalised texts of every split of every
  offline task at a size (queries, documents, sentences; cached on disk per build key), and
  :func:`drop_evaluated` removes training passages and triplets that contain one of them, so a
  fine-tuned model never trains on a text it is later scored on — whichever source produced it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from domainteb.core.io import cache_root, stable_hash
from domainteb.core.registry import Registry
from domainteb.core.types import ColumnData, RetrievalData

#: source namespaces that label an entity shared with another source (see the module doc).
ENTITY_PREFIXES: tuple[str, ...] = ("icd10:", "tryton:")
#: text columns of non-retrieval splits.
TEXT_COLUMNS: tuple[str, ...] = ("text", "sentences", "sentence1", "sentence2", "summary", "positive", "negative", "query")

#: source name -> function returning that source's train-partition entity ids.
TRAIN_ENTITIES: Registry[Callable[[], set[str]]] = Registry("train-entity source")

_PUNCT = re.compile(r"[^\w\s]+")


_NAMESPACE = re.compile(r"^[A-Za-z][\w-]*:")


def normalise_entity(entity: str) -> str:
    """``"icd10:A41"`` → ``"a41"``; ``"tryton:Accounts  Payable"`` → ``"accounts payable"``.

    Ids in a namespace of their own (``formula:CO`` vs ``formula:Co``, ``HP:0000118``,
    ``drug:…``) keep their case, where case is meaningful; names and codes without one
    (line items, companies, ICD categories) compare case-insensitively.
    """
    value = " ".join(unicodedata.normalize("NFKC", str(entity)).split())
    for prefix in ENTITY_PREFIXES:
        if value.lower().startswith(prefix):
            return " ".join(value[len(prefix) :].casefold().split())
    return value if _NAMESPACE.match(value) else value.casefold()


def normalise_text(text: Any) -> str:
    """Unicode NFKC, case-folded, punctuation as spaces, whitespace collapsed."""
    return " ".join(_PUNCT.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).split())


def register_train_entities(source: str, fn: Callable[[], set[str]]) -> None:
    TRAIN_ENTITIES.register(source, fn)


def train_entities() -> set[str]:
    """Normalised train entities of every registered source."""
    from domainteb.core.tasks import load_task_modules

    load_task_modules()
    out: set[str] = set()
    for _, fn in TRAIN_ENTITIES.items():
        out |= {normalise_entity(e) for e in fn()}
    return out


def entity_leaks(built: Mapping[str, Mapping[str, Any]], train: set[str] | None = None) -> dict[str, set[str]]:
    """``{task/split: normalised entities shared with a train partition}`` for built splits
    (``{task: {split: BuiltSplit}}``); empty when nothing leaks."""
    train = train_entities() if train is None else train
    out: dict[str, set[str]] = {}
    for name, splits in built.items():
        for split, b in splits.items():
            shared = {normalise_entity(e) for e in b.entities} & train
            if shared:
                out[f"{name}/{split}"] = shared
    return out


def split_texts(data: RetrievalData | ColumnData) -> Iterable[str]:
    """Every text of one split (queries, document titles and texts, text columns)."""
    if isinstance(data, RetrievalData):
        yield from data.queries.values()
        for doc in data.corpus.values():
            yield doc.get("text", "")
            if doc.get("title"):
                yield doc["title"]
        return
    for col in TEXT_COLUMNS:
        for value in data.columns.get(col, []):
            if isinstance(value, str):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, str))


def _index_path(size: str) -> Path:
    from domainteb.domains.base import BUILDERS

    key = stable_hash({name: b.cache_key(size) for name, b in BUILDERS.items()})[:12]
    return cache_root() / "leakage" / f"evaluation-texts-{size}-{key}.txt"


@functools.lru_cache(maxsize=4)
def _evaluation_texts(size: str, file: Path) -> frozenset[str]:
    from domainteb.core.io import atomic_write_text
    from domainteb.domains.base import BUILDERS

    if not file.is_file():
        file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(file) + ".lock"):
            if not file.is_file():
                texts: set[str] = set()
                for _, builder in BUILDERS.items():
                    for data in builder.task(size).load().values():
                        texts |= {n for n in map(normalise_text, split_texts(data)) if n}
                atomic_write_text(file, "\n".join(sorted(texts)) + "\n")
    return frozenset(line for line in file.read_text(encoding="utf-8").splitlines() if line)


def evaluation_texts(size: str | None = None) -> frozenset[str]:
    """Normalised texts of every split of every offline task at ``size`` (built if needed, cached)."""
    from domainteb.core.tasks import load_task_modules
    from domainteb.domains.base import resolve_size

    load_task_modules()
    size = resolve_size(size)
    return _evaluation_texts(size, _index_path(size))


def drop_evaluated(rows: Sequence[dict[str, str]], fields: Sequence[str], size: str | None = None) -> list[dict[str, str]]:
    """The rows none of whose ``fields`` is (after normalisation) a text of an evaluation task."""
    evaluated = evaluation_texts(size)
    return [r for r in rows if not any(normalise_text(r[f]) in evaluated for f in fields)]
