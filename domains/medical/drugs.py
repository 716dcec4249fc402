"""Drug name variants (``drug-named-entity-recognition==2.0.9``) → ``MedDrugSynonymReranking``.

Query: a variant name of a drug (brand, INN spelling, systematic or MeSH entry term, e.g.
"ziagen"); candidates: the drug's canonical name (relevant) and up to nine other canonical
drug names, preferring drugs of the same MeSH tree branch (two levels, e.g. ``D03.383``),
then drugs sharing the first three letters, then any. Split entity: the molecular formula
(or canonical name without one), salt ``chem-entity`` shared with the chemistry tasks; only
test-partition drugs appear.
"""

from __future__ import annotations

import functools

from domainteb.core.types import TaskType
from domainteb.domains.base import LIMITS, BuiltSplit, TaskBuilder, columns, entity_partition, rng, sample
from domainteb.domains.sources import DRUG_NER, Drug, drug_entity, drugs, is_name_like

LICENSE = "MIT (package); data from MeSH (NLM, public domain), DrugBank open data (CC0), MedlinePlus, Wikipedia"
CITATION = "Wood T. drug-named-entity-recognition 2.0.9 (Fast Data Science), drug dictionary from MeSH, DrugBank and Wikipedia."
SALT = "chem-entity"
N_NEGATIVES = 9


@functools.lru_cache(maxsize=4)
def _partition_cached(part: str) -> tuple[Drug, ...]:
    return tuple(d for d in drugs().values() if entity_partition(drug_entity(d), SALT) == part)


def partition_drugs(part: str) -> list[Drug]:
    return list(_partition_cached(part))


def _branches(d: Drug) -> set[str]:
    return {".".join(t.split(".")[:2]) for t in d.mesh_tree}


def build_reranking(size: str) -> dict[str, BuiltSplit]:
    ds = partition_drugs("test")
    by_branch: dict[str, list[Drug]] = {}
    by_prefix: dict[str, list[Drug]] = {}
    for d in ds:
        for b in _branches(d):
            by_branch.setdefault(b, []).append(d)
        by_prefix.setdefault(d.canonical[:3], []).append(d)
    queries = [
        (v, d)
        for d in ds
        for v in d.variants
        if len(v) >= 4 and is_name_like(v) and v.lower() != d.name.lower() and d.name.lower() not in v.lower()
    ]
    seen: set[str] = set()
    unique = []
    for v, d in queries:
        if v not in seen:
            seen.add(v)
            unique.append((v, d))
    picked = sample(unique, LIMITS[size].queries, "MedDrugSynonymReranking")
    rows = []
    for v, d in picked:
        r = rng("MedDrugSynonymReranking", v)
        pool: list[Drug] = []
        for group in ([x for b in sorted(_branches(d)) for x in by_branch[b]], by_prefix[d.canonical[:3]]):
            cand = sorted({x.canonical: x for x in group if x.name.lower() != d.name.lower()}.values(), key=lambda x: x.canonical)
            r.shuffle(cand)
            pool.extend(cand)
        while len({x.canonical for x in pool}) < N_NEGATIVES:
            x = r.choice(ds)
            if x.name.lower() != d.name.lower():
                pool.append(x)
        negatives = list(dict.fromkeys(x.name for x in pool if x.name.lower() != d.name.lower()))[:N_NEGATIVES]
        rows.append({"query": v, "positive": [d.name], "negative": negatives})
    return {"test": BuiltSplit(columns(rows, ("query", "positive", "negative")), {drug_entity(d) for d in ds})}


BUILDERS = [
    TaskBuilder(
        name="MedDrugSynonymReranking",
        domain="medical",
        type=TaskType.RERANKING,
        description="Rerank canonical drug names for a brand, spelling or systematic variant; negatives share the MeSH branch.",
        source=DRUG_NER,
        license=LICENSE,
        citation=CITATION,
        build=build_reranking,
        salts=(SALT,),
    )
]

