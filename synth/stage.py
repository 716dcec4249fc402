"""The ``domainteb synth`` stage: passages × personas → LLM → filters → training pairs.

Outputs under ``output_dir``: ``pairs.jsonl`` (:class:`SynthPair` records), ``dataset/``
(``datasets.Dataset.save_to_disk`` with columns anchor/positive/negative for the
sentence-transformers trainer), ``failed.jsonl``, ``rejected.jsonl`` (each rejected query with its reason), ``report.json``, plus the resumable logs
``responses.jsonl`` (response cache) and ``jobs.jsonl`` (finished jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError
from domainteb.core.io import atomic_write_json, atomic_write_jsonl
from domainteb.core.tracking import flatten, redact_value, tracker_from_config
from domainteb.synth.cache import AppendLog, ResponseCache
from domainteb.synth.client import LLMClient, settings_from_config
from domainteb.synth.filters import Candidate, FilterSettings, apply_filters
from domainteb.synth.generate import make_jobs, run_jobs
from domainteb.synth.llm_server import TINY_MODEL_WARNING, local_server
from domainteb.synth.passages import Passage, load_passages, select_passages
from domainteb.synth.personas import load_personas, plan_jobs
from domainteb.synth.records import FailedJob, JobOutcome, SynthPair, SynthReport

log = logging.getLogger(__name__)


def _validate(cfg: Any) -> None:
    if not cfg.get("domain"):
        raise ConfigError("domain is empty; pass domain=finance|chemistry|medical")
    for key in ("n_passages", "queries_per_passage", "personas_per_passage", "concurrency"):
        value = cfg.get(key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value!r} must be a positive integer")
    for key in ("max_retries", "max_repairs"):
        if not isinstance(cfg.get(key), int) or cfg.get(key) < 0:
            raise ConfigError(f"{key}={cfg.get(key)!r} must be an integer >= 0")
    if not float(cfg.get("timeout_s") or 0) > 0:
        raise ConfigError("timeout_s must be > 0 seconds")


def _to_container(cfg: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)  # type: ignore[return-value]


@contextlib.contextmanager
def _llm_endpoint(cfg: Any, out: Path):  # type: ignore[no-untyped-def]
    """Yields the llm block with ``base_url`` set, starting the local server when needed."""
    llm = dict(_to_container(cfg.llm))
    if llm.get("backend") == "local" and not llm.get("base_url"):
        if not llm.get("model_path"):
            log.warning(TINY_MODEL_WARNING)
        with local_server(llm, log_dir=out) as server:
            llm["base_url"] = server.base_url
            llm["model"] = server.model_alias  # recorded per pair as llm_model
            yield llm
    else:
        yield llm


def _export_dataset(pairs: list[SynthPair], pool: dict[str, Passage], path: Path, seed: int) -> int:
    """anchor/positive/negative columns for the sentence-transformers trainer; returns the random-negative count."""
    import sys

    import datasets
    from datasets import Dataset

    if not sys.stderr.isatty():
        datasets.disable_progress_bars()

    rng = random.Random(seed)
    ids = sorted(pool)
    fallback = 0
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    for p in pairs:
        if p.negatives:
            neg = p.negatives[0]
        else:
            fallback += 1
            choices = [i for i in rng.sample(ids, min(len(ids), 5)) if i != p.positive_id] or [i for i in ids if i != p.positive_id]
            neg = pool[choices[0]].text if choices else ""
        rows["anchor"].append(p.query)
        rows["positive"].append(p.positive)
        rows["negative"].append(neg)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    Dataset.from_dict(rows).save_to_disk(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return fallback


def _summary_table(report: SynthReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"synth {report.domain} ({report.llm_model})")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("passages", report.n_passages),
        ("jobs ok / failed", f"{report.jobs_ok} / {report.jobs_failed}"),
        ("queries generated", report.queries_generated),
        ("pairs kept", report.pairs_kept),
        ("requests (retries, repairs)", f"{report.requests} ({report.retries}, {report.repairs})"),
        ("cache hits / jobs resumed", f"{report.cache_hits} / {report.jobs_resumed}"),
        ("tokens in / out", f"{report.prompt_tokens} / {report.completion_tokens}"),
        ("wall time (s)", f"{report.wall_time_s:.1f}"),
    ]
    rows += [(f"rejected: {k}", v) for k, v in report.rejections.items()]
    rows += [(f"persona: {k}", v) for k, v in sorted(report.pairs_per_persona.items())]
    rows += [(f"query type: {k}", v) for k, v in sorted(report.pairs_per_query_type.items())]
    for k, v in rows:
        table.add_row(k, str(v))
    console = Console()
    console.print(table)
    if report.jobs_failed:
        console.print(f"{report.jobs_failed} job(s) failed; see {report.failed_file} (rerun with retry_failed=true)")
    console.print(f"pairs: {report.outputs['pairs']}  dataset: {report.outputs['dataset']}")


def run(cfg: Any) -> int:
    """Generate, filter and write synthetic pairs for ``cfg.domain`` (see ``conf/synth.yaml``)."""
    _validate(cfg)
    t0 = time.monotonic()
    domain = str(cfg.domain)
    out = Path(str(cfg.output_dir)).expanduser()
    filters = FilterSettings.from_config(_to_container(cfg.filters) if cfg.get("filters") else {})
    personas = load_personas(domain, cfg.get("personas"))
    all_passages = load_passages(domain, cfg.get("passages"), max_chars=int(cfg.max_passage_chars))
    chosen = select_passages(all_passages, int(cfg.n_passages), int(cfg.seed), int(cfg.min_passage_chars), int(cfg.max_passage_chars))
    plans = plan_jobs(
        [p.id for p in chosen],
        personas,
        seed=int(cfg.seed),
        queries_per_passage=int(cfg.queries_per_passage),
        personas_per_passage=int(cfg.personas_per_passage),
        query_types=list(cfg.query_types) if cfg.get("query_types") else None,
        difficulties=list(cfg.difficulties) if cfg.get("difficulties") else None,
    )
    out.mkdir(parents=True, exist_ok=True)
    tracker = tracker_from_config(cfg)
    cfg_dict = _to_container(cfg)
    with _llm_endpoint(cfg, out) as llm:
        settings = settings_from_config(
            llm, timeout_s=float(cfg.timeout_s), max_retries=int(cfg.max_retries), rate_limit=cfg.get("rate_limit")
        )
        identity = {"model": settings.model, **{k: v for k, v in settings.sampling_params(0).items() if k != "seed"}}
        jobs = make_jobs(chosen, plans, domain=domain, seed=int(cfg.seed), llm_identity=identity)
        cache = ResponseCache(out / "responses.jsonl")
        jobs_log = AppendLog(out / "jobs.jsonl")
        tags = {"stage": "synth", "domain": domain, "llm_model": settings.model}
        with tracker.run(f"synth-{domain}", tags=tags):
            tracker.log_params(cfg_dict)
            client = LLMClient(settings, cache, seed_rng=random.Random(int(cfg.seed)))

            async def _go():  # type: ignore[no-untyped-def]
                try:
                    return await run_jobs(
                        jobs,
                        client,
                        jobs_log,
                        domain=domain,
                        concurrency=int(cfg.concurrency),
                        max_repairs=int(cfg.max_repairs),
                        retry_failed=bool(cfg.get("retry_failed", False)),
                        few_shot=bool(cfg.get("few_shot", True)),
                    )
                finally:
                    await client.aclose()

            try:
                summary = asyncio.run(_go())
            finally:
                cache.close()
                jobs_log.close()
            report = _finish(cfg, out, domain, settings, client, summary.outcomes, chosen, all_passages, filters, t0, cfg_dict, summary.repairs, summary.skipped_done + summary.skipped_failed)
            tracker.log_metrics(_metrics(report))
            for name in ("pairs", "report", "failed"):
                tracker.log_artifact(report.outputs[name])
            tracker.log_artifact(report.outputs["dataset"], artifact_path="dataset")
    _summary_table(report)
    if report.jobs_failed and not report.jobs_ok:  # every LLM call failed: nothing was generated
        print(f"error: all {report.jobs_failed} LLM job(s) failed, no pairs generated; see {report.failed_file} "
              f"for the reasons, check llm.base_url/llm.model and that the server answers, then rerun with "
              f"retry_failed=true", file=sys.stderr)
        return 1
    return 0


def _finish(
    cfg: Any,
    out: Path,
    domain: str,
    settings: Any,
    client: LLMClient,
    outcomes: dict[str, JobOutcome],
    chosen: list[Passage],
    all_passages: list[Passage],
    filters: FilterSettings,
    t0: float,
    cfg_dict: dict[str, Any],
    repairs: int,
    resumed: int,
) -> SynthReport:
    by_id = {p.id: p for p in chosen}
    failed = [o for o in outcomes.values() if o.status == "failed"]
    failed_file = out / "failed.jsonl"
    atomic_write_jsonl(
        failed_file,
        (FailedJob(job_id=o.job_id, passage_id=o.passage_id, persona=o.persona, reason=o.reason, attempts=o.attempts).model_dump(mode="json") for o in failed),
    )
    candidates: list[Candidate] = []
    for o in sorted((o for o in outcomes.values() if o.status == "ok"), key=lambda o: (o.passage_id, o.persona)):
        for q, qt, diff in zip(o.queries, o.query_types, o.difficulties, strict=True):
            candidates.append(Candidate(q, o.passage_id, o.persona, qt, diff, o.job_id, o.prompt_hash))
    pool = {p.id: Passage(p.id, p.text.strip()[: int(cfg.max_passage_chars)]) for p in all_passages}
    pool.update(by_id)
    result = apply_filters(candidates, by_id, list(pool.values()), filters)
    pairs = [
        SynthPair(
            query=c.query,
            positive_id=c.passage_id,
            positive=by_id[c.passage_id].text,
            negatives=[pool[n].text for n in c.negatives],
            negative_ids=list(c.negatives),
            persona=c.persona,
            query_type=c.query_type,  # type: ignore[arg-type]
            difficulty=c.difficulty,  # type: ignore[arg-type]
            domain=domain,
            llm_model=outcomes[c.job_id].llm_model,
            prompt_hash=c.prompt_hash,
            job_id=c.job_id,
        )
        for c in result.kept
    ]
    pairs_file = out / "pairs.jsonl"
    atomic_write_jsonl(pairs_file, (p.model_dump(mode="json") for p in pairs))
    rejected_file = out / "rejected.jsonl"
    atomic_write_jsonl(rejected_file, ({"query": c.query, "passage_id": c.passage_id, "reason": reason, "job_id": c.job_id}
                                       for c, reason in result.rejected))
    dataset_dir = out / "dataset"
    fallback = _export_dataset(pairs, pool, dataset_dir, int(cfg.seed))
    stats = client.stats
    report = SynthReport(
        domain=domain,
        llm_model=settings.model,
        base_url=redact_value(",".join(settings.base_urls)),
        n_passages=len(chosen),
        n_jobs=len(outcomes),
        jobs_ok=len(outcomes) - len(failed),
        jobs_failed=len(failed),
        failed_file=str(failed_file),
        queries_generated=len(candidates),
        pairs_kept=len(pairs),
        requests=stats.requests,
        retries=stats.retries,
        repairs=repairs,
        cache_hits=stats.cache_hits,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        wall_time_s=round(time.monotonic() - t0, 3),
        rejections=dict(result.rejections),
        random_negatives=fallback,
        jobs_resumed=resumed,
        pairs_per_persona=dict(Counter(p.persona for p in pairs)),
        pairs_per_query_type=dict(Counter(p.query_type for p in pairs)),
        pairs_per_difficulty=dict(Counter(p.difficulty for p in pairs)),
        failure_reasons=dict(Counter(_reason_kind(o.reason) for o in failed)),
        outputs={"pairs": str(pairs_file), "dataset": str(dataset_dir), "failed": str(failed_file), "report": str(out / "report.json"),
                 "rejected": str(rejected_file),
                 "responses": str(out / "responses.jsonl"), "jobs": str(out / "jobs.jsonl")},
        config={k: v for k, v in flatten(cfg_dict).items() if not k.startswith("mlflow.")},
    )
    atomic_write_json(out / "report.json", report.model_dump(mode="json"))
    if failed:
        log.warning("%d job(s) failed after retries; listed in %s", len(failed), failed_file)
    return report


def _reason_kind(reason: str) -> str:
    """'request failed: http_503 after 6 attempt(s)' -> 'http_503'; 'invalid output …' -> 'invalid_output'."""
    if reason.startswith("request failed: "):
        return reason.split()[2]
    return "invalid_output" if reason.startswith("invalid output") else reason.split(":")[0]


def _metrics(report: SynthReport) -> dict[str, Any]:
    m: dict[str, Any] = {
        k: getattr(report, k)
        for k in ("n_passages", "n_jobs", "jobs_ok", "jobs_failed", "queries_generated", "pairs_kept", "requests",
                  "retries", "repairs", "cache_hits", "jobs_resumed", "random_negatives", "prompt_tokens", "completion_tokens", "wall_time_s")
    }  # fmt: skip
    m.update({f"rejected.{k}": v for k, v in report.rejections.items()})
    m.update({f"persona.{k}": v for k, v in report.pairs_per_persona.items()})
    m.update({f"query_type.{k}": v for k, v in report.pairs_per_query_type.items()})
    return m
