"""The ``domainteb`` console script: one Hydra app per stage.

``domainteb <stage> [key=value ...] [-m]`` composes ``conf/<stage>.yaml`` with the
overrides and calls the stage's ``run(cfg)``.

Exit status: 0 success; 2 bad input (an unknown or malformed override, a bad config value,
a broken task folder or model: :class:`DomainTebError`), printed as ONE line naming the file
or field and the fix, before any model loads where possible; 1 when some items failed (the
others finished and were written) or on an unexpected internal error (one line; the traceback
with ``verbose=true``); 130 when interrupted. With ``-m``, the worst job's status.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.core.registry import Registry


@dataclass(frozen=True)
class Stage:
    name: str
    config: str
    target: str  # "module:function"
    help: str
    #: rewrites of CLI overrides, e.g. adapt's ``method=gaprune`` → the group choice ``adapt=gaprune``.
    aliases: dict[str, str] = field(default_factory=dict)

    def function(self) -> Callable[..., int | None]:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(module), func)


STAGES: Registry[Stage] = Registry("stage")
for _stage in (
    Stage("eval", "eval", "domainteb.eval.runner:run", "evaluate models on a domain suite, benchmark or task folder"),
    Stage("tasks", "tasks", "domainteb.eval.task_listing:run", "list tasks with type, sizes, source, licence, availability"),
    Stage("profile", "profile", "domainteb.domains.profile:run", "domain-complexity profile of a domain's tasks"),
    Stage("synth", "synth", "domainteb.synth.stage:run", "generate persona-based synthetic training pairs with an LLM"),
    Stage("adapt", "adapt", "domainteb.adapt.stage:run", "fine-tune (method=finetune) or prune (method=gaprune) a model",
          aliases={"method": "adapt"}),
    Stage("pipeline", "pipeline", "domainteb.pipeline.stage:run",
          "synth → adapt → eval → profile → report → leaderboard, resumable", aliases={"adapt": "adapt_method"}),
    Stage("report", "report", "domainteb.eval.report.stage:run", "adapted-vs-generalist report with bootstrap CIs"),
    Stage("leaderboard", "leaderboard", "domainteb.eval.leaderboard.stage:run", "build the static leaderboard site"),
    Stage("ui", "ui", "domainteb.eval.report.ui:run", "open the MLflow dashboard on the project's store"),
    Stage("llm", "llm_serve", "domainteb.synth.llm_server:serve", "'llm serve': run the local OpenAI-compatible LLM server"),
):
    STAGES.register(_stage.name, _stage)

USAGE = """usage: domainteb <stage> [key=value ...] [-m] [--help] [--cfg job]

Does a domain-adapted text-embedding model beat the generalists, and by how much?

stages:
{stages}

examples:
  domainteb eval domain=finance model=[bm25,minilm-l6,bge-small]
  domainteb eval task=path/to/beir-folder model=minilm-l6
  domainteb tasks domain=medical format=json
  domainteb synth domain=chemistry llm=local
  domainteb adapt method=finetune base=minilm-l6 domain=finance
  domainteb adapt method=gaprune base=minilm-l6 domain=finance sparsity=0.5 retrain_steps=100
  domainteb pipeline domain=finance llm=local base=minilm-l6
  domainteb leaderboard results_dir=results output_dir=site

'domainteb <stage> --help' shows a stage's config and every key you can override.
"""


def usage() -> str:
    lines = [f"  {s.name:<12} {s.help}" for _, s in STAGES.items()]
    return USAGE.format(stages="\n".join(lines))


def _rewrite(args: Sequence[str], aliases: dict[str, str]) -> list[str]:
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        out.append(f"{aliases[key]}={value}" if sep and key in aliases else arg)
    return out


NOISY_LOGGERS = ("sentence_transformers", "transformers", "datasets", "mlflow", "httpx", "httpx2", "urllib3",
                 "alembic", "bm25s", "huggingface_hub", "filelock", "openai", "matplotlib")


def _quiet_environment() -> None:
    """Defaults that keep third-party libraries quiet unless ``verbose=true``."""
    import os

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _configure_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.getLogger("domainteb").setLevel(level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def run_stage(stage: Stage, args: Sequence[str]) -> int:
    """Run one stage as a Hydra app; returns the process exit status."""
    import hydra
    from omegaconf import DictConfig

    from domainteb.core.config_checks import check_config
    from domainteb.core.overrides import check_overrides, split_args

    statuses: list[int] = []

    def job(cfg: DictConfig) -> None:
        verbose = bool(cfg.get("verbose", False))
        _configure_logging(verbose)
        try:
            check_config(cfg)
            status = stage.function()(cfg)
        except DomainTebError as exc:
            print(f"error: {exc}", file=sys.stderr)
            statuses.append(2)
            return
        except KeyboardInterrupt:
            print("interrupted; finished outputs are kept and a rerun resumes", file=sys.stderr)
            statuses.append(130)
            return
        except Exception as exc:  # a bug, not the user's input: one line, the traceback on request
            if verbose:
                import traceback

                traceback.print_exc()
            message = " ".join(str(exc).split())[:300]
            print(f"error: internal error in 'domainteb {stage.name}' ({type(exc).__name__}: {message}); "
                  f"finished outputs are kept; rerun with verbose=true for the traceback and report it",
                  file=sys.stderr)
            statuses.append(1)
            return
        statuses.append(int(status or 0))

    overrides = _rewrite(args, stage.aliases)
    if not any(a in {"--help", "-h", "--hydra-help", "--shell-completion", "-sc"} for a in overrides):
        try:
            check_overrides(stage.name, stage.config, overrides, multirun=any(a in {"-m", "--multirun"} for a in overrides))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    argv = sys.argv
    flags, keys = split_args(overrides)
    sys.argv = [f"domainteb-{stage.name}", *flags, *keys, f"hydra.job.name={stage.name}"]
    try:
        hydra.main(version_base=None, config_path="pkg://domainteb.conf", config_name=stage.config)(job)()
    except SystemExit as exc:  # Hydra's own errors (it printed them) are bad input: status 2
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code and not statuses:
            return 2
        statuses.append(code)
    finally:
        sys.argv = argv
    return max(statuses, default=0)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _quiet_environment()
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] in {"--version", "version"}:
        from domainteb import __version__

        print(f"domainteb {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name == "llm":
        if not rest or rest[0] != "serve":
            print("usage: domainteb llm serve [port=...] [model_path=...]", file=sys.stderr)
            return 2
        rest = rest[1:]
    try:
        stage = STAGES.get(name)
    except DomainTebError as exc:
        print(f"error: {exc}\n\n{usage()}", file=sys.stderr)
        return 2
    return run_stage(stage, rest)


if __name__ == "__main__":
    sys.exit(main())
