"""Splits and claims (issue 12): what the README and `domainteb tasks` promise about the data is true.

* every public task lists a licence from its card/metadata, or ``unknown`` with the card URL;
* no evaluation split holds a train entity of *any* source, with source prefixes normalised
  (GNU Health ``icd10:A41`` is ICD-10-CM ``A41``) — and a planted leak is caught;
* no training text (corpora and triplets of every domain) equals, after normalisation, a text of
  any evaluation task; HPO is partitioned by subtree; the shared dev/test corpus is declared;
* the task-build cache key changes with size limits, split fractions and salts;
* the offline suites have 7 task types, as the README says.
"""

from __future__ import annotations

import dataclasses
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from domainteb.core.types import RetrievalData, TaskType
from domainteb.domains import BUILDERS
from domainteb.domains import base as domain_base
from domainteb.domains.leakage import entity_leaks, evaluation_texts, normalise_entity, normalise_text, train_entities

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _tiny() -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOMAINTEB_TASK_SIZE", "tiny")
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def built() -> dict[str, dict[str, domain_base.BuiltSplit]]:
    return {name: b.build("tiny") for name, b in BUILDERS.items()}


# ---------------------------------------------------------------- licences of public tasks
def _tasks_json(domain: str) -> list[dict]:
    from domainteb.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["tasks", f"domain={domain}", "format=json", "build=false"]) == 0
    return json.loads(out.getvalue())


def test_every_public_task_lists_its_licence_or_unknown_with_the_card_url() -> None:
    mteb = pytest.importorskip("mteb")
    counts: dict[str, int] = {}
    for domain in ("finance", "chemistry", "medical"):
        for rec in _tasks_json(domain):
            if rec["benchmark"] == "domainteb":
                continue
            counts[rec["benchmark"]] = counts.get(rec["benchmark"], 0) + 1
            repo = rec["source"].removeprefix("hf:").split("@")[0]
            assert rec["license"], rec["name"]
            assert rec["license_url"] == f"https://huggingface.co/datasets/{repo}", rec["name"]
            if rec["benchmark"] != "finmteb":  # mteb knows these: its metadata's licence field
                theirs = str(mteb.get_task(rec["name"]).metadata.license or "")
                expected = "unknown" if theirs.lower() in {"", "not specified"} else theirs
                assert rec["license"] == expected, rec["name"]
            else:
                assert rec["license"] == "unknown", "FinMTEB records no licence: say unknown, never guess"
    assert counts == {"finmteb": 35, "chemteb": 27, "mteb-medical": 12}


# ---------------------------------------------------------------- entities
def test_train_entities_never_in_evaluation_tasks(built) -> None:
    train = train_entities()
    assert len(train) > 1000 and normalise_entity("icd10:A41") == "a41"
    assert normalise_entity("formula:Co") != normalise_entity("formula:CO")
    assert entity_leaks(built, train) == {}


def test_a_planted_gnuhealth_or_tryton_leak_is_caught(built) -> None:
    """The prefixed ids of GNU Health / Tryton are compared after normalisation, so a leak fails."""
    from domainteb.domains.finance import gaap
    from domainteb.domains.medical import icd10cm

    train_cat = icd10cm.in_partition("train")[0].category
    train_line = gaap.partition("train")[0].line_item
    planted = {
        "MedICD10BitextMiningEnDe": {"test": dataclasses.replace(
            built["MedICD10BitextMiningEnDe"]["test"], entities={f"icd10:{train_cat}"})},
        "FinAccountingBitextMiningEnDe": {"test": dataclasses.replace(
            built["FinAccountingBitextMiningEnDe"]["test"], entities={f"tryton:{train_line.upper()}  "})},
    }
    raw_train = {c.category for c in icd10cm.in_partition("train")} | {e.line_item for e in gaap.partition("train")}
    assert not {e for s in planted.values() for b in s.values() for e in b.entities} & raw_train  # the old check saw nothing
    leaks = entity_leaks(planted)
    assert set(leaks) == {"MedICD10BitextMiningEnDe/test", "FinAccountingBitextMiningEnDe/test"}
    assert leaks["MedICD10BitextMiningEnDe/test"] == {normalise_entity(train_cat)}


# ---------------------------------------------------------------- texts
def _training_texts() -> dict[str, str]:
    from domainteb.core.tasks import training_corpus
    from domainteb.domains import train_pairs

    out: dict[str, str] = {}
    for domain in ("finance", "chemistry", "medical", "general"):
        for p in training_corpus(domain, n=None):
            out.setdefault(normalise_text(p["text"]), f"{domain} corpus")
        for t in train_pairs(domain, n=1_000_000):
            for key in ("query", "positive", "negative"):
                out.setdefault(normalise_text(t[key]), f"{domain} pairs")
    return out


def test_no_training_text_is_an_evaluation_text_across_sources() -> None:
    evaluated = evaluation_texts("tiny")
    assert len(evaluated) > 5_000
    leaked = {t: where for t, where in _training_texts().items() if t in evaluated}
    assert leaked == {}, f"{len(leaked)} training texts are evaluated: {list(leaked.items())[:5]}"


def test_a_planted_training_text_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from domainteb.core.tasks import training_corpus
    from domainteb.domains.finance import gaap

    data = BUILDERS.get("MedICD10SynonymRetrieval").task("tiny").split("test")
    assert isinstance(data, RetrievalData)
    query = next(iter(data.queries.values()))
    variant = f"  {query.upper()} !"  # another source, other case and punctuation: same text
    real = gaap.training_passages
    monkeypatch.setattr(gaap, "training_passages", lambda: [*real(), {"id": "planted", "text": variant}])
    ids = {p["id"] for p in training_corpus("finance", n=None)}
    assert "planted" not in ids and len(ids) > 100


def test_hpo_is_partitioned_by_subtree() -> None:
    from domainteb.domains.medical import hpo

    ts, roots = hpo.terms(), hpo.subtree_roots()
    same_subtree = [(t.id, p) for t in ts.values() for p in t.parents if p in ts and roots[t.id] == roots[p]]
    assert len(same_subtree) > 5000
    split = [(c, p) for c, p in same_subtree if ts[c].partition != ts[p].partition]
    assert split == [], f"{len(split)} parent/child pairs of one subtree are in different partitions"
    parts = {t.partition for t in ts.values()}
    assert parts == {"train", "dev", "test"}


def test_shared_retrieval_corpus_is_declared_and_judgements_stay_in_their_split() -> None:
    for name, b in BUILDERS.items():
        if b.type is not TaskType.RETRIEVAL or len(b.eval_splits) < 2:
            continue
        task = b.task("tiny")
        params = task.metadata.params
        assert params["corpus_shared_by_splits"] == sorted(b.eval_splits), name
        assert "distractors" in params["corpus_note"]
        judged = {s: {d for rels in task.split(s).qrels.values() for d, g in rels.items() if g > 0} for s in b.eval_splits}
        assert not judged["dev"] & judged["test"], f"{name}: a document is relevant in dev and test"


# ---------------------------------------------------------------- task-build cache key
def test_task_build_cache_key_covers_limits_fractions_and_salts(monkeypatch: pytest.MonkeyPatch) -> None:
    b = BUILDERS.get("MedICD10SynonymRetrieval")
    assert b.salts == ("icd10-category",)
    key = b.cache_key("tiny")
    monkeypatch.setitem(domain_base.LIMITS, "tiny", dataclasses.replace(domain_base.LIMITS["tiny"], queries=41))
    k_limits = b.cache_key("tiny")
    monkeypatch.undo()
    monkeypatch.setattr(domain_base, "SPLIT_FRACTIONS", (("train", 0.4), ("dev", 0.3), ("test", 0.3)))
    k_fractions = b.cache_key("tiny")
    monkeypatch.undo()
    k_salt = dataclasses.replace(b, salts=("another-salt",)).cache_key("tiny")
    assert len({key, k_limits, k_fractions, k_salt}) == 4
    assert b.cache_key("tiny") == key


# ---------------------------------------------------------------- README claims
def test_offline_suites_have_the_seven_task_types_the_readme_states() -> None:
    types = {b.type for _, b in BUILDERS.items()}
    assert len(types) == 7 and TaskType.SUMMARIZATION not in types
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "across 7 MTEB task types" in readme and "8 MTEB task types" not in readme
    assert "No entity appears in two splits" not in readme
