"""Prune-then-retrain with the mask held fixed.

:class:`MaskCallback` keeps pruned weights at exactly zero during any transformers/
sentence-transformers training: it zeroes their gradients before each optimizer step and
re-applies the mask after it (AdamW's weight decay or momentum can't revive them).
:func:`retrain` is a minimal sentence-transformers training loop (MNRL, scale 20) over domain
triplets, used when the shared fine-tuning module (``domainteb.adapt.finetune``) is absent. It also
takes a streamed :class:`datasets.IterableDataset` of pairs (``adapt.streaming=true``: the whole
``data=`` file read lazily instead of the calibration pool; see :mod:`domainteb.adapt.streaming`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import TrainerCallback

from domainteb.adapt.gaprune.calibration import TextPrompts, Triplet
from domainteb.adapt.gaprune.masks import apply_mask
from domainteb.adapt.gaprune.targets import Target

log = logging.getLogger(__name__)


class MaskCallback(TrainerCallback):
    """Holds a pruning mask fixed through training."""

    def __init__(self, targets: Sequence[Target], mask: Mapping[str, Tensor]) -> None:
        self.targets = list(targets)
        self.mask = dict(mask)

    def _zero_grads(self) -> None:
        for t in self.targets:
            g = t.module.weight.grad
            if g is not None:
                g.mul_(self.mask[t.name].to(g.device, g.dtype))

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        apply_mask(self.targets, self.mask)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._zero_grads()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        apply_mask(self.targets, self.mask)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        apply_mask(self.targets, self.mask)


def retrain(
    model: Any,
    triplets: Sequence[Triplet] | Any,
    *,
    targets: Sequence[Target],
    mask: Mapping[str, Tensor],
    steps: int,
    output_dir: str | Path,
    lr: float = 2e-5,
    batch_size: int = 32,
    seed: int = 0,
    scale: float = 20.0,
    prompts: TextPrompts | None = None,
    shuffle_buffer: int = 10_000,
) -> dict[str, float]:
    """Train ``model`` for ``steps`` optimizer steps on domain triplets with the mask fixed.

    ``triplets`` may be a :class:`datasets.IterableDataset` of pairs (anchor, positive[, negative…]):
    it is buffer-shuffled (``shuffle_buffer``) and regrouped without repeated texts per batch.

    Queries and passages get the prompts the model is evaluated with (default: the model's own,
    :meth:`TextPrompts.of`), passed to the trainer per column.
    """
    import os

    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from domainteb.adapt.streaming import is_stream, prepare_stream

    streaming = is_stream(triplets)
    if streaming:
        data = prepare_stream(triplets, batch_size=batch_size, world_size=int(os.environ.get("WORLD_SIZE", "1")),
                              seed=seed, shuffle_buffer=shuffle_buffer, no_duplicates=True)
    else:
        data = Dataset.from_dict(
            {
                "anchor": [t.query for t in triplets],
                "positive": [t.positive for t in triplets],
                "negative": [t.negative for t in triplets],
            }
        )
    on_cuda = torch.cuda.is_available() and next(model.parameters()).device.type == "cuda"
    column_prompts = (prompts if prompts is not None else TextPrompts.of(model)).columns()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        prompts=column_prompts or None,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=max(1, steps // 10),
        seed=seed,
        data_seed=seed,
        save_strategy="no",
        report_to="none",
        logging_steps=max(1, steps // 5),
        use_cpu=not on_cuda,
        bf16=on_cuda and torch.cuda.is_bf16_supported(),  # autocast; the fp32 master weights keep the mask
        disable_tqdm=True,
        dataloader_drop_last=not streaming and len(triplets) >= batch_size,
        accelerator_config={"dispatch_batches": False} if streaming else None,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=data,
        loss=MultipleNegativesRankingLoss(model, scale=scale),
        callbacks=[MaskCallback(targets, mask)],
    )
    out = trainer.train()
    apply_mask(targets, mask)
    log.info("retrained %d steps (loss %.4f)", steps, out.training_loss)
    return {"retrain_loss": float(out.training_loss), "retrain_steps": float(steps)}
