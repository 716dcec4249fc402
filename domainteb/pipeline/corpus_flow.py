"""The corpus pipeline: the user's documents in, an adapted model and its report out.

``domainteb pipeline corpus=<path> eval_task=<BEIR folder | task | suite> base=<model> domain=<d>``
runs, each step content-addressed and resumable (see :mod:`domainteb.pipeline.steps`):

corpus (load, drop eval queries, chunk, subsample) → queries (ict | crop | llm) → adapt
(gpl | qgen | finetune) → eval (adapted, base and baselines on ``eval_task``) → report → leaderboard.

The evaluation task's own queries never reach training: documents carrying a query id or
text are dropped in the corpus step and generated queries equal to (or containing) one are
dropped in the queries step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from domainteb.core.errors import ConfigError
from domainteb.core.paths import slug
from domainteb.core.tracking import tracker_from_config
from domainteb.corpus.loaders import corpus_fingerprint
from domainteb.pipeline import adaptation
from domainteb.pipeline.steps import Step, StepResult

DOMAINS = ("finance", "chemistry", "medical")
SUITES = (*DOMAINS, "general")
GENERATORS = ("ict", "crop", "llm")
PROFILES = ("cpu", "gpu")
INHERITED = ("mlflow", "seed", "device", "verbose")


def _profile_value(cfg: DictConfig, key: str) -> Any:
    """``auto`` → the compute profile's value for ``key``."""
    value = cfg.get(key)
    return cfg.profiles[str(cfg.profile)].get(key) if value == "auto" else value


def validate(cfg: DictConfig) -> None:
    if str(cfg.domain) not in DOMAINS:
        raise ConfigError(f"domain={cfg.domain!r}: use one of {', '.join(DOMAINS)} (it picks the persona set)")
    if str(cfg.profile) not in PROFILES or str(cfg.profile) not in cfg.profiles:
        raise ConfigError(f"profile={cfg.profile!r}: use profile=cpu or profile=gpu")
    if str(cfg.generator) not in GENERATORS:
        raise ConfigError(f"generator={cfg.generator!r}: use ict, crop (no LLM) or llm (the persona synth)")
    if not Path(str(cfg.corpus)).expanduser().exists():
        raise ConfigError(f"corpus={cfg.corpus}: no such file or folder; give a .jsonl file, a folder of .txt/.md/.jsonl files or a BEIR folder")
    task = cfg.get("eval_task")
    if task and ("/" in str(task) or str(task).startswith(".")) and not Path(str(task)).expanduser().exists():
        raise ConfigError(f"eval_task={task}: no such folder; give a BEIR folder, a task name or a domain suite ({', '.join(SUITES)})")
    for key in ("n_passages", "queries_per_passage"):
        value = _profile_value(cfg, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"{key}={value!r} must be a positive integer, null (all) or auto (the profile's value)")


def adapted_name(cfg: DictConfig, recipe: str) -> str:
    if cfg.get("adapted_name"):
        return str(cfg.adapted_name)
    corpus = Path(str(cfg.corpus)).expanduser()
    return f"{slug(Path(str(cfg.base)).name)}-{slug(corpus.stem if corpus.is_file() else corpus.name, 'corpus')}-{recipe}"


def _eval_target(cfg: DictConfig) -> tuple[list[str], str | None]:
    """Eval overrides that select the evaluation task, and the report's domain filter."""
    from domainteb.pipeline.stage import _quote

    task = cfg.get("eval_task") or str(cfg.domain)
    if str(task) in SUITES:
        return [f"domain={task}", f"size={cfg.size}"], str(task)
    path = Path(str(task)).expanduser()
    return [f"task={_quote(str(path.resolve()) if path.exists() else str(task))}"], None


def run(cfg: DictConfig) -> int:
    from rich.console import Console

    from domainteb.pipeline.stage import (
        _execute, _list_override, _quote, _stage_fn, mark_adapted_model, print_outputs, report_and_leaderboard,
    )

    validate(cfg)
    console = Console()
    work_dir = Path(str(cfg.work_dir))
    results_dir = str(cfg.output_dir)
    recipe = adaptation.effective_recipe(str(cfg.recipe))
    name = adapted_name(cfg, recipe)
    report_dir = str(cfg.get("report_dir") or Path(results_dir) / "report" / name)
    inherit = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
               for k in INHERITED if k in cfg}
    eval_task = str(cfg.eval_task) if cfg.get("eval_task") else None
    eval_key = corpus_fingerprint(eval_task, ("queries.jsonl",)) if eval_task and Path(eval_task).expanduser().is_dir() else ""
    done: dict[str, StepResult] = {}
    tracker = tracker_from_config(cfg)
    with tracker.run(f"pipeline-{cfg.domain}", tags={"stage": "pipeline", "domain": str(cfg.domain), "base": str(cfg.base),
                                                     "method": recipe, "corpus": name}):
        tracker.log_params({"pipeline": OmegaConf.to_container(cfg, resolve=True)})
        corpus = Step(
            "corpus", "", [], _corpus_runner, outputs=lambda out, c: {"chunks": str(out / "corpus" / "chunks.jsonl")},
            inputs={"corpus": corpus_fingerprint(str(cfg.corpus)), "eval_queries": eval_key},
            config={"corpus": str(Path(str(cfg.corpus)).expanduser().resolve()), "base": str(cfg.base),
                    "chunk_tokens": cfg.chunk_tokens, "chunk_overlap": int(cfg.chunk_overlap), "keep_title": bool(cfg.keep_title),
                    "n_passages": _profile_value(cfg, "n_passages"), "seed": int(cfg.seed), "eval_task": eval_task},
        )
        done["corpus"] = _execute(corpus, work_dir, cfg, console)
        chunks = done["corpus"].outputs["chunks"]
        generator = str(cfg.generator)
        qcfg: dict[str, Any] = {"generator": generator, "chunks": chunks, "seed": int(cfg.seed), "domain": str(cfg.domain),
                                "queries_per_passage": int(_profile_value(cfg, "queries_per_passage")), "eval_task": eval_task}
        if generator == "llm":
            qcfg.update(llm=OmegaConf.to_container(cfg.llm, resolve=True), synth_overrides=list(cfg.synth_overrides), inherit=inherit)
        from domainteb.synth.pseudo_queries import queries_file

        queries = Step("queries", "", [], _queries_runner, outputs=lambda out, c: {"queries": str(queries_file(out, generator))},
                       inputs={"corpus": done["corpus"].key, "eval_queries": eval_key}, config=qcfg)
        done["queries"] = _execute(queries, work_dir, cfg, console)
        acfg: dict[str, Any] = {"recipe": recipe, "base": str(cfg.base), "domain": str(cfg.domain), "profile": str(cfg.profile),
                                "name": name,
                                "chunks": chunks, "queries": done["queries"].outputs["queries"],
                                "finetune_overrides": list(cfg.corpus_finetune_overrides), "inherit": inherit}
        if recipe in ("gpl", "qgen"):
            overrides = adaptation.parse_overrides([str(x) for x in cfg.gpl_overrides], "gpl_overrides")
            acfg["gpl_overrides"] = overrides
            acfg["gpl_config"] = adaptation.config_record(adaptation.gpl_config(str(cfg.profile), str(cfg.base), recipe, overrides))
        adapt = Step("adapt", "", [], adaptation.run, outputs=lambda out, c: _adapted_outputs(out),
                     inputs={"queries": done["queries"].key}, config=acfg)
        done["adapt"] = _execute(adapt, work_dir, cfg, console)
        adapted_dir = Path(done["adapt"].outputs["model"])
        mark_adapted_model(adapted_dir, name=name, base=str(cfg.base), domain=str(cfg.domain), method=recipe,
                           pairs=done["queries"].outputs["queries"])
        target, report_domain = _eval_target(cfg)
        models = list(dict.fromkeys([str(adapted_dir), str(cfg.base), *[str(b) for b in cfg.baselines]]))
        evaluation = Step(
            "eval", "eval", [*target, _list_override("model", models), f"output_dir={_quote(results_dir)}", *cfg.eval_overrides],
            _stage_fn("eval"), outputs=lambda out, c: {"results_dir": results_dir},
            inputs={"model": done["adapt"].key, "eval_task": eval_key}, own_output_dir=False,
        )
        done["eval"] = _execute(evaluation, work_dir, cfg, console)
        baselines = [m for m in dict.fromkeys([str(cfg.base), *[str(b) for b in cfg.baselines]])]
        report_and_leaderboard(done, work_dir, cfg, console, results_dir=results_dir, adapted_name=name,
                               baselines=baselines, domain=report_domain, report_dir=report_dir)
        tracker.log_metrics({f"step_seconds.{k}": v.seconds for k, v in done.items()})
    print_outputs(console, done, tracker, adapted_dir=adapted_dir, report_dir=report_dir)
    return 0


def _corpus_runner(cfg: DictConfig) -> int:
    from domainteb.corpus.stage import run as corpus_run

    return corpus_run(cfg)


def _queries_runner(cfg: DictConfig) -> int:
    from domainteb.pipeline.queries import run as queries_run

    return queries_run(cfg)


def _adapted_outputs(out: Path) -> dict[str, Any]:
    from domainteb.core.io import read_json

    return dict(read_json(out / adaptation.RECORD))
