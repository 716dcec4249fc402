"""Read the user's documents: a JSONL file, a folder of .txt/.md/.jsonl files, or a BEIR folder.

Every problem raises a one-line :class:`~domainteb.core.errors.TaskDataError` that names the
file (and line) and says how to fix it: an empty file or folder, text that is not UTF-8, a
binary or unsupported file in the folder, a record without an id or text, a duplicate id.
Nothing is written here, so a failed load loses nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from domainteb.core.errors import ConfigError, TaskDataError
from domainteb.corpus.records import Document

#: file kinds read from a corpus folder.
TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl",)
#: id fields accepted in JSONL records, in order of preference (BEIR uses ``_id``).
ID_FIELDS = ("_id", "id", "doc_id")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text of a file; errors name the line of the first bad byte."""
    if b"\x00" in data:
        raise TaskDataError(f"{path}: binary file (contains NUL bytes), not text; remove it from the corpus or convert it to .txt")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TaskDataError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8") from None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TaskDataError(f"{path}: cannot read ({exc.strerror}); check the path and its permissions") from None
    return _decode(path, data)


def _field_text(rec: dict, name: str, where: str) -> str:
    value = rec.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaskDataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}; fix that record")
    return value


def _jsonl_documents(path: Path, id_prefix: str = "") -> list[Document]:
    text = _read_text(path)
    docs: list[Document] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskDataError(f"{where}: malformed JSON line ({exc.msg} at column {exc.colno}); fix or delete that line") from None
        if not isinstance(rec, dict):
            raise TaskDataError(f"{where}: expected a JSON object per line, got {type(rec).__name__}")
        id_field = next((f for f in ID_FIELDS if f in rec), None)
        if id_field is None:
            raise TaskDataError(f"{where}: missing field '_id' (or 'id'); give every document a unique id")
        raw_id = rec[id_field]
        if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or not str(raw_id).strip():
            raise TaskDataError(f"{where}: field {id_field!r} must be a non-empty string or integer; fix that record")
        if "text" not in rec:
            raise TaskDataError(f"{where}: missing field 'text'; every document needs its text")
        docs.append(Document(f"{id_prefix}{str(raw_id).strip()}", _field_text(rec, "title", where).strip(),
                             _field_text(rec, "text", where), where))
    if not docs:
        raise TaskDataError(f"{path}: no documents (the file is empty); add one JSON object per line with '_id' and 'text'")
    return docs


def _text_document(path: Path, root: Path) -> Document:
    text = _read_text(path)
    rel = path.relative_to(root).as_posix()
    title = path.stem.replace("_", " ").replace("-", " ").strip()
    if path.suffix.lower() == ".md":
        for line in text.splitlines():
            if line.strip():
                m = _MD_HEADING.match(line)
                if m:
                    title = m.group(1).strip()
                break
    if not text.strip():
        raise TaskDataError(f"{path}: empty file; add text to it or remove it from the corpus folder")
    return Document(rel, title, text, str(path))


def _folder_documents(root: Path) -> list[Document]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise TaskDataError(f"{root}: the corpus folder is empty; put .txt, .md or .jsonl documents in it")
    docs: list[Document] = []
    for f in files:
        suffix = f.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            docs.append(_text_document(f, root))
        elif suffix in JSONL_SUFFIXES:
            docs += _jsonl_documents(f)
        else:
            kind = "binary file" if b"\x00" in f.read_bytes()[:8192] else "unsupported file type"
            raise TaskDataError(
                f"{f}: {kind} in the corpus folder; only .txt, .md and .jsonl are read: convert it or move it out of the folder"
            )
    return docs


def corpus_kind(path: Path) -> str:
    """``beir`` | ``folder`` | ``jsonl`` for an existing corpus path."""
    if path.is_dir():
        return "beir" if (path / "corpus.jsonl").is_file() and ((path / "queries.jsonl").is_file() or (path / "qrels").is_dir()) else "folder"
    return "jsonl"


def load_documents(path: str | Path) -> list[Document]:
    """All documents of a corpus: a JSONL file, a folder of .txt/.md/.jsonl files, or a BEIR folder.

    A BEIR folder contributes only its ``corpus.jsonl``; its queries are never read as documents.
    Ids must be unique across the whole corpus.
    """
    p = Path(str(path)).expanduser()
    if not p.exists():
        raise ConfigError(f"corpus={path}: no such file or folder; give a .jsonl file, a folder of .txt/.md/.jsonl files or a BEIR folder")
    kind = corpus_kind(p)
    if kind == "beir":
        docs = _jsonl_documents(p / "corpus.jsonl")
    elif kind == "folder":
        docs = _folder_documents(p)
    else:
        if p.suffix.lower() not in JSONL_SUFFIXES + TEXT_SUFFIXES:
            raise ConfigError(f"corpus={path}: unsupported file type {p.suffix or '(none)'}; give a .jsonl file or a folder")
        docs = _jsonl_documents(p) if p.suffix.lower() in JSONL_SUFFIXES else [_text_document(p, p.parent)]
    seen: dict[str, str] = {}
    for d in docs:
        if d.doc_id in seen:
            raise TaskDataError(
                f"{d.source}: duplicate document id {d.doc_id!r} (first seen at {seen[d.doc_id]}); make every id unique"
            )
        seen[d.doc_id] = d.source
    return docs


def corpus_fingerprint(path: str | Path, names: tuple[str, ...] | None = None) -> str:
    """A cheap content key of a corpus path (relative names, sizes and mtimes of its files).

    ``names`` restricts a folder to those files (e.g. ``("queries.jsonl",)`` for an evaluation task).
    """
    from domainteb.core.io import stable_hash

    p = Path(str(path)).expanduser()
    if p.is_file():
        files = [p]
        root = p.parent
    elif p.is_dir():
        root = p
        files = [p / n for n in names if (p / n).is_file()] if names else sorted(f for f in p.rglob("*") if f.is_file())
        if not names and corpus_kind(p) == "beir":
            files = [p / "corpus.jsonl"]
    else:
        return stable_hash({"missing": str(p)})
    return stable_hash([(f.relative_to(root).as_posix(), f.stat().st_size, f.stat().st_mtime_ns) for f in files])[:16]
