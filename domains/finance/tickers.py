"""Index constituents from ``pytickersymbols==1.17.10`` → company → GICS sector tasks.

``pytickersymbols/indices_data.py`` holds a plain ``INDICES`` literal (Wikipedia infobox
data); it is read with :func:`ast.literal_eval`, never imported. A company is kept when its
``industries`` name exactly one GICS sector (the label) and it has descriptive text besides
the name: its other industry strings (other taxonomies, free text) and its products. The
label strings themselves are removed from the text. Split entity: the company name (salt
``company``).

Tasks: ``FinCompanySectorClassification`` (dev companies train the classifier, test companies
score it) and ``FinCompanySectorClustering``.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from domainteb.core.errors import TaskDataError
from domainteb.core.types import TaskType
from domainteb.domains.base import (
    BuiltSplit,
    builder_factory,
    entity_partition,
    labelled_classification,
    labelled_clustering,
)
from domainteb.domains.sources import clean, package_file

SPEC = "pytickersymbols==1.17.10"
LICENSE = "MIT (pytickersymbols); company facts from Wikipedia infoboxes (CC BY-SA 4.0)"
CITATION = "pytickersymbols 1.17.10 (portfolioplus), index constituents with Wikipedia infobox metadata."
SALT = "company"
GICS = (
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials", "Health Care",
    "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
)


@dataclass(frozen=True)
class Company:
    name: str
    sector: str
    text: str

    @property
    def partition(self) -> str:
        return entity_partition(self.name.lower(), SALT)


@functools.lru_cache(maxsize=1)
def companies() -> tuple[Company, ...]:
    path = package_file("pytickersymbols", SPEC, "indices_data.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    indices = next(
        (ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "INDICES" for t in n.targets)),
        None,
    )
    if not isinstance(indices, dict):
        raise TaskDataError(f"{path}: no INDICES literal found; the pinned {SPEC} changed")
    seen: dict[str, Company] = {}
    for index in indices.values():
        for comp in index.get("companies", []):
            name = clean(comp.get("name") or "")
            if not name or name.lower() in seen:
                continue
            industries = [clean(i) for i in comp.get("industries") or []]
            sectors = [i for i in industries if i in GICS]
            if len(sectors) != 1:
                continue
            other = [i for i in industries if i not in GICS]
            products = clean((comp.get("metadata") or {}).get("products") or "")
            if not other and not products:
                continue
            text = name.rstrip(".") + (f". Industries: {', '.join(other)}" if other else "") + (f". Products: {products}" if products else "") + "."
            seen[name.lower()] = Company(name, sectors[0], text)
    return tuple(seen[k] for k in sorted(seen))


def _rows(part: str) -> tuple[list[dict[str, str]], set[str]]:
    cs = [c for c in companies() if c.partition == part]
    return [{"text": c.text, "label": c.sector} for c in cs], {c.name.lower() for c in cs}


def build_classification(size: str) -> dict[str, BuiltSplit]:
    train_rows, train_ents = _rows("dev")
    test_rows, test_ents = _rows("test")
    return labelled_classification(train_rows, test_rows, size, "tickers", train_ents, test_ents)


def build_clustering(size: str) -> dict[str, BuiltSplit]:
    rows, ents = _rows("test")
    dev_rows, dev_ents = _rows("dev")
    return labelled_clustering(rows + dev_rows, size, "tickers-clu", ents | dev_ents)


_builder = builder_factory("finance", SPEC, LICENSE, CITATION, salts=(SALT,))

BUILDERS = [
    _builder(
        "FinCompanySectorClassification", TaskType.CLASSIFICATION,
        "Classify a listed company (name, industries, products) into its GICS sector.",
        build_classification, train_split="train",
    ),
    _builder(
        "FinCompanySectorClustering", TaskType.CLUSTERING,
        "Cluster listed companies (name, industries, products) by GICS sector.",
        build_clustering,
    ),
]



def training_passages() -> list[dict[str, str]]:
    return [{"id": f"company:{c.name}", "text": c.text} for c in companies() if c.partition == "train"]
