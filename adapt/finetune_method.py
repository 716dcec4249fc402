"""The ``finetune`` method of the ``adapt`` stage: pairs → trained model folder + card + MLflow run.

``domainteb adapt method=finetune base=minilm-l6 data=outputs/synth/finance/pairs.jsonl domain=finance``

Steps: validate the config and the pairs (before loading any model), skip if ``done.json``
matches, load the base model, train with :func:`domainteb.adapt.finetune.train_model`
(resuming from checkpoints), save ``<output_dir>/model`` with its model card, log to MLflow,
write ``done.json`` and drop the checkpoints. Under DDP only rank 0 writes anything.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from domainteb.core.errors import ConfigError
from domainteb.core.io import stable_hash
from domainteb.core.tracking import Tracker, tracker_from_config

log = logging.getLogger(__name__)

METHOD = "finetune"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def stage_output_dir(cfg: DictConfig, method: str) -> Path:
    """``output_dir`` if set, else ``outputs/adapt/<domain>-<method>``."""
    out = cfg.get("output_dir")
    if out in (None, "", "null"):
        return Path("outputs") / "adapt" / f"{cfg.get('domain') or 'general'}-{method}"
    return Path(str(out))


def require_domain(cfg: DictConfig) -> str:
    domain = cfg.get("domain")
    if not domain:
        raise ConfigError("adapt needs domain=<finance|chemistry|medical> (names the run, its eval task and default data)")
    return str(domain)


def finetune_config(cfg: DictConfig) -> Any:
    """The :class:`FinetuneConfig` of a composed ``adapt`` config (seed and device from the top level)."""
    from domainteb.adapt.finetune import FinetuneConfig

    block = OmegaConf.to_container(cfg.adapt, resolve=True) if cfg.get("adapt") is not None else {}
    assert isinstance(block, dict)
    block = {str(k): v for k, v in block.items()}
    block.setdefault("seed", int(cfg.get("seed", 42)))
    block.setdefault("device", str(cfg.get("device", "auto")))
    ft = FinetuneConfig.from_mapping(block)
    ft.check()
    return ft


def run_finetune(cfg: DictConfig) -> dict[str, Any]:
    """Run the finetune method; returns a summary dict (also stored in ``done.json``)."""
    from domainteb.adapt.basemodel import describe_base, load_sentence_transformer
    from domainteb.adapt.evaluator import resolve_eval_task
    from domainteb.adapt.export import MODEL_DIR, read_done, save_model_folder, write_done
    from domainteb.adapt.finetune import dataset_hash, remove_checkpoints, train_model
    from domainteb.adapt.modelcard import CardInfo, render_card
    from domainteb.adapt.pairs import load_pairs_with_info, stream_pairs

    domain = require_domain(cfg)
    if not cfg.get("base"):
        raise ConfigError("adapt needs base=<model registry name or sentence-transformers folder>")
    base = str(cfg.base)
    ft = finetune_config(cfg)
    output_dir = stage_output_dir(cfg, METHOD)
    data = cfg.get("data")
    if ft.streaming:  # validated in one pass, then read lazily by the trainer
        dataset, info = stream_pairs(None if data in (None, "") else str(data), ft.limit, max_negatives=ft.max_negatives)
    else:
        dataset, info = load_pairs_with_info(
            None if data in (None, "") else str(data), domain, ft.limit, max_negatives=ft.max_negatives
        )
    config_hash = stable_hash({"method": METHOD, "base": base, "domain": domain, "train": ft.training_hash(),
                               "data": dataset_hash(dataset)})
    done = read_done(output_dir, config_hash)
    if done is not None:
        log.info("%s: already done with this config; nothing to redo", output_dir)
        return {**done, "skipped": True}

    eval_task = resolve_eval_task(ft.eval_task, domain, ft.eval_size)
    model = load_sentence_transformer(base, device=ft.device, allow_pickle=cfg.get("allow_pickle", False) is True)
    main = is_main_process()
    tracker = tracker_from_config(cfg) if main else Tracker(enabled=False)
    params = OmegaConf.to_container(cfg, resolve=True)
    tags = {"stage": "adapt", "method": METHOD, "domain": domain, "base": describe_base(base)}
    with tracker.run(f"adapt-{domain}-{METHOD}", tags=tags) as run_id:
        tracker.log_params({"config": params, "data": info.as_dict() | {"personas": len(info.personas),
                                                                       "query_types": len(info.query_types)}})
        result = train_model(model, dataset, cfg=ft, output_dir=output_dir, eval_task=eval_task, tracker=tracker)
        summary: dict[str, Any] = {
            "method": METHOD,
            "domain": domain,
            "base": base,
            "model_dir": str(output_dir / MODEL_DIR),
            "n_pairs": info.n_pairs,
            "global_step": result.global_step,
            "training_loss": result.training_loss,
            "metric_key": result.metric_key,
            "best_metric": result.best_metric,
            "eval_task": eval_task.name if eval_task else None,
            "device": result.device,
            "precision": result.precision,
            "world_size": result.world_size,
            "gather_across_devices": result.gather_across_devices,
            "streaming": result.streaming,
            "mlflow_run_id": run_id,
        }
        if not (main and result.is_main_process):
            return summary
        scores = {"training_loss": result.training_loss or float("nan"), "global_step": float(result.global_step)}
        if result.metric_key and result.best_metric is not None:
            scores[f"best_{result.metric_key}"] = result.best_metric
        card = CardInfo(
            method=METHOD,
            base=describe_base(base),
            domain=domain,
            data=info.as_dict(),
            params=ft.model_dump(exclude={"device"}),
            scores=scores,
            eval_history=result.eval_history,
            notes=[f"trained on {result.device} in {result.precision} with {result.world_size} process(es)"
                   + (" (in-batch negatives gathered across them)" if result.gather_across_devices else "")]
            + (["pairs streamed from the file (seeded buffer shuffle, no repeated text per batch)"] if result.streaming else [])
            + ([f"evaluated during training on {eval_task.name} through domainteb's evaluator"] if eval_task else []),
            command=f"domainteb adapt method={METHOD} base={base} domain={domain} data={data}",
        )
        model_dir = save_model_folder(result.model, output_dir / MODEL_DIR, render_card(card))
        tracker.log_metrics(scores)
        tracker.log_artifact(model_dir, artifact_path="model")
        write_done(output_dir, config_hash, summary)
    remove_checkpoints(output_dir)
    return summary
