"""Builder framework for the offline domain tasks.

A :class:`TaskBuilder` declares a task's metadata (name, domain, type, source ``package==version``,
licence, citation, splits) and a ``build(size)`` function that turns a pinned data package
into splits. :func:`register_builder` puts it into :data:`domainteb.core.tasks.TASKS`; the
task's factory builds on first use, deterministically, into
``cache_root()/tasks/<name>-<size>-<key>/`` (task-folder format, written into a temporary
folder and renamed, under a file lock so concurrent runs build once) and then loads it with
:func:`~domainteb.core.taskio.load_task_folder`. The recorded ``revision`` is the sha256 of
the built data files.

Sizes: ``tiny`` (tests, tens of items), ``small`` (default, CPU-friendly), ``full`` (whole
source). The size comes from the factory's ``size=`` argument, else ``DOMAINTEB_TASK_SIZE``.

Entity splits: every source assigns each *entity* (ICD category, HPO subtree, molecular
formula, line item, company…) to ``train``/``dev``/``test`` by a salted hash
(:func:`entity_partition`), independent of size. ``train`` entities feed the domain's
fine-tuning corpus and synthetic queries; evaluation tasks only draw from ``dev``/``test``;
classification tasks fit their classifier on ``dev`` entities and score on ``test``
entities, so a fine-tuned model never saw any classification text. Across sources, training
rows whose normalised text is an evaluation text are dropped (:mod:`domainteb.domains.leakage`).
Retrieval splits share one ``corpus.jsonl`` (BEIR); :func:`shared_corpus_params` records it.
The build cache key covers size limits, split fractions and salts (:meth:`TaskBuilder.cache_key`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import random
import shutil
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from filelock import FileLock

from domainteb.core.errors import ConfigError
from domainteb.core.io import cache_root, stable_hash
from domainteb.core.registry import Registry
from domainteb.core.taskio import METADATA_FILE, content_hash, load_task_folder, write_task_folder
from domainteb.core.tasks import TRAINING_CORPORA, TaskSpec, register_task
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskMetadata, TaskType
from domainteb.domains.checks import check_build

log = logging.getLogger(__name__)

T = TypeVar("T")
Size = Literal["tiny", "small", "full"]
SIZES: tuple[str, ...] = ("tiny", "small", "full")
DEFAULT_SIZE = "small"
#: bump when the on-disk layout written by this module changes (invalidates every cache).
FORMAT_VERSION = 2
#: how sources map items to partition entities; bump when a source's entity rule changes
#: (2: HPO terms are partitioned by subtree, retrieval metadata states the shared corpus).
PARTITION_SCHEME = 2


@dataclass(frozen=True)
class Limits:
    """Caps per size; ``None`` means the whole source."""

    queries: int | None  # retrieval / reranking / pair queries per eval split
    corpus: int | None  # retrieval documents (positives are always kept)
    items: int | None  # classification / clustering items per split
    pairs: int | None  # bitext pairs per language, STS / pair-classification pairs
    min_class: int  # smallest allowed class size in a split


LIMITS: dict[str, Limits] = {
    "tiny": Limits(queries=40, corpus=150, items=120, pairs=60, min_class=2),
    "small": Limits(queries=1500, corpus=10000, items=4000, pairs=1000, min_class=10),
    "full": Limits(queries=None, corpus=None, items=None, pairs=None, min_class=10),
}


def resolve_size(size: str | None) -> str:
    """The requested size, else ``$DOMAINTEB_TASK_SIZE``, else ``small``; validated."""
    value = size or os.environ.get("DOMAINTEB_TASK_SIZE") or DEFAULT_SIZE
    if value not in SIZES:
        raise ConfigError(f"task size {value!r} is unknown; use one of {', '.join(SIZES)} (size= or DOMAINTEB_TASK_SIZE)")
    return value


@dataclass
class BuiltSplit:
    """One split as built: the data plus the source entities it draws from (for leakage checks)."""

    data: RetrievalData | ColumnData
    entities: set[str] = field(default_factory=set)


@dataclass
class TaskBuilder:
    """Declarative description of one offline task and how to build it."""

    name: str
    domain: str
    type: TaskType
    description: str
    source: str  # pinned "package==version" (or "debian:package")
    license: str
    citation: str
    build: Callable[[str], dict[str, BuiltSplit]] = field(repr=False)
    eval_splits: list[str] = field(default_factory=lambda: ["test"])
    train_split: str | None = None
    languages: list[str] = field(default_factory=lambda: ["eng-Latn"])
    main_score: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: bump when the build logic changes (part of the cache key).
    version: int = 1
    #: the entity-partition salts the build uses (part of the cache key: a new salt moves entities).
    salts: tuple[str, ...] = ()

    def metadata(self) -> TaskMetadata:
        return TaskMetadata(
            name=self.name,
            type=self.type,
            domain=self.domain,
            description=self.description,
            main_score=self.main_score,
            eval_splits=list(self.eval_splits),
            train_split=self.train_split,
            languages=list(self.languages),
            source=self.source,
            license=self.license,
            citation=self.citation,
            params=dict(self.params),
        )

    def cache_key(self, size: str) -> str:
        """Everything that changes the built data: builder, source pin, size *limits* (not just the
        size name), split fractions, partition salts, the HPO subtree depth and the on-disk format."""
        return stable_hash(
            {
                "name": self.name,
                "version": self.version,
                "source": self.source,
                "size": size,
                "limits": dataclasses.asdict(LIMITS[size]),
                "split_fractions": [list(p) for p in SPLIT_FRACTIONS],
                "salts": sorted(self.salts),
                "partition_scheme": PARTITION_SCHEME,
                "format": FORMAT_VERSION,
            }
        )[:12]

    def folder(self, size: str) -> Path:
        return cache_root() / "tasks" / f"{self.name}-{size}-{self.cache_key(size)}"

    def ensure_built(self, size: str | None = None) -> Path:
        """Build the task folder once (locked, atomic) and return its path."""
        size = resolve_size(size)
        final = self.folder(size)
        if (final / METADATA_FILE).is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if (final / METADATA_FILE).is_file():
                return final
            log.info("building task %s (size=%s) from %s", self.name, size, self.source)
            splits = self.build(size)
            check_build(self.name, self.type, splits, LIMITS[size].min_class, self.eval_splits, self.train_split)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            params = {**self.params, "size": size, **shared_corpus_params(splits)}
            meta = self.metadata().model_copy(update={"params": params})
            write_task_folder(tmp, meta, {s: b.data for s, b in splits.items()})
            revision = content_hash(tmp)
            write_task_folder_metadata(tmp, revision)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        return final

    def task(self, size: str | None = None, **_: object) -> Task:
        return load_task_folder(self.ensure_built(size))


def shared_corpus_params(splits: dict[str, BuiltSplit]) -> dict[str, Any]:
    """Metadata saying that retrieval splits share one ``corpus.jsonl`` (BEIR has one corpus).

    Queries and judged documents of each split come from that split's entities only, but every
    split is searched over the union of the splits' documents, so the other split's documents
    are distractors (no dev document is ever judged relevant for a test query).
    """
    retrieval = sorted(s for s, b in splits.items() if isinstance(b.data, RetrievalData))
    if len(retrieval) < 2:
        return {}
    return {
        "corpus_shared_by_splits": retrieval,
        "corpus_note": (
            f"splits {', '.join(retrieval)} share one corpus.jsonl: each split's queries and relevant documents come "
            "from its own entities; the other splits' documents are searched too, as distractors"
        ),
    }


def write_task_folder_metadata(folder: Path, revision: str) -> None:
    from domainteb.core.io import atomic_write_json, read_json

    meta = read_json(folder / METADATA_FILE)
    meta["revision"] = revision
    atomic_write_json(folder / METADATA_FILE, meta)


BUILDERS: Registry[TaskBuilder] = Registry("offline task builder")


def builder_factory(
    domain: str, source: str, license: str, citation: str, salts: tuple[str, ...] = ()
) -> Callable[..., TaskBuilder]:
    """``make(name, type, description, build, **kw)``: a :class:`TaskBuilder` with one source's fields filled in."""

    def make(name: str, type_: TaskType, description: str, build: Callable[[str], dict[str, BuiltSplit]],
             **kw: Any) -> TaskBuilder:
        fields = {"domain": domain, "source": source, "license": license, "citation": citation, "salts": salts, **kw}
        return TaskBuilder(name=name, type=type_, description=description, build=build, **fields)

    return make


def register_builder(builder: TaskBuilder) -> TaskBuilder:
    """Register a builder and its task (factory: build if needed, then load)."""
    BUILDERS.register(builder.name, builder)
    register_task(
        TaskSpec(
            name=builder.name,
            domain=builder.domain,
            type=builder.type,
            factory=builder.task,
            benchmark="domainteb",
            source=builder.source,
            license=builder.license,
            description=builder.description,
        )
    )
    return builder


def register_builders(*modules: Any) -> None:
    """Register every builder listed in each module's ``BUILDERS``."""
    for module in modules:
        for builder in module.BUILDERS:
            register_builder(builder)


# --- training corpora and calibration triplets ---------------------------------------------

#: domain -> function(n, seed) returning real (query, positive, negative) triplets from train entities.
TRAIN_PAIRS: Registry[Callable[..., list[dict[str, str]]]] = Registry("training-pair source")


def register_training_corpus(domain: str, fn: Callable[..., list[dict[str, str]]]) -> None:
    TRAINING_CORPORA.register(domain, fn)


def register_train_pairs(domain: str, fn: Callable[..., list[dict[str, str]]]) -> None:
    TRAIN_PAIRS.register(domain, fn)


def train_pairs(domain: str, n: int = 1000, seed: int = 0) -> list[dict[str, str]]:
    """Up to ``n`` real ``{"query", "positive", "negative"}`` triplets from the domain's train split."""
    from domainteb.core.tasks import load_task_modules

    load_task_modules()
    return TRAIN_PAIRS.get(domain)(n=n, seed=seed)


# --- deterministic helpers ------------------------------------------------------------------

SPLIT_FRACTIONS: tuple[tuple[str, float], ...] = (("train", 0.5), ("dev", 0.2), ("test", 0.3))


@functools.lru_cache(maxsize=1 << 18)
def entity_partition(entity: str, salt: str) -> str:
    """``train``/``dev``/``test`` for an entity, from a salted sha256 (stable across sizes)."""
    digest = hashlib.sha256(f"{salt}\x00{entity}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    acc = 0.0
    for name, frac in SPLIT_FRACTIONS:
        acc += frac
        if u < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


def rng(*parts: object) -> random.Random:
    """A random generator seeded from the parts (task name, split…), independent of PYTHONHASHSEED."""
    return random.Random(int(stable_hash([str(p) for p in parts])[:16], 16))


def choice(items: Sequence[T], *seed_parts: object) -> T:
    """A deterministic pick from a non-empty sequence, cheap enough to call per item."""
    digest = hashlib.sha256("\x00".join(map(str, seed_parts)).encode()).digest()
    return items[int.from_bytes(digest[:8], "big") % len(items)]


def sample(items: Sequence[T], n: int | None, *seed_parts: object) -> list[T]:
    """Deterministic sample of ``n`` items (all of them, in order, when ``n`` is None or larger)."""
    if n is None or n >= len(items):
        return list(items)
    picked = sorted(rng(*seed_parts).sample(range(len(items)), n))
    return [items[i] for i in picked]


def frequent_labels(labels: Iterable[Hashable], min_count: int) -> set[Hashable]:
    """Labels that occur at least ``min_count`` times."""
    counts: dict[Hashable, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    return {lab for lab, c in counts.items() if c >= min_count}


def stratified_sample(rows: Sequence[T], label_of: Callable[[T], Hashable], n: int | None, min_class: int, *seed_parts: object) -> list[T]:
    """Sample ``n`` rows keeping every label's share, and at least ``min_class`` rows per kept label.

    Labels with fewer than ``min_class`` rows are dropped (classification needs enough members).
    """
    by_label: dict[Hashable, list[T]] = {}
    for row in rows:
        by_label.setdefault(label_of(row), []).append(row)
    by_label = {k: v for k, v in by_label.items() if len(v) >= min_class}
    total = sum(len(v) for v in by_label.values())
    if n is None or n >= total:
        return [r for r in rows if label_of(r) in by_label]
    out: list[T] = []
    for lab in sorted(by_label, key=str):
        members = by_label[lab]
        k = max(min_class, round(n * len(members) / total))
        out.extend(sample(members, k, *seed_parts, lab))
    return out


def _label(row: dict[str, Any]) -> Hashable:
    return row["label"]


def labelled_classification(
    train_rows: Sequence[dict[str, Any]],
    test_rows: Sequence[dict[str, Any]],
    size: str,
    salt: str,
    train_entities: set[str],
    test_entities: set[str],
    *,
    test_within_train_labels: bool = False,
) -> dict[str, BuiltSplit]:
    """Classification splits from ``{"text", "label"}`` rows: stratified train and test samples,
    kept to the labels present in both. ``test_within_train_labels``: drop test rows whose label
    the train sample lacks *before* sampling the test split (so it keeps its full size)."""
    limits = LIMITS[size]
    train = stratified_sample(train_rows, _label, limits.items, limits.min_class, salt, "train")
    if test_within_train_labels:
        train_labels = {r["label"] for r in train}
        test_rows = [r for r in test_rows if r["label"] in train_labels]
    test = stratified_sample(test_rows, _label, limits.items, limits.min_class, salt, "test")
    labels = {r["label"] for r in train} & {r["label"] for r in test}
    return {
        "train": BuiltSplit(columns((r for r in train if r["label"] in labels), ("text", "label")), train_entities),
        "test": BuiltSplit(columns((r for r in test if r["label"] in labels), ("text", "label")), test_entities),
    }


def labelled_clustering(rows: Sequence[dict[str, Any]], size: str, salt: str, entities: set[str]) -> dict[str, BuiltSplit]:
    """A clustering test split from ``{"text", "label"}`` rows (one stratified sample, mteb's columns)."""
    limits = LIMITS[size]
    picked = stratified_sample(rows, _label, limits.items, limits.min_class, salt)
    data = columns(({"sentences": r["text"], "labels": r["label"]} for r in picked), ("sentences", "labels"))
    return {"test": BuiltSplit(data, entities)}


def retrieval_split(
    queries: Sequence[tuple[str, str, Iterable[str]]],
    documents: dict[str, str],
    limits: Limits,
    n_queries: int | None,
    seed: str,
    titles: dict[str, str] | None = None,
) -> tuple[RetrievalData, list[str]]:
    """A retrieval split: sampled queries ``(qid, text, [positive doc ids])`` and a corpus of the
    positives plus sampled distractors from ``documents`` (capped by ``limits.corpus``).

    Returns the data and the sampled query ids.
    """
    picked = [(qid, text, sorted(docs)) for qid, text, docs in sample(queries, n_queries, seed, "queries")]
    positives = {d for _, _, docs in picked for d in docs}
    others = sorted(d for d in documents if d not in positives)
    room = None if limits.corpus is None else max(0, limits.corpus - len(positives))
    distractors = sample(others, room, seed, "distractors")
    doc_ids = sorted(positives) + distractors
    corpus = {d: {"title": (titles or {}).get(d, ""), "text": documents[d]} for d in doc_ids}
    return (
        RetrievalData(
            corpus=corpus,
            queries={qid: text for qid, text, _ in picked},
            qrels={qid: {d: 1 for d in docs} for qid, _, docs in picked},
        ),
        [qid for qid, _, _ in picked],
    )


def columns(rows: Iterable[dict[str, Any]], names: Sequence[str]) -> ColumnData:
    rows = list(rows)
    return ColumnData({n: [r[n] for r in rows] for n in names})
