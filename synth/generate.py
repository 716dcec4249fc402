"""The job runner: one LLM job per passage×persona, run concurrently, resumable.

Each finished job (ok or failed) is appended to ``jobs.jsonl`` (fsync'd); a rerun skips
finished jobs, so a complete rerun makes no API call, and an interrupted one continues
where it stopped (the response cache covers calls made inside an unfinished job, such as
repair turns). Failed jobs are retried only with ``retry_failed`` (with a new sampling
round, so a deterministic invalid answer is not simply repeated).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domainteb.core.io import stable_hash
from domainteb.synth.cache import AppendLog
from domainteb.synth.client import LLMClient, RequestFailed
from domainteb.synth.parse import ParseError, parse_queries
from domainteb.synth.passages import Passage
from domainteb.synth.personas import JobPlan
from domainteb.synth.prompts import PROMPT_VERSION, build_messages, output_schema, prompt_hash, repair_messages
from domainteb.synth.records import JobOutcome

log = logging.getLogger(__name__)


@dataclass
class Job:
    job_id: str
    passage: Passage
    plan: JobPlan
    base_seed: int

    def seed(self, round_: int) -> int:
        return (self.base_seed + round_) % (2**31 - 1)


def make_jobs(
    passages: list[Passage],
    plans: dict[str, list[JobPlan]],
    *,
    domain: str,
    seed: int,
    llm_identity: dict[str, Any],
) -> list[Job]:
    """Jobs with ids that change whenever anything that shapes the answer changes."""
    jobs = []
    for p in passages:
        for plan in plans[p.id]:
            job_id = stable_hash(
                {
                    "v": PROMPT_VERSION,
                    "domain": domain,
                    "passage_id": p.id,
                    "passage": p.text,
                    "persona": plan.persona.model_dump(),
                    "specs": [(s.query_type, s.difficulty) for s in plan.specs],
                    "seed": seed,
                    "llm": llm_identity,
                }
            )[:24]
            jobs.append(Job(job_id, p, plan, int(stable_hash([seed, job_id])[:8], 16)))
    return jobs


def load_outcomes(log_: AppendLog) -> dict[str, JobOutcome]:
    """Latest outcome per job id from ``jobs.jsonl``."""
    out: dict[str, JobOutcome] = {}
    for rec in log_.records:
        try:
            o = JobOutcome.model_validate(rec)
        except Exception:  # noqa: BLE001 - foreign lines are ignored
            continue
        out[o.job_id] = o
    return out


async def _run_job(job: Job, round_: int, client: LLMClient, domain: str, max_repairs: int, few_shot: bool) -> JobOutcome:
    n = len(job.plan.specs)
    messages = build_messages(job.passage.text, job.plan.persona, job.plan.specs, domain, few_shot=few_shot)
    base = {
        "job_id": job.job_id,
        "passage_id": job.passage.id,
        "persona": job.plan.persona.name,
        "round": round_,
        "prompt_hash": prompt_hash(messages),
        "llm_model": client.settings.model,
        "query_types": [s.query_type for s in job.plan.specs],
        "difficulties": [s.difficulty for s in job.plan.specs],
    }
    schema = output_schema(n)
    attempts = 0
    last_error = ""
    for repair in range(max_repairs + 1):
        try:
            resp, _ = await client.chat(messages, job.seed(round_), schema)
        except RequestFailed as exc:
            return JobOutcome(status="failed", reason=f"request failed: {exc.reason}", attempts=attempts + exc.attempts, repairs=repair, **base)
        attempts += 1
        try:
            queries = parse_queries(resp.content, n)
        except ParseError as exc:
            last_error = str(exc)
            if resp.finish_reason == "length":
                last_error += "; the answer was cut off: write shorter queries"
            messages = repair_messages(messages, resp.content, last_error, n)
            continue
        return JobOutcome(status="ok", queries=queries, attempts=attempts, repairs=repair, **base)
    return JobOutcome(status="failed", reason=f"invalid output after {max_repairs} repair(s): {last_error}", attempts=attempts, repairs=max_repairs, **base)


@dataclass
class RunSummary:
    outcomes: dict[str, JobOutcome]
    skipped_done: int
    skipped_failed: int
    ran: int
    repairs: int


async def run_jobs(
    jobs: list[Job],
    client: LLMClient,
    jobs_log: AppendLog,
    *,
    domain: str,
    concurrency: int = 4,
    max_repairs: int = 2,
    retry_failed: bool = False,
    few_shot: bool = True,
    on_done: Callable[[JobOutcome], None] | None = None,
) -> RunSummary:
    """Run the jobs not yet done; returns the outcome of every job (old and new)."""
    previous = load_outcomes(jobs_log)
    outcomes: dict[str, JobOutcome] = {}
    todo: list[tuple[Job, int]] = []
    skipped_done = skipped_failed = 0
    for job in jobs:
        prev = previous.get(job.job_id)
        if prev is not None and prev.status == "ok":
            outcomes[job.job_id] = prev
            skipped_done += 1
        elif prev is not None and not retry_failed:
            outcomes[job.job_id] = prev
            skipped_failed += 1
        else:
            todo.append((job, prev.round + 1 if prev is not None else 0))
    sem = asyncio.Semaphore(max(1, concurrency))
    repairs = 0

    async def one(job: Job, round_: int) -> None:
        nonlocal repairs
        async with sem:
            outcome = await _run_job(job, round_, client, domain, max_repairs, few_shot)
        jobs_log.append(outcome.model_dump(mode="json"))
        outcomes[job.job_id] = outcome
        repairs += outcome.repairs
        if on_done is not None:
            on_done(outcome)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"synth {domain}", unit="job", disable=not sys.stderr.isatty())
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks = [asyncio.create_task(one(job, r)) for job, r in todo]
        for fut in asyncio.as_completed(tasks):
            await fut
            bar.update(1)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        bar.close()
    return RunSummary(outcomes, skipped_done, skipped_failed, len(todo), repairs)
