"""US-GAAP/IFRS element mappings from ``edgartools==5.62.1`` → finance tasks.

``edgar/xbrl/standardization/gaap_mappings.json`` maps 2,924 XBRL element names (CamelCase,
e.g. ``ExchangeDifferencesOnTranslation``) to a standard line item ("Foreign Currency
Translation Adjustments"), a statement (BalanceSheet, IncomeStatement…) and a section
("Current Assets"…). Element names are de-camel-cased into labels ("Exchange differences on
translation"). Split entity: the standard line item (salt ``gaap-line-item``), so a line item
and every element mapped to it sit in one split.

Tasks:
* ``FinGAAPStatementClassification`` — element label → financial statement.
* ``FinGAAPSectionClustering`` — element labels clustered by statement section.
* ``FinGAAPLineItemRetrieval`` — element label → its standard line item.
* ``FinGAAPLineItemReranking`` — the same, ranking the line item among line items of the same statement.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

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
from domainteb.domains.sources import package_file

SPEC = "edgartools==5.62.1"
LICENSE = "MIT (edgartools); US-GAAP/IFRS taxonomy element names (FASB/IFRS Foundation)"
CITATION = "Gunning D. edgartools 5.62.1: XBRL standardization mappings (gaap_mappings.json)."
SALT = "gaap-line-item"
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def decamel(name: str) -> str:
    """``AccountsAndNotesReceivableNet`` → ``Accounts and notes receivable net`` (acronyms kept)."""
    words = _CAMEL.findall(name)
    out = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    text = " ".join(out)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Element:
    name: str
    label: str
    line_item: str
    statement: str
    section: str

    @property
    def partition(self) -> str:
        return entity_partition(self.line_item, SALT)


@functools.lru_cache(maxsize=1)
def elements() -> tuple[Element, ...]:
    path = package_file("edgar", SPEC, "xbrl/standardization/gaap_mappings.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for name in sorted(raw):
        info = raw[name]
        label = decamel(name)
        line = (info.get("display_name") or "").strip()
        if line and label.lower() != line.lower():
            out.append(Element(name, label, line, info.get("statement") or "", info.get("section") or ""))
    return tuple(out)


def partition(part: str) -> list[Element]:
    return [e for e in elements() if e.partition == part]


def _lines(es: list[Element]) -> set[str]:
    return {e.line_item for e in es}


def _unique_label_rows(es: list[Element], label_of) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    rows, seen = [], set()
    for e in es:
        lab = label_of(e)
        if lab and e.label not in seen:
            seen.add(e.label)
            rows.append({"text": e.label, "label": lab})
    return rows


def build_statement_classification(size: str) -> dict[str, BuiltSplit]:
    dev, test = partition("dev"), partition("test")
    return labelled_classification(
        _unique_label_rows(dev, lambda e: e.statement), _unique_label_rows(test, lambda e: e.statement),
        size, "gaap-stmt", _lines(dev), _lines(test),
    )


def build_section_clustering(size: str) -> dict[str, BuiltSplit]:
    es = partition("test") + partition("dev")  # clustering fits nothing: both held-out partitions
    return labelled_clustering(_unique_label_rows(es, lambda e: e.section), size, "gaap-sec", _lines(es))


def build_line_item_retrieval(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    out = {}
    for part, share in (("test", 1.0), ("dev", 1 / 3)):
        es = partition(part)
        doc_id = {line: f"li{i}" for i, line in enumerate(sorted(_lines(es)))}
        docs = {d: line for line, d in doc_id.items()}
        by_label: dict[str, set[str]] = {}
        for e in es:
            by_label.setdefault(e.label, set()).add(doc_id[e.line_item])
        queries = [(f"{part}-{i}", lab, sorted(d)) for i, (lab, d) in enumerate(sorted(by_label.items()))]
        n = None if limits.queries is None else max(10, int(limits.queries * share))
        data, _ = retrieval_split(queries, docs, limits, n, f"FinGAAPLineItemRetrieval-{part}")
        # ids are per partition: prefix them so dev and test share one corpus file safely
        data.corpus = {f"{part}-{k}": v for k, v in data.corpus.items()}
        data.qrels = {q: {f"{part}-{d}": r for d, r in rels.items()} for q, rels in data.qrels.items()}
        out[part] = BuiltSplit(data, _lines(es))
    return out


def triplets(part: str) -> list[tuple[str, str, list[str]]]:
    """(element label, its line item, other line items of the same statement)."""
    es = partition(part)
    by_stmt: dict[str, set[str]] = {}
    for e in es:
        by_stmt.setdefault(e.statement, set()).add(e.line_item)
    out, seen = [], set()
    for e in es:
        others = sorted(by_stmt[e.statement] - {e.line_item})
        if others and e.label not in seen:
            seen.add(e.label)
            out.append((e.label, e.line_item, others))
    return out


def build_line_item_reranking(size: str) -> dict[str, BuiltSplit]:
    picked = sample(triplets("test"), LIMITS[size].queries, "FinGAAPLineItemReranking")
    rows = []
    for label, line, others in picked:
        negs = list(others)
        rng("FinGAAPLineItemReranking", label).shuffle(negs)
        rows.append({"query": label, "positive": [line], "negative": negs[:9]})
    return {"test": BuiltSplit(columns(rows, ("query", "positive", "negative")), _lines(partition("test")))}


_builder = builder_factory("finance", SPEC, LICENSE, CITATION, salts=(SALT,))


BUILDERS = [
    _builder(
        "FinGAAPStatementClassification", TaskType.CLASSIFICATION,
        "Classify a US-GAAP/IFRS element label into the financial statement it is reported on.",
        build_statement_classification, train_split="train",
    ),
    _builder("FinGAAPSectionClustering", TaskType.CLUSTERING, "Cluster US-GAAP/IFRS element labels by statement section.", build_section_clustering),
    _builder(
        "FinGAAPLineItemRetrieval", TaskType.RETRIEVAL,
        "Retrieve the standard financial-statement line item that a US-GAAP/IFRS element maps to.",
        build_line_item_retrieval, eval_splits=["test", "dev"],
    ),
    _builder(
        "FinGAAPLineItemReranking", TaskType.RERANKING,
        "Rank the standard line item of a US-GAAP/IFRS element among line items of the same statement.",
        build_line_item_reranking,
    ),
]



def training_passages() -> list[dict[str, str]]:
    """Train-partition elements, each stated from its mapping fields."""
    out = []
    for e in partition("train"):
        where = f" in the {e.section} section" if e.section else ""
        stmt = f" of the {e.statement}" if e.statement else ""
        out.append({"id": f"gaap:{e.name}", "text": f"{e.label} (XBRL element {e.name}) is reported as {e.line_item}{where}{stmt}."})
    return out


def training_triplets() -> list[dict[str, str]]:
    out = []
    for label, line, others in triplets("train"):
        out.append({"query": label, "positive": line, "negative": rng("gaap-train", label).choice(others)})
    return out
