"""The queries step of the corpus pipeline: chunks → ``queries/<generator>.jsonl``.

``generator=ict|crop`` needs no LLM (:mod:`domainteb.synth.pseudo_queries`);
``generator=llm`` runs the persona synth stage over the chunks (``domain=`` picks the persona
set; every synth filter applies, including few-shot-echo and prompt-injection rejection) and
converts its kept pairs. Generated queries that equal or contain one of the evaluation
task's queries are dropped and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_write_json, iter_jsonl, read_json
from domainteb.corpus.exclusion import EvalQueries
from domainteb.corpus.store import read_chunks
from domainteb.synth.pseudo_queries import METHODS, generate_pseudo_queries, queries_file, write_queries
from domainteb.synth.records import GeneratedQuery


def llm_queries(cfg: Any, out: Path, stage_runner: Callable[[Any], int | None]) -> tuple[list[GeneratedQuery], dict[str, Any]]:
    """Persona synth over the chunks file; the kept pairs as generated queries, and synth's report."""
    from domainteb.pipeline.steps import compose_stage

    n_chunks = len(read_chunks(cfg.chunks))
    overrides = [f"domain={cfg.domain}", f"passages={cfg.chunks}", f"n_passages={n_chunks}",
                 f"queries_per_passage={int(cfg.queries_per_passage)}", *cfg.get("synth_overrides", [])]
    synth_cfg = compose_stage("synth", overrides, inherit=OmegaConf.create(dict(cfg.get("inherit") or {})))
    with_llm = OmegaConf.to_container(synth_cfg, resolve=True)
    assert isinstance(with_llm, dict)
    if cfg.get("llm"):
        with_llm["llm"] = {**dict(with_llm.get("llm") or {}), **OmegaConf.to_container(cfg.llm, resolve=True)}
    with_llm["output_dir"] = str(out / "synth")
    status = stage_runner(OmegaConf.create(with_llm))
    if status:
        raise DomainTebError(f"the synth stage finished with status {status}; see {out / 'synth' / 'failed.jsonl'} and rerun")
    queries = []
    for i, (_, rec) in enumerate(iter_jsonl(out / "synth" / "pairs.jsonl")):
        queries.append(GeneratedQuery(qid=f"llm:{rec['job_id']}:{i}", query=rec["query"], pid=rec["positive_id"],
                                      generator=f"llm:{rec['llm_model']}"))
    report = read_json(out / "synth" / "report.json")
    return queries, {"synth_report": str(out / "synth" / "report.json"), "queries_generated": report.get("queries_generated"),
                     "rejections": report.get("rejections", {})}


def run(cfg: Any, stage_runner: Callable[[Any], int | None] | None = None) -> int:
    t0 = time.monotonic()
    out = Path(str(cfg.output_dir))
    generator = str(cfg.generator)
    details: dict[str, Any] = {}
    if generator in METHODS:
        queries = generate_pseudo_queries(read_chunks(cfg.chunks), method=generator,
                                          per_passage=int(cfg.queries_per_passage), seed=int(cfg.seed))
    elif generator == "llm":
        if stage_runner is None:
            from domainteb.cli import STAGES

            stage_runner = STAGES.get("synth").function()
        queries, details = llm_queries(cfg, out, stage_runner)
    else:
        raise DomainTebError(f"generator={generator!r}: use ict, crop (no LLM) or llm")
    excluded = EvalQueries.from_task(cfg.get("eval_task"))
    kept = [q for q in queries if not (excluded and excluded.matches_query(q.query))]
    if not kept:
        raise DomainTebError(f"no queries were generated from {cfg.chunks}; use longer documents, another generator, or more passages")
    path = queries_file(out, generator)
    write_queries(path, kept)
    atomic_write_json(out / "queries" / "report.json", {
        "generator": generator, "queries_generated": len(queries), "queries_kept": len(kept),
        "rejected_eval_query_overlap": len(queries) - len(kept), "chunks": str(cfg.chunks),
        "seconds": round(time.monotonic() - t0, 3), **details,
    })
    print(f"queries ({generator}): {len(kept)} kept of {len(queries)}"
          + (f"; {len(queries) - len(kept)} dropped as evaluation-query overlap" if len(queries) != len(kept) else ""))
    return 0
