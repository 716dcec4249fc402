"""Token-based chunking of long and odd documents with the real MiniLM tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from domainteb.core.errors import ConfigError
from domainteb.corpus import Document, chunk_documents

LONG = " ".join(f"Sentence number {i} says that enzyme E{i} catalyses reaction R{i}." for i in range(200))


def _n_tokens(tok: Any, text: str) -> int:
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_long_document_is_covered_by_overlapping_windows(tokenizer: Any) -> None:
    doc = Document("d1", "Enzymes", LONG, "mem")
    chunks = chunk_documents([doc], tokenizer, max_tokens=64, overlap=16)
    assert len(chunks) > 10
    assert [c.id for c in chunks] == [f"d1#c{i}" for i in range(len(chunks))]
    assert all(c.title == "Enzymes" and c.doc_id == "d1" for c in chunks)
    title_tokens = _n_tokens(tokenizer, "Enzymes")
    assert all(_n_tokens(tokenizer, c.text) + title_tokens <= 64 for c in chunks)  # title + text fit the window
    for a, b in zip(chunks, chunks[1:], strict=False):  # consecutive chunks share text (the overlap)
        assert a.text.split()[-1] in b.text.split()[:12]
    covered = " ".join(c.text for c in chunks)
    assert all(f"R{i}." in covered for i in range(200))  # nothing lost
    assert all(c.text.endswith(".") for c in chunks[:-1])  # windows end at sentence boundaries here
    assert chunks[-1].text.endswith("R199.")


def test_short_document_keeps_its_id_and_text(tokenizer: Any) -> None:
    chunks = chunk_documents([Document("x", "", "Aspirin inhibits COX-1.", "mem")], tokenizer, max_tokens=64, overlap=8)
    assert [c.record() for c in chunks] == [{"_id": "x", "title": "", "text": "Aspirin inhibits COX-1.", "doc_id": "x"}]


def test_odd_documents(tokenizer: Any) -> None:
    docs = [
        Document("blank", "T", "\n\n   \n\t\n", "mem"),                                   # only empty lines
        Document("lines", "", "first line\n\n\n\nsecond   line\n\n", "mem"),              # empty lines inside
        Document("run", "Run", "x" * 5000, "mem"),                                         # one huge token run
        Document("uni", "Ünïcödé", "Die Lösung enthält 3 µmol Fe³⁺ — naïve café 東京 😀 " * 20, "mem"),
        Document("notitle", "", "No title here, just text about the Krebs cycle.", "mem"),
    ]
    chunks = chunk_documents(docs, tokenizer, max_tokens=32, overlap=4)
    by_doc: dict[str, list] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    assert "blank" not in by_doc  # no text tokens: no chunk
    assert [c.text for c in by_doc["lines"]] == ["first line\n\n\n\nsecond   line"]  # original spacing kept
    run = by_doc["run"]
    assert len(run) > 1 and "".join(c.text for c in run).count("x") >= 5000 and all(set(c.text) == {"x"} for c in run)
    uni = by_doc["uni"]
    assert all(c.title == "Ünïcödé" for c in uni) and "東京" in uni[0].text and "Fe³⁺" in uni[0].text
    assert by_doc["notitle"][0].title == "" and by_doc["notitle"][0].id == "notitle"
    assert len({c.id for c in chunks}) == len(chunks)


def test_keep_title_false_drops_the_title(tokenizer: Any) -> None:
    chunks = chunk_documents([Document("d", "A title", LONG[:400], "mem")], tokenizer, max_tokens=32, overlap=0, keep_title=False)
    assert all(c.title == "" for c in chunks)


@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (64, 64), (64, -1), ("64", 0)])
def test_bad_chunk_settings_are_config_errors(tokenizer: Any, size: Any, overlap: Any) -> None:
    with pytest.raises(ConfigError, match="chunk_"):
        chunk_documents([Document("d", "", "text", "mem")], tokenizer, max_tokens=size, overlap=overlap)
