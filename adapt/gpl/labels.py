"""Cross-encoder pseudo-labels (GPL step 3): raw teacher logits for (query, source) and
(query, negative), written in shards so a killed run resumes at the first missing shard.

The teacher is a registry cross-encoder (``ms-marco-reranker``: ms-marco-MiniLM-L-12-v2,
**int8-dequantized**), a local CrossEncoder folder, or a hub id (only when a hub is reachable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domainteb.core.errors import ModelLoadError
from domainteb.core.io import atomic_write_jsonl, read_jsonl, stable_hash

log = logging.getLogger(__name__)


@dataclass
class Teacher:
    model: Any
    name: str
    revision: str
    labels: list[str]

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision, "max_length": self.model.max_length}


def load_teacher(name: str, *, device: str, max_length: int) -> Teacher:
    """A sentence-transformers CrossEncoder for ``name`` (registry name, folder or hub id)."""
    from domainteb.eval.models.spec import get_spec, registry_names

    if name in registry_names():
        from domainteb.eval.models import load_model

        if get_spec(name).loader != "cross_encoder":
            raise ModelLoadError(f"teacher={name!r} is not a cross-encoder; use ms-marco-reranker or a CrossEncoder folder")
        reranker = load_model(name, device=device, cache=False)
        model = reranker.model
        labels, revision = list(reranker.labels), str(reranker.revision)
    else:
        from sentence_transformers import CrossEncoder

        from domainteb.eval.models.sentence_transformer import resolve_device

        from domainteb.core.assets import check_weights_format, st_model_kwargs

        path = Path(name).expanduser()
        if path.is_dir():
            check_weights_format(path)  # safetensors only: pickle weights can run code
        try:
            model = CrossEncoder(str(path) if path.exists() else name, device=resolve_device(device),
                                 trust_remote_code=False, local_files_only=path.exists(),
                                 model_kwargs=st_model_kwargs(False))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"teacher={name!r}: cannot load a CrossEncoder ({str(exc).splitlines()[0]}); "
                                 "pass ms-marco-reranker or a CrossEncoder folder") from None
        labels, revision = [], stable_hash(str(path.resolve()) if path.exists() else name)[:16]
    model.max_length = int(max_length)
    return Teacher(model=model, name=name, revision=revision, labels=labels)


@dataclass
class LabelJob:
    """One query and the passages to score against it (source first)."""

    qid: str
    query: str
    positive: str
    negatives: list[tuple[str, str]]  # (pid, text)


def _score(teacher: Teacher, jobs: list[LabelJob], batch_size: int) -> list[dict[str, Any]]:
    import torch

    pairs: list[tuple[str, str]] = []
    for job in jobs:
        pairs.append((job.query, job.positive))
        pairs.extend((job.query, text) for _, text in job.negatives)
    scores = teacher.model.predict(pairs, batch_size=batch_size, activation_fn=torch.nn.Identity(),
                                   convert_to_numpy=True, show_progress_bar=False).reshape(len(pairs), -1)[:, 0]
    out, i = [], 0
    for job in jobs:
        pos = float(scores[i])
        negs = {pid: float(s) for (pid, _), s in zip(job.negatives, scores[i + 1 : i + 1 + len(job.negatives)])}
        out.append({"qid": job.qid, "pos": pos, "neg": negs})
        i += 1 + len(job.negatives)
    return out


def pseudo_label(teacher: Teacher, jobs: list[LabelJob], folder: Path, *, shard: int, batch_size: int) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Teacher logits per query; shards under ``folder`` (content-addressed by the caller) are reused."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Any]] = {}
    stats = {"shards": 0, "shards_reused": 0, "pairs_scored": 0}
    for start in range(0, len(jobs), shard):
        part = jobs[start : start + shard]
        file = folder / f"part-{start // shard:05d}.jsonl"
        stats["shards"] += 1
        records = None
        if file.is_file():
            records = read_jsonl(file)
            if [r.get("qid") for r in records] != [j.qid for j in part]:
                records = None
            else:
                stats["shards_reused"] += 1
        if records is None:
            records = _score(teacher, part, batch_size)
            atomic_write_jsonl(file, records)
            stats["pairs_scored"] += sum(1 + len(j.negatives) for j in part)
            log.info("pseudo-labels: %d/%d queries", min(start + shard, len(jobs)), len(jobs))
        for rec in records:
            out[rec["qid"]] = rec
    return out, stats
