"""PubChem identifiers and the IARC list from ``chemicals==1.5.2`` → chemistry tasks.

Files read by path (the package is never imported): ``Identifiers/chemical identifiers pubchem
large.tsv`` (71k compounds: CID, CAS, formula, MW, SMILES, InChI, InChIKey, IUPAC name,
common name, synonyms…) and ``Safety/IARC Carcinogen Database.tsv``. Synonyms that are CAS
numbers or registry codes are dropped. Split entity: the molecular formula (salt
``chem-entity``), so isomers — the hard negatives — always share a split.

Tasks:
* ``ChemSynonymRetrieval`` — trivial/trade synonym → the compound's common name.
* ``ChemIUPACBitextMining`` — common name ↔ IUPAC name.
* ``ChemSMILESBitextMining`` — SMILES ↔ common name.
* ``ChemSynonymPairClassification`` — synonym vs own common name (1) or a same-formula isomer's
  common name (0).
* ``ChemIARCClassification`` — agent name → IARC group (1, 2A, 2B, 3).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

from domainteb.core.types import TaskType
from domainteb.domains.base import (
    LIMITS,
    BuiltSplit,
    choice,
    builder_factory,
    columns,
    entity_partition,
    retrieval_split,
    sample,
    stratified_sample,
)
from domainteb.domains.sources import clean, is_name_like, package_file

SPEC = "chemicals==1.5.2"
LICENSE = "MIT (chemicals, ChEDL); identifiers from PubChem (public domain)"
CITATION = (
    "Bell C. and contributors. chemicals: Chemical properties component of Chemical Engineering Design Library "
    "(ChEDL), version 1.5.2. Identifiers from PubChem (Kim S et al., Nucleic Acids Res. 2023)."
)
IARC_CITATION = "IARC Monographs on the Identification of Carcinogenic Hazards to Humans, list of classifications (via chemicals 1.5.2)."
SALT = "chem-entity"
IARC_GROUPS = {"1": "Group 1", "11": "Group 2A", "12": "Group 2B", "3": "Group 3"}


@dataclass(frozen=True)
class Compound:
    cid: str
    cas: str
    formula: str
    mw: str
    smiles: str
    iupac: str
    common: str
    synonyms: tuple[str, ...]

    @property
    def entity(self) -> str:
        return f"formula:{self.formula}"

    @property
    def partition(self) -> str:
        return entity_partition(self.entity, SALT)


@functools.lru_cache(maxsize=1)
def compounds() -> tuple[Compound, ...]:
    path = package_file("chemicals", SPEC, "Identifiers/chemical identifiers pubchem large.tsv")
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or not f[2] or not f[8]:
                continue
            common = clean(f[8])
            names = {common.lower(), clean(f[7]).lower()}
            syns = []
            for s in f[9:]:
                s = clean(s)
                if is_name_like(s) and s.lower() not in names and len(s) >= 4:
                    names.add(s.lower())
                    syns.append(s)
            out.append(Compound(f[0], f[1], f[2], f[3], f[4], clean(f[7]), common, tuple(syns)))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _partition_cached(part: str) -> tuple[Compound, ...]:
    return tuple(c for c in compounds() if c.partition == part)


def partition(part: str) -> list[Compound]:
    return list(_partition_cached(part))


def _entities(cs: list[Compound]) -> set[str]:
    return {c.entity for c in cs}


def build_synonym_retrieval(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    out = {}
    for part, share in (("test", 1.0), ("dev", 1 / 3)):
        cs = partition(part)
        docs: dict[str, str] = {}
        doc_of_name: dict[str, list[str]] = {}
        for c in cs:
            if c.common.lower() not in doc_of_name:
                docs[f"cid{c.cid}"] = c.common
            doc_of_name.setdefault(c.common.lower(), []).append(f"cid{c.cid}")
        by_syn: dict[str, set[str]] = {}
        for c in cs:
            if c.synonyms:
                syn = choice(c.synonyms, "chem-syn", c.cid)
                by_syn.setdefault(syn, set()).add(doc_of_name[c.common.lower()][0])
        queries = [(f"{part}-{i}", s, d) for i, (s, d) in enumerate(sorted(by_syn.items()))]
        n = None if limits.queries is None else max(10, int(limits.queries * share))
        data, _ = retrieval_split(queries, docs, limits, n, f"ChemSynonymRetrieval-{part}")
        out[part] = BuiltSplit(data, _entities(cs))
    return out


def _bitext(size: str, name: str, left, right) -> dict[str, BuiltSplit]:  # type: ignore[no-untyped-def]
    cs = partition("test")
    rows, seen1, seen2 = [], set(), set()
    for c in cs:
        a, b = left(c), right(c)
        if a and b and a.lower() != b.lower() and a not in seen1 and b not in seen2:
            seen1.add(a)
            seen2.add(b)
            rows.append({"sentence1": a, "sentence2": b})
    rows = sample(rows, LIMITS[size].pairs, name)
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2")), _entities(cs))}


def build_iupac_bitext(size: str) -> dict[str, BuiltSplit]:
    return _bitext(size, "ChemIUPACBitextMining", lambda c: c.common, lambda c: c.iupac)


def build_smiles_bitext(size: str) -> dict[str, BuiltSplit]:
    return _bitext(size, "ChemSMILESBitextMining", lambda c: c.smiles, lambda c: c.common)


def isomer_triplets(part: str) -> list[tuple[str, str, str]]:
    """(synonym, own common name, common name of a same-formula isomer)."""
    cs = partition(part)
    by_formula: dict[str, list[Compound]] = {}
    for c in cs:
        by_formula.setdefault(c.formula, []).append(c)
    out = []
    for c in cs:
        if not c.synonyms or len(by_formula[c.formula]) < 2:
            continue
        isomers = [o for o in by_formula[c.formula] if o.cid != c.cid and o.common.lower() != c.common.lower()]
        if isomers:
            out.append((choice(c.synonyms, "chem-syn", c.cid), c.common, choice(isomers, "chem-isomer", c.cid).common))
    return out


def build_synonym_pairs(size: str) -> dict[str, BuiltSplit]:
    trips = sample(isomer_triplets("test"), LIMITS[size].pairs, "ChemSynonymPairClassification")
    rows, seen = [], set()
    for syn, pos, neg in trips:
        for s2, lab in ((pos, 1), (neg, 0)):
            if (syn, s2) not in seen:
                seen.add((syn, s2))
                rows.append({"sentence1": syn, "sentence2": s2, "labels": lab})
    return {"test": BuiltSplit(columns(rows, ("sentence1", "sentence2", "labels")), _entities(partition("test")))}


@functools.lru_cache(maxsize=1)
def iarc_agents() -> tuple[tuple[str, str, str], ...]:
    """(entity, agent name, group label); entity = PubChem formula when the CAS is known."""
    formula_of = {c.cas: c.formula for c in compounds()}
    path = package_file("chemicals", SPEC, "Safety/IARC Carcinogen Database.tsv")
    out, seen = [], set()
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            name, group = clean(row.get("description") or ""), (row.get("group") or "").strip()
            if not name or group not in IARC_GROUPS or name.lower() in seen:
                continue
            seen.add(name.lower())
            cas = (row.get("CAS") or "").strip()
            entity = f"formula:{formula_of[cas]}" if cas in formula_of else f"iarc:{name.lower()}"
            out.append((entity, name, IARC_GROUPS[group]))
    return tuple(out)


def build_iarc(size: str) -> dict[str, BuiltSplit]:
    limits = LIMITS[size]
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    for agent in iarc_agents():
        part = entity_partition(agent[0], SALT)
        if part == "dev":
            splits["train"].append(agent)
        elif part == "test":
            splits["test"].append(agent)
    train = stratified_sample(splits["train"], lambda a: a[2], limits.items, limits.min_class, "iarc", "train")
    test = stratified_sample(splits["test"], lambda a: a[2], limits.items, limits.min_class, "iarc", "test")
    labels = {a[2] for a in train} & {a[2] for a in test}
    return {
        s: BuiltSplit(columns(({"text": a[1], "label": a[2]} for a in rows if a[2] in labels), ("text", "label")), {a[0] for a in splits[s]})
        for s, rows in (("train", train), ("test", test))
    }


_builder = builder_factory("chemistry", SPEC, LICENSE, CITATION, salts=(SALT,))


BUILDERS = [
    _builder(
        "ChemSynonymRetrieval", TaskType.RETRIEVAL,
        "Retrieve a compound's common name from one of its trivial, trade or systematic synonyms (PubChem).",
        build_synonym_retrieval, eval_splits=["test", "dev"],
    ),
    _builder("ChemIUPACBitextMining", TaskType.BITEXT_MINING, "Match common compound names to their IUPAC names (PubChem).", build_iupac_bitext),
    _builder("ChemSMILESBitextMining", TaskType.BITEXT_MINING, "Match SMILES strings to compound common names (PubChem).", build_smiles_bitext),
    _builder(
        "ChemSynonymPairClassification", TaskType.PAIR_CLASSIFICATION,
        "Is the synonym a name of this compound? Negatives are same-formula isomers.", build_synonym_pairs,
    ),
    _builder(
        "ChemIARCClassification", TaskType.CLASSIFICATION,
        "Classify an agent's name into its IARC carcinogen group (1, 2A, 2B, 3).", build_iarc,
        train_split="train", citation=IARC_CITATION,
    ),
]



def training_passages() -> list[dict[str, str]]:
    """Train-partition compounds described from their PubChem fields only."""
    out = []
    for c in partition("train"):
        if not c.synonyms:
            continue
        text = f"{c.common} (IUPAC name: {c.iupac}). Formula {c.formula}, molecular weight {c.mw} g/mol, SMILES {c.smiles}."
        text += f" Also known as: {'; '.join(c.synonyms[:12])}."
        out.append({"id": f"pubchem:{c.cid}", "text": text})
    return out


def training_triplets() -> list[dict[str, str]]:
    return [{"query": s, "positive": p, "negative": n} for s, p, n in isomer_triplets("train")]
