"""Personas (who asks), query types and difficulty levels, and their seeded sampling per job.

Personas are data: ``conf/synth/personas/<domain>.yaml`` (or any YAML file a user points
``personas=`` at) holds a list of ``{name, role, expertise, goal, query_style}``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from domainteb.core.errors import ConfigError

#: what each query type asks the LLM for.
QUERY_TYPES: dict[str, str] = {
    "keyword": "a terse keyword-style search query of 2 to 6 words, no full sentence",
    "question": "a natural-language question of 6 to 20 words",
    "long_form": "a longer description of an information need in 1 or 2 sentences (20 to 45 words)",
}

#: what each difficulty level asks the LLM for.
DIFFICULTIES: dict[str, str] = {
    "easy": "may reuse the passage's main terms",
    "medium": "uses its own words; paraphrase instead of copying terms from the passage",
    "hard": "needs domain knowledge to connect it to the passage; avoid the passage's wording and name the underlying concept instead",
}


class Persona(BaseModel):
    """One persona, as written in the YAML file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    role: str
    expertise: str
    goal: str
    query_style: str


class PersonaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str
    personas: list[Persona]


def default_personas_path(domain: str) -> Path:
    return Path(__file__).resolve().parent.parent / "conf" / "synth" / "personas" / f"{domain}.yaml"


def _conf_personas_path(domain: str) -> Path:
    """The personas file of the installed ``domainteb.conf`` package (falls back to the repo path)."""
    from domainteb.core.io import find_package_dir

    conf = find_package_dir("domainteb.conf")
    if conf is not None:
        cand = conf / "synth" / "personas" / f"{domain}.yaml"
        if cand.is_file():
            return cand
    return default_personas_path(domain)


def load_personas(domain: str, path: str | Path | None = None) -> list[Persona]:
    """Personas for ``domain`` from ``path`` (default: the bundled file); errors name the file and field."""
    p = Path(path).expanduser() if path else _conf_personas_path(domain)
    if not p.is_file():
        raise ConfigError(f"personas file {p} not found; pass personas=<file.yaml> or use a domain with bundled personas")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        parsed = PersonaFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{p}: field {loc!r}: {err['msg']}; each persona needs name, role, expertise, goal, query_style") from None
    if not parsed.personas:
        raise ConfigError(f"{p}: 'personas' is empty; list at least one persona")
    names = [x.name for x in parsed.personas]
    if len(set(names)) != len(names):
        raise ConfigError(f"{p}: persona names must be unique; duplicated: {sorted({n for n in names if names.count(n) > 1})}")
    return parsed.personas


@dataclass(frozen=True)
class QuerySpec:
    query_type: str
    difficulty: str


@dataclass(frozen=True)
class JobPlan:
    """What one LLM call should produce for one passage: a persona and one spec per query."""

    persona: Persona
    specs: tuple[QuerySpec, ...]


def plan_jobs(
    passage_ids: list[str],
    personas: list[Persona],
    *,
    seed: int,
    queries_per_passage: int,
    personas_per_passage: int = 1,
    query_types: list[str] | None = None,
    difficulties: list[str] | None = None,
) -> dict[str, list[JobPlan]]:
    """Sample personas (without replacement per passage), query types and difficulties.

    The sampling depends only on ``seed`` and each passage id, so adding passages never
    changes the plan of the others (keeps the response cache valid).
    """
    qtypes = list(query_types or QUERY_TYPES)
    diffs = list(difficulties or DIFFICULTIES)
    for q in qtypes:
        if q not in QUERY_TYPES:
            raise ConfigError(f"query_types: unknown type {q!r}; known: {', '.join(QUERY_TYPES)}")
    for d in diffs:
        if d not in DIFFICULTIES:
            raise ConfigError(f"difficulties: unknown level {d!r}; known: {', '.join(DIFFICULTIES)}")
    k = min(personas_per_passage, len(personas))
    plans: dict[str, list[JobPlan]] = {}
    for pid in passage_ids:
        rng = random.Random(f"{seed}:{pid}")
        chosen = rng.sample(personas, k)
        plans[pid] = [
            JobPlan(
                persona=persona,
                specs=tuple(QuerySpec(rng.choice(qtypes), rng.choice(diffs)) for _ in range(queries_per_passage)),
            )
            for persona in chosen
        ]
    return plans
