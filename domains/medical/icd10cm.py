"""ICD-10-CM (FY2026 tabular list from ``simple-icd-10-cm==1.5.0``) → medical tasks.

Source: the CDC/NCHS ICD-10-CM tabular XML shipped inside the package, parsed by path. The
split entity is the 3-character category (``B08``): a category with all its codes, titles
and inclusion terms sits in exactly one of train/dev/test (salt ``icd10-category``, shared
with the GNU Health ICD-10 bitext tasks, so the medical fine-tuning corpus never contains an
evaluation category).

Tasks:
* ``MedICD10SynonymRetrieval`` — inclusion term ("Hand, foot and mouth disease") → code
  title ("Enteroviral vesicular stomatitis with exanthem"); corpus = titles of the split's codes.
* ``MedICD10SynonymPairClassification`` — inclusion term vs own title (1) or a sibling code's
  title under the same category (0, hard negative).
* ``MedICD10ChapterClassification`` / ``MedICD10ChapterClustering`` — code title → chapter (22).
* ``MedICD10HierarchySTS`` — graded similarity derived from the hierarchy only: an inclusion
  term vs the title of the same code (5), a sibling code in the same category (10/3), a code of
  another category in the same chapter (5/3), a code in another chapter (0). It measures
  whether embedding similarity follows the classification's distance; it is not human-rated STS.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from domainteb.core.types import TaskType
from domainteb.domains.base import (
    LIMITS,
    BuiltSplit,
    builder_factory,
    choice,
    columns,
    entity_partition,
    labelled_classification,
    labelled_clustering,
    retrieval_split,
    rng,
    sample,
)
from domainteb.domains.sources import clean, package_file

SPEC = "simple-icd-10-cm==1.5.0"
LICENSE = "Public domain (US Government work: CDC/NCHS ICD-10-CM); package MIT"
CITATION = (
    "National Center for Health Statistics. ICD-10-CM Tabular List of Diseases and Injuries, FY2026 "
    "(April 1, 2026 update). Centers for Disease Control and Prevention."
)
SALT = "icd10-category"
_RANGE = re.compile(r"\s*\([A-Z0-9]{3}-[A-Z0-9]{3}\)\s*$")


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    chapter: str
    inclusion: tuple[str, ...]

    @property
    def category(self) -> str:
        return self.code[:3]

    @property
    def partition(self) -> str:
        return entity_partition(self.category, SALT)


@functools.lru_cache(maxsize=1)
def codes() -> tuple[Code, ...]:
    """Every ``<diag>`` of the tabular list, in file order."""
    path = package_file("simple_icd_10_cm", SPEC, "data/icd10c-tabular-April-1-2026.xml")
    root = ET.parse(path).getroot()
    out: list[Code] = []
    for chapter in root.iter("chapter"):
        chapter_name = _RANGE.sub("", clean(chapter.findtext("desc") or ""))
        for diag in chapter.iter("diag"):
            code = (diag.findtext("name") or "").strip()
            title = clean(diag.findtext("desc") or "")
            terms = tuple(
                clean(n.text or "")
                for inc in diag.findall("inclusionTerm")
                for n in inc.findall("note")
                if (n.text or "").strip()
            )
            if code and title:
                out.append(Code(code, title, chapter_name, terms))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _in_partition(part: str) -> tuple[Code, ...]:
    return tuple(c for c in codes() if c.partition == part)


def in_partition(part: str) -> list[Code]:
    return list(_in_partition(part))


def synonym_queries(part: str) -> list[tuple[str, str, list[str]]]:
    """(query id, inclusion term, [code]) for terms that differ from their code's title."""
    by_term: dict[str, list[str]] = {}
    for c in in_partition(part):
        for term in c.inclusion:
            if len(term) >= 4 and term.lower() != c.title.lower():
                by_term.setdefault(term, []).append(c.code)
    return [(f"{part}-{i}", term, sorted(set(docs))) for i, (term, docs) in enumerate(sorted(by_term.items()))]


def build_synonym_retrieval(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    out: dict[str, BuiltSplit] = {}
    for part, share in (("test", 1.0), ("dev", 1 / 3)):
        cs = in_partition(part)
        docs = {c.code: c.title for c in cs}
        n = None if limits.queries is None else max(10, int(limits.queries * share))
        data, _ = retrieval_split(synonym_queries(part), docs, limits, n, f"MedICD10SynonymRetrieval-{part}")
        out[part] = BuiltSplit(data, {c.category for c in cs})
    return out


def _siblings(cs: list[Code]) -> dict[str, list[Code]]:
    by_cat: dict[str, list[Code]] = {}
    for c in cs:
        by_cat.setdefault(c.category, []).append(c)
    return by_cat


def build_synonym_pairs(size: str) -> dict[str, BuiltSplit]:
    cs = in_partition("test")
    by_cat = _siblings(cs)
    rows: list[dict[str, object]] = []
    for c in cs:
        if not c.inclusion:
            continue
        sibs = [s for s in by_cat[c.category] if s.code != c.code and s.title.lower() != c.title.lower()]
        for term in c.inclusion:
            if len(term) < 4 or term.lower() == c.title.lower() or not sibs:
                continue
            rows.append({"sentence1": term, "sentence2": c.title, "labels": 1})
            rows.append({"sentence1": term, "sentence2": choice(sibs, "icd-pair", c.code, term).title, "labels": 0})
    rows = _dedupe(rows, ("sentence1", "sentence2"))
    lim = LIMITS[size].pairs
    picked = sample(rows, None if lim is None else 2 * lim, "MedICD10SynonymPairClassification")
    return {"test": BuiltSplit(columns(picked, ("sentence1", "sentence2", "labels")), {c.category for c in cs})}


def _dedupe(rows: list[dict[str, object]], keys: tuple[str, ...]) -> list[dict[str, object]]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for row in rows:
        k = tuple(row[x] for x in keys)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


def _title_rows(part: str, exclude: set[str] = frozenset()) -> list[dict[str, str]]:
    rows, seen = [], set(exclude)
    for c in in_partition(part):
        if c.title not in seen:
            seen.add(c.title)
            rows.append({"text": c.title, "label": c.chapter})
    return rows


def build_chapter_classification(size: str) -> dict[str, BuiltSplit]:
    dev_rows = _title_rows("dev")
    return labelled_classification(
        dev_rows, _title_rows("test", exclude={r["text"] for r in dev_rows}), size, "icd-chapter",
        {c.category for c in in_partition("dev")}, {c.category for c in in_partition("test")},
        test_within_train_labels=True,
    )


def build_chapter_clustering(size: str) -> dict[str, BuiltSplit]:
    return labelled_clustering(_title_rows("test"), size, "icd-chapter-clu", {c.category for c in in_partition("test")})


STS_LEVELS = {"same_code": 5.0, "same_category": 10 / 3, "same_chapter": 5 / 3, "other_chapter": 0.0}


def build_hierarchy_sts(size: str) -> dict[str, BuiltSplit]:
    cs = in_partition("test")
    by_cat = _siblings(cs)
    by_chapter: dict[str, list[Code]] = {}
    for c in cs:
        by_chapter.setdefault(c.chapter, []).append(c)
    r = rng("MedICD10HierarchySTS")
    anchors = [(c, t) for c in cs for t in c.inclusion if len(t) >= 4 and t.lower() != c.title.lower()]
    lim = LIMITS[size].pairs
    anchors = sample(anchors, None if lim is None else max(4, lim // 4), "MedICD10HierarchySTS", "anchors")
    rows: list[dict[str, object]] = []
    for c, term in anchors:
        sibs = [s for s in by_cat[c.category] if s.code != c.code]
        same_ch = [s for s in by_chapter[c.chapter] if s.category != c.category]
        other = next((o for o in (r.choice(cs) for _ in range(100)) if o.chapter != c.chapter), None)
        if not (sibs and same_ch and other):
            continue
        for level, partner in (
            ("same_code", c),
            ("same_category", r.choice(sibs)),
            ("same_chapter", r.choice(same_ch)),
            ("other_chapter", other),
        ):
            rows.append({"sentence1": term, "sentence2": partner.title, "score": round(STS_LEVELS[level], 4)})
    rows = _dedupe(rows, ("sentence1", "sentence2"))
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2", "score")), {c.category for c in cs})}


_builder = builder_factory("medical", SPEC, LICENSE, CITATION, salts=(SALT,))


BUILDERS = [
    _builder(
        "MedICD10SynonymRetrieval", TaskType.RETRIEVAL,
        "Retrieve the ICD-10-CM code title for an inclusion term (clinical synonym), among the titles of held-out categories.",
        build_synonym_retrieval, eval_splits=["test", "dev"],
    ),
    _builder(
        "MedICD10SynonymPairClassification", TaskType.PAIR_CLASSIFICATION,
        "Is the ICD-10-CM inclusion term a synonym of the code title? Negatives are sibling codes of the same category.",
        build_synonym_pairs,
    ),
    _builder(
        "MedICD10ChapterClassification", TaskType.CLASSIFICATION,
        "Classify an ICD-10-CM code title into its chapter (classifier trained on dev categories, scored on test categories).",
        build_chapter_classification, train_split="train",
    ),
    _builder(
        "MedICD10ChapterClustering", TaskType.CLUSTERING,
        "Cluster ICD-10-CM code titles of held-out categories by chapter.",
        build_chapter_clustering,
    ),
    _builder(
        "MedICD10HierarchySTS", TaskType.STS,
        "Graded similarity from the ICD-10-CM hierarchy: inclusion term vs same code (5), sibling (3.33), same chapter (1.67), other chapter (0).",
        build_hierarchy_sts, params={"min_score": 0, "max_score": 5},
    ),
]



def training_passages() -> list[dict[str, str]]:
    """Train-category codes that carry inclusion terms, as 'title. Includes: …' passages."""
    return [
        {"id": f"icd10cm:{c.code}", "text": f"{c.title}. Includes: {'; '.join(c.inclusion)}. Chapter: {c.chapter}."}
        for c in in_partition("train")
        if c.inclusion
    ]


def training_triplets() -> list[dict[str, str]]:
    """(inclusion term, own title, sibling title) from train categories."""
    cs = in_partition("train")
    by_cat = _siblings(cs)
    r = rng("icd10cm-train-triplets")
    out = []
    for c in cs:
        if not c.inclusion:
            continue
        sibs = [s for s in by_cat[c.category] if s.code != c.code and s.title.lower() != c.title.lower()]
        for term in c.inclusion:
            if sibs and len(term) >= 4 and term.lower() != c.title.lower():
                out.append({"query": term, "positive": c.title, "negative": r.choice(sibs).title})
    return out
