"""The adaptation step of the corpus pipeline: chunks + generated queries → an adapted model.

``recipe=gpl`` (MarginMSE on cross-encoder margins) or ``recipe=qgen`` (MNRL on the same
pairs) call :func:`domainteb.adapt.gpl.run`. ``recipe=finetune`` (also the fallback while
:mod:`domainteb.adapt.gpl` is not installed) fine-tunes with the adapt stage on
(query, positive) pairs built from the generated queries. Writes ``adaptation.json`` with the
model folder last.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.io import atomic_write_json, atomic_write_jsonl
from domainteb.corpus.store import read_chunks
from domainteb.synth.pseudo_queries import read_queries

log = logging.getLogger(__name__)

RECIPES = ("gpl", "qgen", "finetune")
RECORD = "adaptation.json"


def gpl_available() -> bool:
    try:
        return importlib.util.find_spec("domainteb.adapt.gpl") is not None
    except (ImportError, ValueError):
        return False


def effective_recipe(recipe: str) -> str:
    if recipe not in RECIPES:
        raise ConfigError(f"recipe={recipe!r}: use one of {', '.join(RECIPES)}")
    if recipe in ("gpl", "qgen") and not gpl_available():
        log.warning("domainteb.adapt.gpl is not installed; recipe=%s falls back to recipe=finetune", recipe)
        return "finetune"
    return recipe


def gpl_config(profile: str, base: str, recipe: str, overrides: dict[str, Any]) -> Any:
    from domainteb.adapt.gpl import load_gpl_config

    return load_gpl_config(profile=profile, overrides={"base": base, "method": recipe, **overrides})


def parse_overrides(items: list[str], key: str) -> dict[str, Any]:
    """``["train.max_steps=200", "mining.miners=[bm25]"]`` → ``{"train.max_steps": 200, "mining.miners": ["bm25"]}``."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{key}: {item!r} is not key=value; write e.g. {key}=['train.max_steps=200']")
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{key}: cannot read the value of {item!r}; quote it or fix its syntax") from None
    return out


def config_record(obj: Any) -> Any:
    """A JSON-able view of a config object (for the step's content hash)."""
    if OmegaConf.is_config(obj):
        return OmegaConf.to_container(obj, resolve=True)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj if isinstance(obj, (dict, list, str, int, float, bool, type(None))) else repr(obj)


def pseudo_pairs(chunks_path: str, queries_path: str) -> list[dict[str, str]]:
    """(query, positive) records: the positive is the chunk (title + text) or the ICT remainder."""
    chunks = {c.id: c for c in read_chunks(chunks_path)}
    out = []
    for q in read_queries(queries_path):
        chunk = chunks.get(q.pid)
        if chunk is None:
            raise DomainTebError(f"{queries_path}: query {q.qid!r} points at chunk {q.pid!r}, which is not in {chunks_path}; rerun the queries step")
        text = q.positive_text if q.positive_text else chunk.text
        out.append({"query": q.query, "positive": f"{chunk.title} {text}".strip() if chunk.title else text,
                    "positive_id": q.pid, "source": q.generator})
    return out


def run(cfg: Any) -> int:
    out = Path(str(cfg.output_dir))
    recipe = str(cfg.recipe)
    if recipe in ("gpl", "qgen"):
        from domainteb.adapt.gpl import run as gpl_run

        gcfg = gpl_config(str(cfg.profile), str(cfg.base), recipe, dict(cfg.get("gpl_overrides") or {}))
        result = gpl_run(gcfg, out / "gpl", chunks_path=str(cfg.chunks), queries_path=str(cfg.queries),
                         name=cfg.get("name"), domain=str(cfg.domain))
        model_dir = Path(result.model_dir)
    else:
        pairs = pseudo_pairs(str(cfg.chunks), str(cfg.queries))
        if len(pairs) < 2:
            raise DomainTebError(f"only {len(pairs)} training pair(s) in {cfg.queries}; use more passages or queries_per_passage")
        pairs_file = out / "pairs.jsonl"
        atomic_write_jsonl(pairs_file, pairs)
        from domainteb.cli import STAGES
        from domainteb.pipeline.steps import compose_stage

        quoted = lambda v: "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"  # noqa: E731
        adapt_cfg = compose_stage("adapt", ["adapt=finetune", f"base={quoted(cfg.base)}", f"domain={cfg.domain}",
                                            f"data={quoted(pairs_file)}", f"output_dir={quoted(out / 'finetune')}",
                                            *cfg.get("finetune_overrides", [])],
                                  inherit=OmegaConf.create(dict(cfg.get("inherit") or {})))
        status = STAGES.get("adapt").function()(adapt_cfg)
        if status:
            raise DomainTebError(f"fine-tuning finished with status {status}; fix the errors above and rerun")
        model_dir = out / "finetune" / "model"
    atomic_write_json(out / RECORD, {"recipe": recipe, "model": str(model_dir)})
    return 0
