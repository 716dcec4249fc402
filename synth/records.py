"""Records that the synth stage writes to disk (pairs, cached responses, failures, report)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

QueryType = Literal["keyword", "question", "long_form"]
Difficulty = Literal["easy", "medium", "hard"]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION


class SynthPair(_Record):
    """One synthetic training pair: a generated query and the passage it was written for."""

    query: str
    positive_id: str
    positive: str
    negatives: list[str] = Field(default_factory=list)
    negative_ids: list[str] = Field(default_factory=list)
    persona: str
    query_type: QueryType
    difficulty: Difficulty
    domain: str
    llm_model: str
    prompt_hash: str
    job_id: str
    created_at: str = Field(default_factory=utc_now)


class CachedResponse(_Record):
    """One LLM response, keyed by the hash of (messages, model, sampling params, seed)."""

    key: str
    model: str
    content: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: str = Field(default_factory=utc_now)


class FailedJob(_Record):
    """A passage×persona job that still failed after retries (kept until it succeeds)."""

    job_id: str
    passage_id: str
    persona: str
    reason: str
    attempts: int
    created_at: str = Field(default_factory=utc_now)


class SynthReport(_Record):
    """What a synth run did: counts, tokens, filters, where the outputs are."""

    domain: str
    llm_model: str
    base_url: str
    n_passages: int
    n_jobs: int
    jobs_ok: int
    jobs_failed: int
    failed_file: str
    queries_generated: int
    pairs_kept: int
    requests: int
    retries: int
    repairs: int
    cache_hits: int
    jobs_resumed: int
    prompt_tokens: int
    completion_tokens: int
    wall_time_s: float
    rejections: dict[str, int]
    random_negatives: int
    pairs_per_persona: dict[str, int]
    pairs_per_query_type: dict[str, int]
    pairs_per_difficulty: dict[str, int]
    failure_reasons: dict[str, int]
    outputs: dict[str, str]
    config: dict[str, Any]
    created_at: str = Field(default_factory=utc_now)


class JobOutcome(_Record):
    """The result of one passage×persona job (``jobs.jsonl``; the latest record per job wins)."""

    job_id: str
    passage_id: str
    persona: str
    status: Literal["ok", "failed"]
    round: int = 0
    queries: list[str] = Field(default_factory=list)
    query_types: list[str] = Field(default_factory=list)
    difficulties: list[str] = Field(default_factory=list)
    prompt_hash: str = ""
    llm_model: str = ""
    reason: str = ""
    attempts: int = 0
    repairs: int = 0
    created_at: str = Field(default_factory=utc_now)


class GeneratedQuery(BaseModel):
    """One generated query for a corpus chunk (``<run_dir>/queries/<generator>.jsonl``).

    ``generator`` is ``"ict"``, ``"crop"`` or ``"llm:<model>"``; ``pid`` the chunk ``_id`` it
    was generated from. ``positive_text`` is set when the positive is not the whole chunk
    (inverse cloze: the chunk's text with the query sentence removed).
    """

    model_config = ConfigDict(extra="forbid")
    qid: str
    query: str
    pid: str
    generator: str
    positive_text: str | None = None
