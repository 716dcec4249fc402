"""LLM-free pseudo-queries (inverse cloze and span cropping) on real dev-set passages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.synth.pseudo_queries import (
    generate_pseudo_queries,
    queries_file,
    read_queries,
    split_sentences,
    write_queries,
)

DEVSET = Path("/work/shared/devsets/chemistry_openstax/corpus.jsonl")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared" / "devsets" / "chemistry_openstax" / "corpus.jsonl").is_file():
        DEVSET = _parent / "shared" / "devsets" / "chemistry_openstax" / "corpus.jsonl"
        break


@pytest.fixture(scope="module")
def chunks() -> list[dict[str, str]]:
    if not DEVSET.is_file():
        pytest.skip("../shared/devsets is not available")
    recs = [json.loads(x) for x in DEVSET.read_text(encoding="utf-8").splitlines()[:40]]
    return [{"_id": r["_id"], "text": r["text"]} for r in recs]


def test_ict_query_is_a_sentence_and_the_positive_is_the_rest(chunks: list[dict[str, str]]) -> None:
    qs = generate_pseudo_queries(chunks, "ict", per_passage=2, seed=7)
    by_id = {c["_id"]: c["text"] for c in chunks}
    assert len(qs) >= 60 and {q.generator for q in qs} == {"ict"}
    for q in qs:
        text = " ".join(by_id[q.pid].split())
        assert q.query in text and q.positive_text and q.query not in q.positive_text
        assert len(q.positive_text.split()) + len(q.query.split()) == len(text.split())
        assert 4 <= len(q.query.split()) <= 48
    assert len({q.qid for q in qs}) == len(qs)
    per_chunk = {}
    for q in qs:
        per_chunk.setdefault(q.pid, set()).add(q.query)
    assert all(len(v) == 2 for v in per_chunk.values())  # distinct sentences per chunk


def test_crop_spans_are_contiguous_word_runs(chunks: list[dict[str, str]]) -> None:
    qs = generate_pseudo_queries(chunks, "crop", per_passage=3, seed=7)
    by_id = {c["_id"]: " ".join(c["text"].split()) for c in chunks}
    assert len(qs) == 3 * len(chunks)
    for q in qs:
        assert q.positive_text is None and q.query in by_id[q.pid] and 4 <= len(q.query.split()) <= 32


def test_seeded_and_stable_when_chunks_are_added(chunks: list[dict[str, str]]) -> None:
    a = generate_pseudo_queries(chunks[:10], "ict", 1, seed=1)
    b = generate_pseudo_queries(chunks[:10], "ict", 1, seed=1)
    c = generate_pseudo_queries(chunks, "ict", 1, seed=1)
    d = generate_pseudo_queries(chunks[:10], "ict", 1, seed=2)
    assert a == b and c[: len(a)] == a and a != d


def test_short_and_odd_chunks() -> None:
    odd = [{"_id": "one", "text": "Only one sentence here without an end"},
           {"_id": "tiny", "text": "Tiny."},
           {"_id": "lines", "text": "First line about titration\n\nSecond line about the burette and indicator colour change"}]
    assert generate_pseudo_queries(odd[:2], "ict", 1, 0) == []
    assert generate_pseudo_queries(odd[1:2], "crop", 1, 0) == []
    lines = generate_pseudo_queries(odd[2:], "ict", 2, 0)
    assert {q.query for q in lines} <= {"First line about titration", "Second line about the burette and indicator colour change"}
    assert split_sentences("A b c. D e f!\nG h") == [(0, 6), (7, 13), (14, 17)]


def test_bad_settings_and_files(tmp_path: Path, chunks: list[dict[str, str]]) -> None:
    with pytest.raises(ConfigError, match="generator='t5'"):
        generate_pseudo_queries(chunks, "t5")
    with pytest.raises(ConfigError, match="queries_per_passage"):
        generate_pseudo_queries(chunks, "ict", per_passage=0)
    assert queries_file(tmp_path, "llm:SmolLM2").name == "llm.jsonl" and queries_file(tmp_path, "ict").name == "ict.jsonl"
    with pytest.raises(ConfigError):
        queries_file(tmp_path, "../../etc/passwd")
    path = queries_file(tmp_path, "ict")
    qs = generate_pseudo_queries(chunks[:5], "ict", 1, 0)
    assert write_queries(path, qs) == len(qs) and read_queries(path) == qs
    path.write_text('{"qid": "x", "query": "q"}\n', encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"ict\.jsonl:1: field 'pid'"):
        read_queries(path)
