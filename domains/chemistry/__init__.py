"""Chemistry offline tasks: PubChem identifiers and IARC groups (``chemicals``) and MeSH
compound classes (``drug-named-entity-recognition``).

Importing this package registers the tasks, the ``chemistry`` training corpus (train-split
compounds described from their PubChem fields) and the chemistry training triplets.
"""

from __future__ import annotations

from domainteb.domains.base import register_builders, register_train_pairs, register_training_corpus, sample
from domainteb.domains.chemistry import mesh, pubchem
from domainteb.domains.leakage import drop_evaluated, register_train_entities

register_builders(pubchem, mesh)
register_train_entities("chemicals", lambda: {c.entity for c in pubchem.partition("train")})


def training_corpus(n: int | None = None, seed: int = 0) -> list[dict[str, str]]:
    """Train-split compound passages: common name, IUPAC name, formula, weight, SMILES, synonyms."""
    return sample(drop_evaluated(pubchem.training_passages(), ("text",)), n, "chemistry-corpus", seed)


def train_pairs(n: int = 1000, seed: int = 0) -> list[dict[str, str]]:
    """(synonym, common name, same-formula isomer's common name) from train compounds."""
    triplets = drop_evaluated(pubchem.training_triplets(), ("query", "positive", "negative"))
    return sample(triplets, n, "chemistry-pairs", seed)


register_training_corpus("chemistry", training_corpus)
register_train_pairs("chemistry", train_pairs)
