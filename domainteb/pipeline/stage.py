"""The ``pipeline`` stage: synth → fine-tune (→ prune + retrain) → eval → profile → report → leaderboard.

With ``corpus=`` it runs the corpus pipeline instead (:mod:`domainteb.pipeline.corpus_flow`).

Everything runs under one MLflow parent run (``pipeline-<domain>``); each step's own stage
opens a nested run. See :mod:`domainteb.pipeline.steps` for how steps are skipped/resumed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from domainteb.core.errors import ConfigError
from domainteb.core.io import atomic_write_json
from domainteb.core.tracking import tracker_from_config
from domainteb.pipeline.steps import Step, StepResult

log = logging.getLogger(__name__)

ADAPT_CHOICES = ("finetune", "gaprune")


def _stage_fn(name: str) -> Any:
    from domainteb.cli import STAGES

    return STAGES.get(name).function()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _list_override(key: str, values: list[str]) -> str:
    return f"{key}=[{','.join(_quote(v) for v in values)}]"


def _copy_llm(parent: DictConfig) -> Any:
    def patch(cfg: DictConfig) -> None:
        cfg.llm = OmegaConf.to_container(parent.llm, resolve=True)
    return patch


def mark_adapted_model(model_dir: Path, *, name: str, base: str, domain: str, method: str, pairs: str | None) -> None:
    """Record the adapted model's display name and labels next to its weights."""
    atomic_write_json(model_dir / "domainteb_model.json", {
        "name": name, "labels": ["adapted", method], "base_model": base, "domain": domain,
        "training_data": pairs or "",
    })


def build_steps(cfg: DictConfig) -> list[str]:
    adapt = str(cfg.adapt_method)
    if adapt not in ADAPT_CHOICES:
        raise ConfigError(f"adapt={adapt!r} is not a pipeline option; use adapt=finetune or adapt=gaprune")
    return ["synth", "training-data", "finetune", *(["gaprune"] if adapt == "gaprune" else []), "eval", "profile", "report", "leaderboard"]


def run(cfg: DictConfig) -> int:
    if cfg.get("corpus"):
        from domainteb.pipeline import corpus_flow

        return corpus_flow.run(cfg)
    domain = str(cfg.domain)
    adapted_name = str(cfg.get("adapted_name") or f"{cfg.base}-{domain}-{cfg.adapt_method}")
    report_dir = str(cfg.get("report_dir") or Path(str(cfg.output_dir)) / "report" / domain)
    names = build_steps(cfg)
    work_dir = Path(str(cfg.work_dir))
    results_dir = str(cfg.output_dir)
    tracker = tracker_from_config(cfg)
    done: dict[str, StepResult] = {}
    from rich.console import Console

    console = Console()
    with tracker.run(f"pipeline-{domain}", tags={"stage": "pipeline", "domain": domain, "base": cfg.base,
                                                 "method": cfg.adapt_method}):
        tracker.log_params({"pipeline": OmegaConf.to_container(cfg, resolve=True)})
        synth = Step(
            "synth", "synth", [f"domain={domain}", *cfg.synth_overrides], _stage_fn("synth"),
            outputs=lambda out, c: {"pairs": str(out / "pairs.jsonl")}, patch=_copy_llm(cfg),
        )
        done["synth"] = _execute(synth, work_dir, cfg, console)
        from domainteb.pipeline import training_data

        mix = Step(
            "training-data", "", [], training_data.run,
            outputs=lambda out, c: {"pairs": str(out / "pairs.jsonl")},
            inputs={"synth": done["synth"].key},
            config={"synth_pairs": done["synth"].outputs["pairs"], "domain": domain,
                    "real_pairs": int(cfg.real_pairs), "seed": int(cfg.seed)},
        )
        done["training-data"] = _execute(mix, work_dir, cfg, console)
        pairs = done["training-data"].outputs["pairs"]
        finetune = Step(
            "finetune", "adapt",
            ["adapt=finetune", f"base={_quote(str(cfg.base))}", f"domain={domain}", f"data={_quote(pairs)}",
             *cfg.finetune_overrides],
            _stage_fn("adapt"), outputs=lambda out, c: {"model": str(out / "model")},
            inputs={"data": done["training-data"].key},
        )
        done["finetune"] = _execute(finetune, work_dir, cfg, console)
        model_step = done["finetune"]
        if "gaprune" in names:
            prune = Step(
                "gaprune", "adapt",
                ["adapt=gaprune", f"base={_quote(done['finetune'].outputs['model'])}", f"domain={domain}",
                 f"data={_quote(pairs)}", *cfg.gaprune_overrides],
                _stage_fn("adapt"), outputs=lambda out, c: {"model": str(out / "model")},
                inputs={"finetune": done["finetune"].key},
            )
            done["gaprune"] = model_step = _execute(prune, work_dir, cfg, console)
        adapted_dir = Path(model_step.outputs["model"])
        mark_adapted_model(adapted_dir, name=adapted_name, base=str(cfg.base), domain=domain,
                           method=str(cfg.adapt_method), pairs=pairs)
        models = [str(adapted_dir), *[str(b) for b in cfg.baselines]]
        evaluation = Step(
            "eval", "eval",
            [f"domain={domain}", f"size={cfg.size}", _list_override("model", models),
             f"output_dir={_quote(results_dir)}", *cfg.eval_overrides],
            _stage_fn("eval"), outputs=lambda out, c: {"results_dir": results_dir},
            inputs={"model": model_step.key}, own_output_dir=False,
        )
        done["eval"] = _execute(evaluation, work_dir, cfg, console)
        profile = Step(
            "profile", "profile",
            [f"domain={domain}", f"size={cfg.size}", f"output_dir={_quote(results_dir)}"],
            _stage_fn("profile"), outputs=lambda out, c: {"profile": str(Path(results_dir) / "profiles" / f"{domain}.json")},
            own_output_dir=False,
        )
        done["profile"] = _execute(profile, work_dir, cfg, console)
        report_and_leaderboard(done, work_dir, cfg, console, results_dir=results_dir, adapted_name=adapted_name,
                               baselines=[str(b) for b in cfg.baselines], domain=domain, report_dir=report_dir)
        tracker.log_metrics({f"step_seconds.{k}": v.seconds for k, v in done.items()})
    print_outputs(console, done, tracker, adapted_dir=adapted_dir, report_dir=report_dir)
    return 0


def report_and_leaderboard(done: dict[str, StepResult], work_dir: Path, cfg: DictConfig, console: Any, *,
                           results_dir: str, adapted_name: str, baselines: list[str], domain: str | None,
                           report_dir: str) -> None:
    """The pipeline's last two steps, after `eval`: the report of the adapted model against the baselines,
    then the leaderboard over every result under results_dir."""
    report = Step(
        "report", "report",
        [f"results_dir={_quote(results_dir)}", f"adapted={_quote(adapted_name)}", _list_override("baselines", baselines),
         *([f"domain={domain}"] if domain else []), f"output_dir={_quote(report_dir)}", *cfg.report_overrides],
        _stage_fn("report"), outputs=lambda out, c: {"report_dir": report_dir},
        inputs={"eval": done["eval"].key}, own_output_dir=False,
    )
    done["report"] = _execute(report, work_dir, cfg, console)
    site = Step(
        "leaderboard", "leaderboard",
        [f"results_dir={_quote(results_dir)}", f"output_dir={_quote(str(cfg.site_dir))}"],
        _stage_fn("leaderboard"), outputs=lambda out, c: {"site": str(Path(str(cfg.site_dir)) / "index.html")},
        inputs={"eval": done["eval"].key}, own_output_dir=False,
    )
    done["leaderboard"] = _execute(site, work_dir, cfg, console)


def print_outputs(console: Any, done: dict[str, StepResult], tracker: Any, *, adapted_dir: Path, report_dir: str) -> None:
    console.print(f"[bold]adapted model[/bold]: {adapted_dir}")
    console.print(f"[bold]report[/bold]: {Path(report_dir).resolve() / 'report.md'}")
    console.print(f"[bold]leaderboard[/bold]: {Path(done['leaderboard'].outputs['site']).resolve()}")
    console.print(f"[bold]MLflow store[/bold]: {tracker.tracking_uri}  (open it with 'domainteb ui')")


def _execute(step: Step, work_dir: Path, cfg: DictConfig, console: Any) -> StepResult:
    console.rule(f"[bold]{step.name}")
    result = step.execute(work_dir, cfg)
    if result.skipped:
        console.print(f"[green]✓[/green] {step.name}: up to date, skipped ({result.out_dir})")
    else:
        console.print(f"[green]✓[/green] {step.name}: done in {result.seconds:.1f}s ({result.out_dir})")
    return result
