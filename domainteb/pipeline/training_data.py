"""The pipeline's training set: synthetic pairs plus the domain suite's real train pairs.

A tiny local LLM yields few pairs that survive synth's filters, so the pipeline mixes in
``real_pairs`` real (query, positive, hard negative) triplets from the domain's **train**
split (never its dev/test entities). Each record keeps its origin in ``source``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_write_jsonl, iter_jsonl


def merged_pairs(synth_pairs: str | None, domain: str, real_pairs: int, seed: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if synth_pairs and Path(synth_pairs).is_file():
        for _, rec in iter_jsonl(synth_pairs):
            records.append({**rec, "source": "synthetic"})
    if real_pairs > 0:
        from domainteb.domains import train_pairs

        for rec in train_pairs(domain, n=real_pairs, seed=seed):
            records.append({"query": rec["query"], "positive": rec["positive"],
                            "negatives": [rec["negative"]] if rec.get("negative") else [],
                            "source": "domain-train"})
    return records


def run(cfg: DictConfig) -> int:
    records = merged_pairs(cfg.get("synth_pairs"), str(cfg.domain), int(cfg.real_pairs), int(cfg.seed))
    if len(records) < 2:
        raise DomainTebError(
            f"only {len(records)} training pair(s) for domain {cfg.domain}; raise synth n_passages or real_pairs"
        )
    atomic_write_jsonl(Path(str(cfg.output_dir)) / "pairs.jsonl", records)
    n_synth = sum(r["source"] == "synthetic" for r in records)
    print(f"training pairs: {len(records)} ({n_synth} synthetic, {len(records) - n_synth} real train-split)")
    return 0
