"""Token-based chunking with the base model's own tokenizer.

A document is tokenized once (no special tokens, no truncation) with character offsets;
windows of ``max_tokens`` tokens (minus the title's tokens when the title is kept, so that
``title + text`` fits the model's window) step by ``max_tokens - overlap``. Each chunk's text
is the original character span of its window, so nothing is re-detokenized: unicode, spacing
and case survive. A window end is moved back to the nearest word boundary when one lies in
the window's second half, so words are not split across chunks.
"""

from __future__ import annotations

import copy
from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.corpus.records import Chunk, Document

#: a chunk keeps at least this many text tokens however long the title is.
MIN_TEXT_TOKENS = 16
#: characters of one token at most (longer single tokens are counted as several).
MAX_TOKEN_CHARS = 100


def _backend(tokenizer: Any) -> Any:
    """The fast (Rust) tokenizer without truncation or padding."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError(f"chunking needs a fast tokenizer (got {type(tokenizer).__name__}); use a model with tokenizer.json")
    backend = copy.deepcopy(backend)
    backend.no_truncation()
    backend.no_padding()
    return backend


def _offsets(backend: Any, text: str) -> list[tuple[int, int]]:
    """Character spans of the tokens; a token longer than :data:`MAX_TOKEN_CHARS` characters (WordPiece turns a
    whole long run such as a base64 blob or ``xxxx…`` into one ``[UNK]``) counts as one token per that many characters,
    so such runs are still cut into bounded chunks."""
    enc = backend.encode(text, add_special_tokens=False)
    out: list[tuple[int, int]] = []
    for s, e in enc.offsets:
        out += [(i, min(i + MAX_TOKEN_CHARS, e)) for i in range(s, e, MAX_TOKEN_CHARS)]
    return out


def _boundaries(text: str, offsets: list[tuple[int, int]]) -> tuple[list[bool], list[bool]]:
    """Per token: does it start a word / a sentence (previous token ends with . ! ? and a gap follows)?"""
    word = [True] + [offsets[i][0] > offsets[i - 1][1] for i in range(1, len(offsets))]
    sent = [True] + [word[i] and text[offsets[i - 1][1] - 1] in ".!?" for i in range(1, len(offsets))]
    return word, sent


def _windows(offsets: list[tuple[int, int]], budget: int, overlap: int, word: list[bool], sent: list[bool]) -> list[tuple[int, int]]:
    """Token index ranges [start, end) covering all tokens; ends snap back to a sentence, else a word boundary."""
    n = len(offsets)
    out: list[tuple[int, int]] = []
    start = 0
    while start < n:
        end = min(start + budget, n)
        if end < n:
            floor = start + budget // 2
            cut = next((c for c in range(end, floor, -1) if sent[c]), None)
            cut = cut or next((c for c in range(end, floor, -1) if word[c]), None)
            end = cut or end
        out.append((start, end))
        if end >= n:
            break
        nxt = max(end - overlap, start + 1)
        while nxt < end and not word[nxt]:  # start the overlap on a whole word
            nxt += 1
        start = nxt
    return out


def chunk_document(doc: Document, backend: Any, max_tokens: int, overlap: int, keep_title: bool = True) -> list[Chunk]:
    text = doc.text
    offsets = _offsets(backend, text)
    title = doc.title if keep_title else ""
    if not offsets:
        return []
    title_tokens = len(_offsets(backend, title)) if title else 0
    budget = max(MIN_TEXT_TOKENS, max_tokens - title_tokens) if title else max_tokens
    ov = min(overlap, budget // 2)
    word, sent = _boundaries(text, offsets)
    spans = _windows(offsets, budget, ov, word, sent)
    chunks = []
    for i, (s, e) in enumerate(spans):
        piece = text[offsets[s][0] : offsets[e - 1][1]].strip()
        cid = doc.doc_id if len(spans) == 1 else f"{doc.doc_id}#c{i}"
        chunks.append(Chunk(_id=cid, title=title, text=piece, doc_id=doc.doc_id))
    return chunks


def chunk_documents(docs: list[Document], tokenizer: Any, max_tokens: int = 256, overlap: int = 32,
                    keep_title: bool = True) -> list[Chunk]:
    """Chunks of every document (documents with no text tokens give none); chunk ids are unique.

    ``max_tokens`` is the window in tokens (title included when ``keep_title``), ``overlap``
    the tokens shared by consecutive chunks of a document.
    """
    if not isinstance(max_tokens, int) or max_tokens < MIN_TEXT_TOKENS:
        raise ConfigError(f"chunk_tokens={max_tokens!r} must be an integer >= {MIN_TEXT_TOKENS}")
    if not isinstance(overlap, int) or not 0 <= overlap < max_tokens:
        raise ConfigError(f"chunk_overlap={overlap!r} must be an integer in [0, chunk_tokens)")
    backend = _backend(tokenizer)
    out: list[Chunk] = []
    seen: set[str] = set()
    for doc in docs:
        for c in chunk_document(doc, backend, max_tokens, overlap, keep_title):
            if c.id in seen:
                c = c.model_copy(update={"id": f"{c.id}~{len(out)}"})
            seen.add(c.id)
            out.append(c)
    return out


def load_tokenizer(base: str) -> Any:
    """The tokenizer of a base model (registry name or sentence-transformers folder) and its window."""
    from domainteb.adapt.basemodel import load_sentence_transformer

    model = load_sentence_transformer(str(base), device="cpu")
    return model.tokenizer, int(model.max_seq_length or 256)
