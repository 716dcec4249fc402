"""Task folders on disk: the formats users already have.

* **Retrieval** — BEIR layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``),
  ``queries.jsonl`` (``_id``, ``text``), ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``,
  ``score`` with a header row). A plain BEIR folder with nothing added is a retrieval task
  evaluated on its ``test`` split.
* **Every other type** — ``<split>.jsonl`` with mteb's column names (see :data:`SCHEMAS`)
  and a small ``domainteb.json`` metadata file that names at least the ``type``.
  Reranking uses mteb 1's ``query``/``positive``/``negative`` rows.

Every problem raises :class:`~domainteb.core.errors.TaskDataError` with file, line and field.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.io import (
    atomic_path,
    atomic_write_json,
    atomic_write_jsonl,
    iter_jsonl,
    iter_text_lines,
    read_json,
    require_field,
    sha256_file,
)
from domainteb.core.paths import check_name
from domainteb.core.types import ColumnData, RetrievalData, SplitData, Task, TaskMetadata, TaskType

METADATA_FILE = "domainteb.json"

_NUM = (int, float)
#: per task type: column -> accepted Python type(s) of each row's value.
SCHEMAS: dict[TaskType, dict[str, Any]] = {
    TaskType.STS: {"sentence1": str, "sentence2": str, "score": _NUM},
    TaskType.PAIR_CLASSIFICATION: {"sentence1": str, "sentence2": str, "labels": int},
    TaskType.CLASSIFICATION: {"text": str, "label": (str, int)},
    TaskType.CLUSTERING: {"sentences": str, "labels": (str, int)},
    TaskType.BITEXT_MINING: {"sentence1": str, "sentence2": str},
    TaskType.RERANKING: {"query": str, "positive": list, "negative": list},
    TaskType.SUMMARIZATION: {"text": str, "human_summaries": list, "machine_summaries": list, "relevance": list},
    TaskType.FIN_SUMMARIZATION: {"text": str, "summary": str},
}

#: columns a type may carry in every row (read when the first row has them), e.g. FinMTEB's
#: gold relevance of a summary.
OPTIONAL_COLUMNS: dict[TaskType, dict[str, Any]] = {
    TaskType.FIN_SUMMARIZATION: {"score": _NUM},
}


def is_beir_folder(path: Path) -> bool:
    return (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file() and (path / "qrels").is_dir()


def read_metadata(path: Path) -> TaskMetadata:
    """Metadata of a task folder; a plain BEIR folder gets retrieval defaults."""
    meta_file = path / METADATA_FILE
    if meta_file.is_file():
        raw = read_json(meta_file)
        if not isinstance(raw, dict):
            raise TaskDataError(f"{meta_file}: expected a JSON object with at least a 'type' field")
        if "type" not in raw:
            raise TaskDataError(
                f"{meta_file}: missing field 'type'; set it to one of {', '.join(t.value for t in TaskType)}"
            )
        raw = dict(raw)
        raw["type"] = TaskType.parse(raw["type"])
        raw.setdefault("name", path.name)
        try:
            meta = TaskMetadata(**raw)
        except Exception as exc:  # pydantic ValidationError → one line
            first = str(exc).splitlines()
            raise TaskDataError(f"{meta_file}: invalid metadata ({'; '.join(first[:3])})") from None
        # both become file names (results, summaries, leaderboard pages): never let them choose the path
        check_name(meta.name, field="name", where=meta_file)
        check_name(meta.domain, field="domain", where=meta_file)
        for split in [*meta.eval_splits, *([meta.train_split] if meta.train_split else [])]:
            check_name(split, field="eval_splits/train_split", where=meta_file)  # read as <split>.jsonl
        return meta
    if is_beir_folder(path):
        return TaskMetadata(name=path.name, type=TaskType.RETRIEVAL, eval_splits=["test"], source=str(path))
    if not path.exists():
        raise TaskDataError(f"{path}: task folder not found; pass a task name or an existing folder")
    raise TaskDataError(
        f"{path}: not a task folder; add corpus.jsonl, queries.jsonl and qrels/test.tsv (BEIR retrieval) "
        f"or a {METADATA_FILE} naming the task 'type' next to <split>.jsonl files"
    )


def data_files(folder: Path) -> list[Path]:
    """The files a task folder's data are read from (metadata and hidden files excluded), in path order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != METADATA_FILE
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def content_hash(folder: Path) -> str:
    """sha256 over the data files of a task folder (metadata excluded), in path order.

    The one fingerprint of a folder's data: built tasks record it as their ``revision``, and
    result reuse compares it, so an edited qrels/corpus file is re-evaluated.
    """
    h = hashlib.sha256()
    for path in data_files(folder):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(sha256_file(path).encode())
    return h.hexdigest()


@dataclass
class FolderTask(Task):
    """A task read from a folder; :meth:`data_hash` fingerprints the files it is read from."""

    folder: Path | None = field(default=None, repr=False)
    _hashed: tuple[tuple[Any, ...], str] | None = field(default=None, repr=False)

    def data_hash(self) -> str:
        """:func:`content_hash` of the folder, re-read only when a file's size or mtime changed."""
        assert self.folder is not None
        stats = tuple((p.as_posix(), st.st_size, st.st_mtime_ns) for p in data_files(self.folder) for st in [p.stat()])
        if self._hashed is None or self._hashed[0] != stats:
            self._hashed = (stats, content_hash(self.folder))
        return self._hashed[1]


def task_data_hash(task: Task) -> str:
    """What the task's data are: the files' content hash for folder tasks, else the recorded
    revision (a pinned hub commit for public tasks); "" when nothing identifies them."""
    if isinstance(task, FolderTask) and task.folder is not None:
        return task.data_hash()
    return task.metadata.revision


def load_task_folder(path: str | os.PathLike[str]) -> Task:
    """A :class:`Task` over a folder; data are read (and validated) on first use."""
    folder = Path(path).expanduser().resolve()
    metadata = read_metadata(folder)
    return FolderTask(metadata=metadata, loader=lambda: load_splits(folder, metadata), folder=folder)


def load_splits(folder: Path, metadata: TaskMetadata) -> dict[str, SplitData]:
    splits = list(dict.fromkeys(metadata.eval_splits + ([metadata.train_split] if metadata.train_split else [])))
    if metadata.type is TaskType.RETRIEVAL:
        return _load_beir(folder, splits)
    out: dict[str, SplitData] = {}
    for split in splits:
        data = _load_columns(folder / f"{split}.jsonl", metadata.type)
        if metadata.type is TaskType.STS:
            check_sts_scores(folder / f"{split}.jsonl", data["score"], metadata.params, folder / METADATA_FILE)
        if metadata.type is TaskType.RERANKING:
            out[split] = reranking_to_retrieval(data, folder / f"{split}.jsonl")
        else:
            out[split] = data
    return out


def _load_columns(path: Path, task_type: TaskType) -> ColumnData:
    schema = dict(SCHEMAS[task_type])
    columns: dict[str, list[Any]] = {c: [] for c in schema}
    for lineno, rec in iter_jsonl(path):
        if not columns[next(iter(columns))]:  # first row decides which optional columns exist
            for col, kind in OPTIONAL_COLUMNS.get(task_type, {}).items():
                if col in rec:
                    schema[col] = kind
                    columns[col] = []
        for col, kind in schema.items():
            value = require_field(rec, col, path, lineno, kind)
            if isinstance(value, str) and not value.strip():
                raise TaskDataError(f"{path}:{lineno}: field {col!r} is empty; remove the row or fill the text")
            if isinstance(value, bool):
                raise TaskDataError(f"{path}:{lineno}: field {col!r} must be a number, not a boolean")
            columns[col].append(value)
    if not columns or not next(iter(columns.values())):
        raise TaskDataError(f"{path}: split is empty; it needs at least one row")
    return ColumnData(columns)


def sts_range(params: dict[str, Any], where: Path | str) -> tuple[float, float]:
    """``(min_score, max_score)`` of an STS task (mteb's defaults 0 and 5), checked: min < max."""
    try:
        lo, hi = float(params.get("min_score", 0)), float(params.get("max_score", 5))
    except (TypeError, ValueError):
        raise TaskDataError(f"{where}: params.min_score/max_score must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise TaskDataError(
            f"{where}: params.min_score={lo:g} must be below params.max_score={hi:g} "
            f"(otherwise the score's sign flips); fix them in {METADATA_FILE}"
        )
    return lo, hi


def check_sts_scores(path: Path, scores: list[Any], params: dict[str, Any], meta_file: Path) -> None:
    """Every gold score lies in ``[min_score, max_score]``; the first one outside names its line."""
    lo, hi = sts_range(params, meta_file)
    for row, score in enumerate(scores, start=1):
        if not (math.isfinite(float(score)) and lo <= float(score) <= hi):
            raise TaskDataError(
                f"{path}: row {row}: score {score!r} is outside [min_score, max_score] = [{lo:g}, {hi:g}]; "
                f"fix the score or set params.min_score/max_score in {meta_file.name}"
            )


def reranking_to_retrieval(data: ColumnData, path: Path) -> RetrievalData:
    """mteb 1 reranking rows → retrieval shape with per-query candidate lists (as mteb 2 does)."""
    corpus: dict[str, dict[str, str]] = {}
    doc_ids: dict[str, str] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    top_ranked: dict[str, list[str]] = {}

    def doc_id(text: str) -> str:
        if text not in doc_ids:
            doc_ids[text] = f"d{len(doc_ids)}"
            corpus[doc_ids[text]] = {"title": "", "text": text}
        return doc_ids[text]

    for i, (query, pos, neg) in enumerate(zip(data["query"], data["positive"], data["negative"])):
        if not pos:
            raise TaskDataError(f"{path}: row {i + 1} has no 'positive' passage; each query needs at least one")
        qid = f"q{i}"
        queries[qid] = query
        cands = [doc_id(str(t)) for t in list(pos) + list(neg)]
        qrels[qid] = {doc_id(str(t)): 1 for t in pos}
        top_ranked[qid] = list(dict.fromkeys(cands))
    return RetrievalData(corpus=corpus, queries=queries, qrels=qrels, top_ranked=top_ranked)


def _load_beir(folder: Path, splits: Iterable[str]) -> dict[str, SplitData]:
    corpus: dict[str, dict[str, str]] = {}
    cpath = folder / "corpus.jsonl"
    for lineno, rec in iter_jsonl(cpath):
        did = str(require_field(rec, "_id", cpath, lineno, (str, int)))
        text = rec.get("text")
        if not isinstance(text, str):
            raise TaskDataError(f"{cpath}:{lineno}: field 'text' must be a string")
        title = rec.get("title") or ""
        if not (text.strip() or str(title).strip()):
            raise TaskDataError(f"{cpath}:{lineno}: document {did!r} has empty title and text; remove it")
        if did in corpus:
            raise TaskDataError(f"{cpath}:{lineno}: duplicate document id {did!r}; ids must be unique")
        corpus[did] = {"title": str(title), "text": text}
    if not corpus:
        raise TaskDataError(f"{cpath}: corpus is empty; it needs at least one document")
    all_queries: dict[str, str] = {}
    qpath = folder / "queries.jsonl"
    for lineno, rec in iter_jsonl(qpath):
        qid = str(require_field(rec, "_id", qpath, lineno, (str, int)))
        text = require_field(rec, "text", qpath, lineno, str)
        if not text.strip():
            raise TaskDataError(f"{qpath}:{lineno}: query {qid!r} has empty text; remove it")
        all_queries[qid] = text
    out: dict[str, SplitData] = {}
    for split in splits:
        qrels = read_qrels(folder / "qrels" / f"{split}.tsv", corpus, all_queries)
        queries = {qid: all_queries[qid] for qid in qrels}
        out[split] = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    return out


def read_qrels(
    path: Path, corpus: dict[str, Any], queries: dict[str, str]
) -> dict[str, dict[str, int]]:
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("*.tsv")) if path.parent.is_dir() else []
        raise TaskDataError(
            f"{path}: qrels file not found; available splits: {', '.join(have) or '(none)'} "
            f"(set eval_splits in {METADATA_FILE} to match)"
        )
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in iter_text_lines(path):
        row = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"), [])
        if not row or not "".join(row).strip():
            continue
        if lineno == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}:
            continue
        if len(row) < 3:
            raise TaskDataError(f"{path}:{lineno}: expected 3 tab-separated columns query-id, corpus-id, score")
        qid, did, score = row[0].strip(), row[1].strip(), row[2].strip()
        rel = parse_relevance(score, path, lineno)
        if qid not in queries:
            raise TaskDataError(f"{path}:{lineno}: query id {qid!r} is not in queries.jsonl; add it or drop the line")
        if did not in corpus:
            raise TaskDataError(f"{path}:{lineno}: document id {did!r} is not in corpus.jsonl; add it or drop the line")
        qrels.setdefault(qid, {})[did] = rel
    if not qrels:
        raise TaskDataError(f"{path}: split has no judgements; it needs at least one query-id/corpus-id line")
    if not any(r > 0 for rels in qrels.values() for r in rels.values()):
        raise TaskDataError(f"{path}: no relevant documents (all scores <= 0); check the score column")
    return qrels


def parse_relevance(score: str, path: Path, lineno: int) -> int:
    """A qrels score: a graded integer relevance (``2``, ``1``, ``0``, ``-1``; ``1.0`` is read as 1).

    A fractional score (``0.5``) is rejected rather than truncated (``int(0.5)`` would silently
    make the document irrelevant) or rounded (which would invent a grade)."""
    try:
        value = float(score)
    except ValueError:
        raise TaskDataError(f"{path}:{lineno}: score {score!r} is not a number; use a graded integer (0, 1, 2, ...)") from None
    if not math.isfinite(value) or value != int(value):
        raise TaskDataError(
            f"{path}:{lineno}: score {score!r} is not an integer; qrels scores are graded integer relevance "
            f"(0 = not relevant, 1 = relevant, 2 = highly relevant ...); map it to an integer grade"
        )
    return int(value)


def write_task_folder(folder: str | os.PathLike[str], metadata: TaskMetadata, splits: dict[str, SplitData | dict[str, list[Any]]]) -> Path:
    """Write a task in the folder format (atomically, metadata last so a folder is complete or absent).

    Retrieval splits must share one corpus and one query table (BEIR has one of each).
    Reranking splits are written as ``query``/``positive``/``negative`` rows.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    if metadata.type is TaskType.RETRIEVAL:
        corpus: dict[str, dict[str, str]] = {}
        queries: dict[str, str] = {}
        for split, data in splits.items():
            assert isinstance(data, RetrievalData)
            corpus.update(data.corpus)
            queries.update(data.queries)
            with atomic_path(out / "qrels" / f"{split}.tsv", root=out) as tmp:
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    w = csv.writer(fh, delimiter="\t", lineterminator="\n")
                    w.writerow(["query-id", "corpus-id", "score"])
                    for qid, rels in data.qrels.items():
                        for did, rel in rels.items():
                            w.writerow([qid, did, rel])
            sizes[split] = len(data.qrels)
        atomic_write_jsonl(out / "corpus.jsonl", ({"_id": k, **v} for k, v in corpus.items()), root=out)
        atomic_write_jsonl(out / "queries.jsonl", ({"_id": k, "text": v} for k, v in queries.items()), root=out)
    else:
        for split, data in splits.items():
            cols = data.columns if isinstance(data, ColumnData) else data
            assert isinstance(cols, dict)
            names = list(cols)
            n = len(cols[names[0]])
            atomic_write_jsonl(out / f"{split}.jsonl", ({c: cols[c][i] for c in names} for i in range(n)), root=out)
            sizes[split] = n
    meta = metadata.model_copy(update={"n_samples": {**metadata.n_samples, **sizes}})
    atomic_write_json(out / METADATA_FILE, meta.model_dump(mode="json"), root=out)
    return out
