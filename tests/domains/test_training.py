"""Training corpora and triplets come from train entities only and never leak into evaluation."""

from __future__ import annotations

import pytest

from domainteb.core.tasks import get_task, training_corpus
from domainteb.core.types import ColumnData, RetrievalData
from domainteb.domains import BUILDERS, general_corpus, general_triplets, train_pairs
from domainteb.domains.chemistry import pubchem
from domainteb.domains.finance import gaap
from domainteb.domains.general import wordnet
from domainteb.domains.medical import hpo, icd10cm

DOMAINS = ("finance", "chemistry", "medical", "general")


@pytest.mark.parametrize("domain", DOMAINS)
def test_training_corpus_shape(domain: str) -> None:
    corpus = training_corpus(domain)
    assert len(corpus) >= 300
    ids = [p["id"] for p in corpus]
    assert len(ids) == len(set(ids))
    assert all(p["text"].strip() for p in corpus)
    assert training_corpus(domain, n=50, seed=1) == training_corpus(domain, n=50, seed=1)
    assert len(training_corpus(domain, n=50)) == 50


@pytest.mark.parametrize("domain", DOMAINS)
def test_train_pairs_are_real_triplets(domain: str) -> None:
    pairs = train_pairs(domain, n=200, seed=3)
    assert len(pairs) == 200
    for p in pairs:
        assert set(p) == {"query", "positive", "negative"}
        assert p["query"].strip() and p["positive"].strip() and p["negative"].strip()
        assert p["positive"] != p["negative"]
    assert pairs == train_pairs(domain, n=200, seed=3)


def test_general_helpers() -> None:
    assert len(general_corpus(100, seed=0)) == 100
    trips = general_triplets(50, seed=0)
    assert len(trips) == 50 and trips == general_triplets(50, seed=0)


def _eval_texts(name: str) -> set[str]:
    out: set[str] = set()
    for split in get_task(name).load().values():
        if isinstance(split, RetrievalData):
            out |= set(split.queries.values()) | {d["text"] for d in split.corpus.values()}
        elif isinstance(split, ColumnData):
            for col in ("text", "sentences", "sentence1", "sentence2"):
                out |= set(split.columns.get(col, []))
    return out


@pytest.mark.slow
def test_train_entities_never_in_evaluation_tasks() -> None:
    """Entity ids of every source, normalised (GNU Health's ``icd10:A41`` is ICD-10-CM ``A41``),
    against the train entities of every source; tests/hostile/test_splits.py plants a leak."""
    from domainteb.domains.leakage import entity_leaks, normalise_entity, train_entities

    train = train_entities()
    assert {normalise_entity(c.category) for c in icd10cm.in_partition("train")} <= train
    assert {t.id for t in hpo._partition("train")} <= train
    assert {c.entity for c in pubchem.partition("train")} <= train
    assert {normalise_entity(e.line_item) for e in gaap.partition("train")} <= train
    assert {s.id for s in wordnet._partition("train")} <= train
    assert entity_leaks({name: b.build("tiny") for name, b in BUILDERS.items()}, train) == {}


def test_icd_retrieval_corpus_excludes_training_codes() -> None:
    task = get_task("MedICD10SynonymRetrieval")
    train_codes = {c.code for c in icd10cm.in_partition("train")}
    for split in task.load().values():
        assert not set(split.corpus) & train_codes
    medical_ids = {p["id"].split(":", 1)[1] for p in training_corpus("medical") if p["id"].startswith("icd10cm:")}
    assert medical_ids and not medical_ids & set(task.split("test").corpus)


def test_hpo_definitions_in_training_corpus_are_not_evaluated() -> None:
    corpus_texts = {p["text"] for p in training_corpus("medical")}
    evaluated = _eval_texts("MedHPODefinitionRetrieval") | _eval_texts("MedHPOOrganSystemClassification")
    assert not {t for t in evaluated if any(t in c for c in corpus_texts if len(t) > 40)}
