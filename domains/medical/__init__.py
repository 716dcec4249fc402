"""Medical offline tasks: ICD-10-CM, HPO, GNU Health ICD-10 translations and drug names.

Importing this package registers the tasks, the ``medical`` training corpus (train-split
HPO definitions and ICD-10-CM codes with inclusion terms) and the medical training triplets.
"""

from __future__ import annotations

from domainteb.domains.base import register_builders, register_train_pairs, register_training_corpus, rng, sample
from domainteb.domains.leakage import drop_evaluated, register_train_entities
from domainteb.domains.medical import drugs, gnuhealth, hpo, icd10cm
from domainteb.domains.sources import drug_entity

register_builders(icd10cm, hpo, gnuhealth, drugs)
# GNU Health's "icd10:<category>" entities normalise to these ICD-10-CM categories (same salt).
register_train_entities("icd10-category", lambda: {c.category for c in icd10cm.in_partition("train")})
register_train_entities("hpo-subtree", lambda: {t.id for t in hpo._partition("train")})
register_train_entities("drug-ner", lambda: {drug_entity(d) for d in drugs.partition_drugs("train")})
TRIPLET_FIELDS = ("query", "positive", "negative")


def training_corpus(n: int | None = None, seed: int = 0) -> list[dict[str, str]]:
    """Train-split passages: HPO 'name. definition Synonyms: …' and ICD-10-CM 'title. Includes: …'."""
    passages = drop_evaluated(hpo.training_passages() + icd10cm.training_passages(), ("text",))
    return sample(passages, n, "medical-corpus", seed)


def train_pairs(n: int = 1000, seed: int = 0) -> list[dict[str, str]]:
    """Real (query, positive, negative) triplets from train entities, half ICD-10-CM, half HPO."""
    icd = drop_evaluated(icd10cm.training_triplets(), TRIPLET_FIELDS)
    lay = drop_evaluated(hpo.training_triplets(), TRIPLET_FIELDS)
    half = n // 2
    out = sample(icd, half, "medical-pairs", seed, "icd") + sample(lay, n - min(half, len(icd)), "medical-pairs", seed, "hpo")
    rng("medical-pairs-order", seed).shuffle(out)
    return out[:n]


register_training_corpus("medical", training_corpus)
register_train_pairs("medical", train_pairs)
