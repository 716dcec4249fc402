"""Contrastive fine-tuning of a sentence-transformers model on (query, positive[, negatives]) pairs.

Public API (stable; the GAPrune prune-then-retrain step builds on it)::

    from domainteb.adapt.finetune import FinetuneConfig, train_model

    result = train_model(
        model,                  # a SentenceTransformer (trained in place)
        train_dataset,          # datasets.Dataset (or a streamed IterableDataset): anchor, positive[, negative | negative_1..n]
        cfg=FinetuneConfig(loss="mnrl", max_steps=100, batch_size=32),
        output_dir=Path("outputs/adapt/finance-gaprune"),   # checkpoints go to <output_dir>/checkpoints
        callbacks=[KeepMaskCallback(masks)],                # e.g. re-apply a sparsity mask on_step_end
        eval_task=task,         # optional domainteb Task scored during training (best checkpoint)
        tracker=tracker,        # optional Tracker: learning curves logged per step
    )
    result.model, result.global_step, result.best_metric, result.eval_history

``train_model`` uses :class:`SentenceTransformerTrainer` with the no-duplicates batch sampler,
the configured loss (:mod:`domainteb.adapt.losses`), LR schedule with warm-up and a fixed seed.
A :class:`datasets.IterableDataset` (``adapt.streaming=true``, :func:`domainteb.adapt.pairs.stream_pairs`)
is read lazily: it needs ``max_steps``, is buffer-shuffled and regrouped without repeated texts
per batch instead of the sampler (:mod:`domainteb.adapt.streaming`).
It checkpoints to ``<output_dir>/checkpoints`` and resumes from the last checkpoint when called
again with the same config and data (a different config there is an error, never a silent
mix). It does not write the final model: :func:`domainteb.adapt.export.save_model_folder` does.

The ``finetune`` method of the ``adapt`` stage is :func:`domainteb.adapt.finetune_method.run_finetune`. Multi-GPU training is
plain DDP driven by the trainer::

    torchrun --nproc_per_node=2 -m domainteb.cli adapt method=finetune base=minilm-l6 domain=finance

Only rank 0 writes the model folder, the model card and MLflow runs. In-batch losses (mnrl,
cached_mnrl, gist) then gather the other ranks' embeddings (``adapt.gather_across_devices``, on by
default when ``WORLD_SIZE > 1``): every query is scored against ``batch_size × world_size`` pairs'
passages, not only its own rank's, and the last incomplete batch is dropped so every rank gathers
equal shapes.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from domainteb.core.errors import ConfigError
from domainteb.core.io import atomic_write_json, read_json, stable_hash

if TYPE_CHECKING:
    import datasets
    from sentence_transformers import SentenceTransformer
    from transformers import TrainerCallback

    from domainteb.core.tracking import Tracker
    from domainteb.core.types import Task

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
TRAIN_CONFIG_FILE = "train_config.json"


class FinetuneConfig(BaseModel):
    """Hyper-parameters of one fine-tuning run (the ``adapt`` group of ``conf/adapt/finetune.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    loss: str = "mnrl"
    #: Matryoshka dimensions (e.g. [384, 256, 128, 64]) or None/false for a plain loss.
    matryoshka: list[int] | None = None
    guide_model: str = "minilm-l6"
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 32
    mini_batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    lr_scheduler: str = "linear"
    weight_decay: float = 0.01
    #: "auto" = the domain's first retrieval task; None = no evaluation during training.
    eval_task: str | None = "auto"
    eval_split: str | None = None
    #: offline task size for the eval task (tiny | small | full; None = the suite's default).
    eval_size: str | None = None
    eval_steps: int = 50
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 10
    max_seq_length: int | None = None
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    #: hard-negative columns kept per pair (MNRL/CachedMNRL use them as extra negatives).
    max_negatives: int = 1
    #: margin_mse: the student's cosine is multiplied by this before matching the teacher's margins.
    similarity_scale: float = 20.0
    #: at most this many training pairs (None = all).
    limit: int | None = None
    #: read the pairs file lazily as a datasets.IterableDataset (needs max_steps; see domainteb.adapt.streaming).
    streaming: bool = False
    #: streaming: pairs held in the seeded shuffle buffer (0 = file order).
    shuffle_buffer: int = 10_000
    #: in-batch losses under torchrun: score against every rank's batch (None = on when WORLD_SIZE > 1).
    gather_across_devices: bool | None = None
    seed: int = 42
    device: str = "auto"

    @field_validator("matryoshka", mode="before")
    @classmethod
    def _no_matryoshka(cls, value: Any) -> Any:
        if value in (None, False, "false", "none", "null", 0):
            return None
        return value

    @field_validator("eval_task", "eval_split", "eval_size", mode="before")
    @classmethod
    def _none_names(cls, value: Any) -> Any:
        return None if value in (None, False, "", "none", "null") else value

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "adapt") -> FinetuneConfig:
        """Build from a config mapping; unknown keys and bad values raise one-line ConfigErrors."""
        fields = {k: v for k, v in values.items() if k != "method"}
        try:
            return cls(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(cls.model_fields))
                raise ConfigError(f"{where}.{loc} is not a finetune setting; known: {known}") from None
            raise ConfigError(f"{where}.{loc}={err.get('input')!r}: {err['msg']}") from None

    def training_hash(self) -> str:
        """Hash of everything that changes the trained weights (resume safety). The streaming and
        gathering settings count only when set away from their defaults, so runs from before they
        existed keep their hash."""
        dump = self.model_dump(exclude={"eval_steps", "eval_size", "save_total_limit", "logging_steps", "device"})
        for name in ("streaming", "shuffle_buffer", "gather_across_devices"):
            if dump[name] == type(self).model_fields[name].default or (name == "shuffle_buffer" and not self.streaming):
                del dump[name]
        return stable_hash(dump)

    def gather(self, world_size: int) -> bool:
        """Whether the loss gathers in-batch negatives across ranks in a run of ``world_size`` processes."""
        from domainteb.adapt.losses import IN_BATCH_LOSSES

        if self.gather_across_devices is None:
            return world_size > 1 and self.loss in IN_BATCH_LOSSES
        return bool(self.gather_across_devices) and world_size > 1

    def check(self) -> None:
        """Validate combinations before any heavy work."""
        from domainteb.adapt.losses import check_loss

        check_loss(self.loss, self.matryoshka)
        if self.batch_size < 2:
            raise ConfigError(f"adapt.batch_size={self.batch_size}: contrastive losses need at least 2 pairs per batch")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ConfigError("adapt.epochs and adapt.max_steps are both <= 0; set one of them")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"adapt.warmup_ratio={self.warmup_ratio}: use a fraction in [0, 1)")
        if self.eval_steps <= 0 or self.save_steps <= 0:
            raise ConfigError("adapt.eval_steps and adapt.save_steps must be positive")
        if self.eval_task and self.save_steps % self.eval_steps:
            raise ConfigError(
                f"adapt.save_steps={self.save_steps} must be a multiple of adapt.eval_steps={self.eval_steps} "
                "(the best checkpoint is chosen among evaluated ones)"
            )
        if self.loss == "cached_mnrl" and self.mini_batch_size <= 0:
            raise ConfigError("adapt.mini_batch_size must be positive for cached_mnrl")
        self.check_streaming(self.streaming)
        from domainteb.adapt.losses import IN_BATCH_LOSSES

        if self.gather_across_devices and self.loss not in IN_BATCH_LOSSES:
            raise ConfigError(
                f"adapt.gather_across_devices=true: adapt.loss={self.loss} has no in-batch negatives to gather; "
                f"use one of {', '.join(sorted(IN_BATCH_LOSSES))} or leave gather_across_devices unset"
            )

    def check_streaming(self, streaming: bool) -> None:
        """A stream has no length: the run's length must come from max_steps."""
        if streaming and self.max_steps <= 0:
            raise ConfigError(
                "adapt.streaming=true reads the pairs lazily, so epochs cannot be counted; "
                "set adapt.max_steps=<optimizer steps> (> 0)"
            )
        if streaming and self.shuffle_buffer < 0:
            raise ConfigError(f"adapt.shuffle_buffer={self.shuffle_buffer}: use 0 (file order) or a positive number of pairs")


@dataclass
class TrainResult:
    """What :func:`train_model` produced (the model is the trained, best-checkpoint model)."""

    model: SentenceTransformer
    global_step: int
    training_loss: float | None
    metric_key: str | None = None
    best_metric: float | None = None
    best_checkpoint: str | None = None
    resumed_from: str | None = None
    eval_history: list[dict[str, float]] = field(default_factory=list)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    is_main_process: bool = True
    device: str = "cpu"
    precision: str = "fp32"
    world_size: int = 1
    #: in-batch negatives gathered across the ranks (each query scored against batch_size × world_size pairs).
    gather_across_devices: bool = False
    streaming: bool = False


def _precision(precision: str, on_cuda: bool) -> dict[str, bool]:
    import torch

    if precision == "auto":
        if not on_cuda:
            return {"bf16": False, "fp16": False}
        return {"bf16": True, "fp16": False} if torch.cuda.is_bf16_supported() else {"bf16": False, "fp16": True}
    if precision in ("bf16", "fp16") and not on_cuda:
        raise ConfigError(f"adapt.precision={precision} needs a CUDA device; use precision=auto or fp32 on CPU")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def dataset_hash(train_dataset: datasets.Dataset | datasets.IterableDataset) -> str:
    """Identity of the training data: its rows, or a stream's recorded source identity (never read here)."""
    from domainteb.adapt.streaming import is_stream, source_key

    if is_stream(train_dataset):
        return stable_hash({"columns": train_dataset.column_names, "source": source_key(train_dataset)})
    return stable_hash({"columns": train_dataset.column_names, "rows": train_dataset.to_dict()})


def _prepare_checkpoint_dir(ckpt_dir: Path, fingerprint: dict[str, Any], is_main: bool) -> str | None:
    """Last checkpoint to resume from (same config and data), else None; refuses foreign checkpoints."""
    from transformers.trainer_utils import get_last_checkpoint

    marker = ckpt_dir / TRAIN_CONFIG_FILE
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if last is not None:
        previous = read_json(marker) if marker.is_file() else None
        if previous != fingerprint:
            raise ConfigError(
                f"{ckpt_dir}: holds checkpoints of a different training config or data; pass another "
                "output_dir or delete that folder to start over"
            )
        return last
    if is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(marker, fingerprint)
    return None


def _guide_loader(cfg: FinetuneConfig, device: str) -> Callable[[], SentenceTransformer]:
    def load() -> SentenceTransformer:
        from domainteb.adapt.basemodel import load_sentence_transformer

        guide = load_sentence_transformer(cfg.guide_model, device=device)
        guide.eval()
        for p in guide.parameters():
            p.requires_grad_(False)
        return guide

    return load


def train_model(
    model: SentenceTransformer,
    train_dataset: datasets.Dataset,
    *,
    cfg: FinetuneConfig,
    output_dir: Path,
    callbacks: Sequence[TrainerCallback] = (),
    eval_task: Task | None = None,
    tracker: Tracker | None = None,
) -> TrainResult:
    """Fine-tune ``model`` in place; see the module docstring. Resumes from ``<output_dir>/checkpoints``."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers import set_seed

    from domainteb.adapt.basemodel import column_prompts, resolve_device
    from domainteb.adapt.callbacks import TrackerCallback
    from domainteb.adapt.evaluator import DomainTaskEvaluator
    from domainteb.adapt.losses import IN_BATCH_LOSSES, build_loss
    from domainteb.adapt.streaming import is_stream, prepare_stream

    cfg.check()
    streaming = is_stream(train_dataset)
    cfg.check_streaming(streaming)
    if not streaming and len(train_dataset) < 2:
        raise ConfigError(f"only {len(train_dataset)} training pair(s); contrastive training needs at least 2")
    device = resolve_device(cfg.device)
    on_cuda = device.startswith("cuda")
    output_dir = Path(output_dir)
    ckpt_dir = output_dir / CHECKPOINTS
    is_main = int(os.environ.get("RANK", "0")) == 0
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    fingerprint = {"config": cfg.training_hash(), "data": dataset_hash(train_dataset)}
    resume = _prepare_checkpoint_dir(ckpt_dir, fingerprint, is_main)

    set_seed(cfg.seed)
    if cfg.max_seq_length:
        model.max_seq_length = int(cfg.max_seq_length)
    gather = cfg.gather(world_size)
    loss = build_loss(model, cfg.model_copy(update={"gather_across_devices": gather}), _guide_loader(cfg, device))
    if gather:
        log.info("in-batch negatives gathered across %d processes: each query is scored against %d pairs' passages",
                 world_size, cfg.batch_size * world_size)
    in_batch = cfg.loss in IN_BATCH_LOSSES
    if streaming:
        train_dataset = prepare_stream(train_dataset, batch_size=cfg.batch_size, world_size=world_size, seed=cfg.seed,
                                       shuffle_buffer=cfg.shuffle_buffer, no_duplicates=in_batch)
    # the query/passage prompts the model is evaluated with (bge's instruction, e5's prefixes)
    prompts = column_prompts(model, list(train_dataset.column_names))

    evaluator = None
    if eval_task is not None:
        evaluator = DomainTaskEvaluator(eval_task, cfg.eval_split, batch_size=max(cfg.batch_size, 32), seed=cfg.seed)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=cfg.weight_decay,
        # a stream is batched in (shuffled, de-duplicated) stream order: the trainer takes no sampler for it
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch and not streaming else BatchSamplers.BATCH_SAMPLER,
        prompts=prompts or None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        eval_strategy="steps" if evaluator else "no",
        eval_steps=cfg.eval_steps if evaluator else None,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=evaluator is not None,
        metric_for_best_model=evaluator.key if evaluator else None,
        greater_is_better=True if evaluator else None,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        report_to="none",
        use_cpu=not on_cuda,
        disable_tqdm=not sys.stderr.isatty(),
        dataloader_num_workers=0,
        # gathering needs equal batch shapes on every rank (a stream's shard fills its last batch itself)
        dataloader_drop_last=gather and not streaming,
        # each rank reads the stream and keeps its slice: rank 0 can't concatenate differently padded batches
        accelerator_config={"dispatch_batches": False} if streaming else None,
        **_precision(cfg.precision, on_cuda),
    )
    all_callbacks: list[TrainerCallback] = list(callbacks)
    if tracker is not None and tracker.enabled and is_main:
        all_callbacks.append(TrackerCallback(tracker))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=all_callbacks,
    )
    if resume:
        log.info("resuming from %s", resume)
    output = trainer.train(resume_from_checkpoint=resume)
    state = trainer.state
    history = [
        {"step": float(entry["step"]), evaluator.key: float(entry[f"eval_{evaluator.key}"])}
        for entry in state.log_history
        if evaluator and f"eval_{evaluator.key}" in entry
    ]
    return TrainResult(
        model=trainer.model,
        global_step=int(state.global_step),
        training_loss=float(output.training_loss) if output.training_loss is not None else None,
        metric_key=evaluator.key if evaluator else None,
        best_metric=float(state.best_metric) if state.best_metric is not None else None,
        best_checkpoint=state.best_model_checkpoint,
        resumed_from=resume,
        eval_history=history,
        log_history=list(state.log_history),
        is_main_process=trainer.is_world_process_zero(),
        device=str(trainer.args.device),
        precision="bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        world_size=int(trainer.args.world_size),
        gather_across_devices=gather,
        streaming=streaming,
    )


def remove_checkpoints(output_dir: Path) -> None:
    """Delete ``<output_dir>/checkpoints`` once the final model is saved."""
    shutil.rmtree(Path(output_dir) / CHECKPOINTS, ignore_errors=True)
