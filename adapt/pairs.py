"""Training pairs for fine-tuning and pruning: loading, validation and summary statistics.

Three sources are accepted, all turned into a :class:`datasets.Dataset` with the columns
``anchor``, ``positive`` and, when every pair carries hard negatives, ``negative``
(or ``negative_1`` … ``negative_n`` for several):

* a JSONL file of ``{"query"|"anchor": ..., "positive": ..., "negatives": [...]|"negative": ...}``
  records, as the synth stage writes them to ``outputs/synth/<domain>/pairs.jsonl``
  (extra fields such as ``persona`` and ``query_type`` are counted for the model card);
* a folder written by :meth:`datasets.Dataset.save_to_disk` with the same columns;
* ``None``: the domain's real training pairs, ``domainteb.domains.train_pairs(domain, n)``.

Every problem raises a one-line :class:`~domainteb.core.errors.TaskDataError` naming the
file, line and field, before any model is loaded.

:func:`stream_pairs` reads a pairs file (or saved folder) lazily as a :class:`datasets.IterableDataset`
(``adapt.streaming=true``): one validating pass counts the pairs and fixes the columns without
keeping them, then the trainer re-reads the file as it needs pairs (see :mod:`domainteb.adapt.streaming`).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.io import iter_jsonl, read_json, stable_hash

log = logging.getLogger(__name__)

#: accepted names of the query field, in order of preference.
ANCHOR_FIELDS = ("anchor", "query")
#: fields counted for the model card when present.
PERSONA_FIELDS = ("persona",)
QUERY_TYPE_FIELDS = ("query_type", "task_type")
#: files next to a pairs file that may describe the synth filters.
SYNTH_REPORT_FILES = ("report.json", "synth_report.json", "filter_report.json")


@dataclass
class PairsInfo:
    """Where the pairs came from and what they contain (for the model card and MLflow)."""

    source: str
    n_pairs: int
    n_negatives: int = 0
    personas: dict[str, int] = field(default_factory=dict)
    query_types: dict[str, int] = field(default_factory=dict)
    #: the synth stage's filter settings/counts when a report lies next to the pairs file.
    filters: dict[str, Any] = field(default_factory=dict)
    dropped_negatives: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_pairs": self.n_pairs,
            "n_negatives": self.n_negatives,
            "personas": self.personas,
            "query_types": self.query_types,
            "filters": self.filters,
        }


@dataclass
class _Pair:
    anchor: str
    positive: str
    negatives: list[str]
    persona: str | None
    query_type: str | None


def _text(rec: dict[str, Any], name: str, where: str) -> str:
    value = rec[name]
    if not isinstance(value, str):
        raise TaskDataError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise TaskDataError(f"{where}: field {name!r} is empty; fill it or remove the record")
    return value


def parse_pair(rec: dict[str, Any], where: str) -> _Pair:
    """Validate one record; ``where`` is ``file:line`` (or another locator) for errors."""
    anchor_field = next((f for f in ANCHOR_FIELDS if f in rec), None)
    if anchor_field is None:
        raise TaskDataError(f"{where}: missing field 'query' (or 'anchor'); every pair needs the query text")
    anchor = _text(rec, anchor_field, where)
    if "positive" not in rec:
        raise TaskDataError(f"{where}: missing field 'positive'; every pair needs the relevant passage")
    positive = _text(rec, "positive", where)
    negatives: list[str] = []
    if rec.get("negatives") is not None:
        raw = rec["negatives"]
        if not isinstance(raw, list):
            raise TaskDataError(f"{where}: field 'negatives' must be a list of strings, got {type(raw).__name__}")
        for i, neg in enumerate(raw):
            if not isinstance(neg, str) or not neg.strip():
                raise TaskDataError(f"{where}: field 'negatives[{i}]' must be a non-empty string")
            negatives.append(neg)
    elif rec.get("negative") is not None:
        negatives.append(_text(rec, "negative", where))
    persona = next((str(rec[f]) for f in PERSONA_FIELDS if rec.get(f) not in (None, "")), None)
    query_type = next((str(rec[f]) for f in QUERY_TYPE_FIELDS if rec.get(f) not in (None, "")), None)
    return _Pair(anchor, positive, negatives, persona, query_type)


def _from_jsonl(path: Path) -> Iterator[_Pair]:
    for lineno, rec in iter_jsonl(path):
        yield parse_pair(rec, f"{path}:{lineno}")


def _from_saved_dataset(path: Path) -> Iterator[_Pair]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise TaskDataError(
            f"{path}: not a pairs file or a datasets.save_to_disk folder ({str(exc).splitlines()[0]}); "
            "pass a JSONL of {query, positive, negatives} records"
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise TaskDataError(f"{path}: DatasetDict has no 'train' split; available: {', '.join(ds)}")
        ds = ds["train"]
    columns = set(ds.column_names)
    if not columns & set(ANCHOR_FIELDS) or "positive" not in columns:
        raise TaskDataError(
            f"{path}: dataset columns {sorted(columns)} lack 'anchor' (or 'query') and 'positive'; rename them"
        )
    neg_cols = sorted(c for c in columns if c.startswith("negative_"))
    for i, rec in enumerate(ds):
        rec = dict(rec)
        if neg_cols and "negatives" not in rec:
            rec["negatives"] = [rec[c] for c in neg_cols]
        yield parse_pair(rec, f"{path}[row {i}]")


def _from_domain(domain: str, limit: int | None) -> Iterator[_Pair]:
    try:
        from domainteb.domains import train_pairs  # type: ignore[attr-defined]
    except ImportError:
        try:
            from domainteb.domains.base import train_pairs
        except ImportError:
            raise TaskDataError(
                f"domain {domain!r}: no built-in training pairs (domainteb.domains.train_pairs is missing); "
                "pass data=<pairs.jsonl> from the synth stage"
            ) from None
    records = train_pairs(domain, limit) if limit else train_pairs(domain)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            rec = dict(rec)
        yield parse_pair(rec, f"train_pairs({domain!r})[{i}]")


def _synth_filters(path: Path) -> dict[str, Any]:
    folder = path if path.is_dir() else path.parent
    for name in SYNTH_REPORT_FILES:
        report = folder / name
        if report.is_file():
            try:
                data = read_json(report)
            except TaskDataError:
                log.warning("ignoring unreadable synth report %s", report)
                return {}
            if isinstance(data, dict):
                filters = data.get("filters", data)
                return filters if isinstance(filters, dict) else {"filters": filters}
    return {}


def _columns(pairs: list[_Pair]) -> tuple[dict[str, list[str]], int, int]:
    """Column dict for the dataset; the number of negative columns is the minimum over pairs."""
    n_neg = min((len(p.negatives) for p in pairs), default=0)
    dropped = sum(len(p.negatives) - n_neg for p in pairs)
    cols: dict[str, list[str]] = {"anchor": [p.anchor for p in pairs], "positive": [p.positive for p in pairs]}
    if n_neg == 1:
        cols["negative"] = [p.negatives[0] for p in pairs]
    else:
        for j in range(n_neg):
            cols[f"negative_{j + 1}"] = [p.negatives[j] for p in pairs]
    return cols, n_neg, dropped


def load_pairs_with_info(
    path: str | os.PathLike[str] | None,
    domain: str | None = None,
    limit: int | None = None,
    *,
    max_negatives: int = 1,
    require: int | None = None,
) -> tuple[Any, PairsInfo]:
    """Load and validate pairs; returns ``(datasets.Dataset, PairsInfo)``.

    ``limit`` keeps the first ``limit`` pairs; ``max_negatives`` caps the hard-negative
    columns; ``require`` raises when fewer pairs than that are available (calibration sets).
    """
    import datasets

    if limit is not None and limit <= 0:
        raise TaskDataError(f"limit={limit}: the number of pairs must be positive")
    filters: dict[str, Any] = {}
    if path is None or str(path) in {"", "null", "None"}:
        if not domain:
            raise TaskDataError("no training data: pass data=<pairs.jsonl> or a domain with built-in pairs")
        source = f"domainteb.domains.train_pairs({domain})"
        records: Iterable[_Pair] = _from_domain(domain, limit)
    else:
        p = Path(path).expanduser()
        source = str(p)
        if p.is_dir():
            records = _from_saved_dataset(p)
        elif p.is_file():
            records = _from_jsonl(p)
        else:
            raise TaskDataError(f"{p}: pairs file not found; run the synth stage or pass an existing JSONL/dataset folder")
        filters = _synth_filters(p)
    pairs: list[_Pair] = []
    for pair in records:
        pairs.append(pair)
        if limit is not None and len(pairs) >= limit:
            break
    if not pairs:
        raise TaskDataError(f"{source}: no training pairs; it needs at least one query/positive record")
    wanted = require if require is not None else None
    if wanted is not None and len(pairs) < wanted:
        raise TaskDataError(f"{source}: only {len(pairs)} pairs, {wanted} requested; lower the number or add pairs")
    for p_ in pairs:
        del p_.negatives[max(0, max_negatives) :]
    cols, n_neg, dropped = _columns(pairs)
    if dropped:
        log.warning("%s: %d hard negatives dropped so every pair has %d", source, dropped, n_neg)
    info = PairsInfo(
        source=source,
        n_pairs=len(pairs),
        n_negatives=n_neg,
        personas=dict(Counter(p.persona for p in pairs if p.persona).most_common()),
        query_types=dict(Counter(p.query_type for p in pairs if p.query_type).most_common()),
        filters=filters,
        dropped_negatives=dropped,
    )
    return datasets.Dataset.from_dict(cols), info


def _source_records(path: str | os.PathLike[str] | None) -> tuple[Path, Iterator[_Pair]]:
    if path is None or str(path) in {"", "null", "None"}:
        raise TaskDataError("adapt.streaming=true reads a pairs file lazily; pass data=<pairs.jsonl> "
                            "(or a datasets.save_to_disk folder), or set adapt.streaming=false")
    p = Path(path).expanduser()
    if p.is_dir():
        return p, _from_saved_dataset(p)
    if p.is_file():
        return p, _from_jsonl(p)
    raise TaskDataError(f"{p}: pairs file not found; run the synth stage or pass an existing JSONL/dataset folder")


def _source_identity(p: Path) -> str:
    """Content identity of a pairs file or folder (sizes and streamed sha256s; nothing held in memory)."""
    from domainteb.core.io import sha256_file, stable_hash

    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return stable_hash([(str(f.relative_to(p)) if p.is_dir() else f.name, f.stat().st_size, sha256_file(f))
                        for f in files])


def _stream_rows(path: str, n_neg: int, limit: int | None) -> Iterator[dict[str, str]]:
    """Generator behind :func:`stream_pairs` (re-validates every record it reads)."""
    for i, pair in enumerate(_source_records(path)[1]):
        if limit is not None and i >= limit:
            return
        row = {"anchor": pair.anchor, "positive": pair.positive}
        if n_neg == 1:
            row["negative"] = pair.negatives[0]
        else:
            row.update({f"negative_{j + 1}": pair.negatives[j] for j in range(n_neg)})
        yield row


def stream_pairs(
    path: str | os.PathLike[str] | None,
    limit: int | None = None,
    *,
    max_negatives: int = 1,
) -> tuple[Any, PairsInfo]:
    """Pairs read lazily as a :class:`datasets.IterableDataset`, with the same columns, validation and
    :class:`PairsInfo` as :func:`load_pairs_with_info`.

    A first pass validates every record (one-line errors with file and line) and counts pairs,
    negatives, personas and query types, holding only the counts; the dataset then re-reads the
    source when iterated. Its source identity (sizes and sha256) is recorded for resuming
    (:func:`domainteb.adapt.streaming.source_key`).
    """
    import datasets

    from domainteb.adapt.streaming import set_source_key

    if limit is not None and limit <= 0:
        raise TaskDataError(f"limit={limit}: the number of pairs must be positive")
    p, records = _source_records(path)
    n_pairs, n_neg_min = 0, None
    personas: Counter[str] = Counter()
    query_types: Counter[str] = Counter()
    total_negatives = 0
    for pair in records:
        n_pairs += 1
        n = min(len(pair.negatives), max(0, max_negatives))
        total_negatives += n
        n_neg_min = n if n_neg_min is None else min(n_neg_min, n)
        if pair.persona:
            personas[pair.persona] += 1
        if pair.query_type:
            query_types[pair.query_type] += 1
        if limit is not None and n_pairs >= limit:
            break
    if not n_pairs:
        raise TaskDataError(f"{p}: no training pairs; it needs at least one query/positive record")
    n_neg = n_neg_min or 0
    dropped = total_negatives - n_neg * n_pairs
    if dropped:
        log.warning("%s: %d hard negatives dropped so every pair has %d", p, dropped, n_neg)
    names = ["anchor", "positive"] + (["negative"] if n_neg == 1 else [f"negative_{j + 1}" for j in range(n_neg)])
    features = datasets.Features({name: datasets.Value("string") for name in names})
    dataset = datasets.IterableDataset.from_generator(
        _stream_rows, features=features, gen_kwargs={"path": str(p), "n_neg": n_neg, "limit": limit}
    )
    set_source_key(dataset, stable_hash({"source": _source_identity(p), "limit": limit, "n_neg": n_neg}))
    info = PairsInfo(
        source=str(p), n_pairs=n_pairs, n_negatives=n_neg, personas=dict(personas.most_common()),
        query_types=dict(query_types.most_common()), filters=_synth_filters(p), dropped_negatives=dropped,
    )
    return dataset, info


def load_pairs(
    path: str | os.PathLike[str] | None,
    domain: str | None = None,
    limit: int | None = None,
    *,
    max_negatives: int = 1,
    require: int | None = None,
) -> Any:
    """Training pairs as a :class:`datasets.Dataset` (columns anchor, positive[, negative])."""
    return load_pairs_with_info(path, domain, limit, max_negatives=max_negatives, require=require)[0]
