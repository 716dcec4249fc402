"""MeSH compound classes of the drug dictionary in ``drug-named-entity-recognition==2.0.9`` → chemistry tasks.

Each canonical drug with MeSH tree numbers under exactly one top-level "Chemicals and Drugs"
branch (``D02`` organic chemicals, ``D03`` heterocyclic compounds, ``D12`` amino acids,
peptides and proteins…) is labelled with that branch's MeSH heading. The text is the drug's
name. Split entity: formula (or canonical name), salt ``chem-entity`` shared with PubChem.

Tasks: ``ChemMeSHClassClassification`` (classifier trained on dev entities, scored on test)
and ``ChemMeSHClassClustering``.
"""

from __future__ import annotations

from domainteb.core.types import TaskType
from domainteb.domains.base import (
    BuiltSplit,
    builder_factory,
    entity_partition,
    labelled_classification,
    labelled_clustering,
)
from domainteb.domains.medical.drugs import CITATION, LICENSE
from domainteb.domains.sources import DRUG_NER, drug_entity, drugs

SALT = "chem-entity"
#: MeSH 2025 top-level headings of tree D (Chemicals and Drugs).
BRANCHES = {
    "D01": "Inorganic Chemicals",
    "D02": "Organic Chemicals",
    "D03": "Heterocyclic Compounds",
    "D04": "Polycyclic Compounds",
    "D05": "Macromolecular Substances",
    "D06": "Hormones, Hormone Substitutes, and Hormone Antagonists",
    "D08": "Enzymes and Coenzymes",
    "D09": "Carbohydrates",
    "D10": "Lipids",
    "D12": "Amino Acids, Peptides, and Proteins",
    "D13": "Nucleic Acids, Nucleotides, and Nucleosides",
    "D20": "Complex Mixtures",
    "D23": "Biological Factors",
    "D25": "Biomedical and Dental Materials",
    "D26": "Pharmaceutical Preparations",
    "D27": "Chemical Actions and Uses",
}


def labelled(part: str) -> tuple[list[dict[str, str]], set[str]]:
    """Rows ``{"text", "label"}`` of one partition and the partition's entities."""
    rows, entities, seen = [], set(), set()
    for d in drugs().values():
        ent = drug_entity(d)
        if entity_partition(ent, SALT) != part:
            continue
        entities.add(ent)
        tops = {t.split(".")[0] for t in d.mesh_tree} & set(BRANCHES)
        if len(tops) == 1 and d.name.lower() not in seen:
            seen.add(d.name.lower())
            rows.append({"text": d.name, "label": BRANCHES[tops.pop()]})
    return rows, entities


def build_classification(size: str) -> dict[str, BuiltSplit]:
    train_rows, train_ents = labelled("dev")
    test_rows, test_ents = labelled("test")
    return labelled_classification(train_rows, test_rows, size, "mesh", train_ents, test_ents)


def build_clustering(size: str) -> dict[str, BuiltSplit]:
    rows, ents = labelled("test")
    return labelled_clustering(rows, size, "mesh-clu", ents)


_builder = builder_factory("chemistry", DRUG_NER, LICENSE, CITATION, salts=(SALT,))

BUILDERS = [
    _builder(
        "ChemMeSHClassClassification", TaskType.CLASSIFICATION,
        "Classify a drug or chemical name into its MeSH Chemicals-and-Drugs branch (e.g. Heterocyclic Compounds).",
        build_classification, train_split="train",
    ),
    _builder(
        "ChemMeSHClassClustering", TaskType.CLUSTERING,
        "Cluster drug and chemical names by MeSH Chemicals-and-Drugs branch.",
        build_clustering,
    ),
]

