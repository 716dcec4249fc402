"""Worker of ``test_finetune_gather.py``, run as ``torchrun --nproc_per_node=2 ddp_gather_worker.py BASE PAIRS OUT``.

Trains twice on the same model for 2 steps each: cached_mnrl on the in-memory pairs, then mnrl on the
same file streamed. The loss's similarity function is wrapped to record, per call, how many queries
(local) and candidate passages (gathered) it scored; each rank writes ``OUT/rank<r>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

import domainteb.adapt.losses as losses
from domainteb.adapt.basemodel import load_sentence_transformer
from domainteb.adapt.finetune import FinetuneConfig, train_model
from domainteb.adapt.pairs import load_pairs, stream_pairs

torch.set_num_threads(1)
calls: list[list[int]] = []
_build = losses.build_loss


def recording_build_loss(model: Any, cfg: Any, guide: Any) -> Any:
    loss = _build(model, cfg, guide)
    score = loss.similarity_fct

    def recorded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        calls.append([int(a.shape[0]), int(b.shape[0])])
        return score(a, b)

    loss.similarity_fct = recorded  # CachedMNRL hands it on to its inner MNRL
    return loss


losses.build_loss = recording_build_loss  # train_model imports it from the module when called


def main(base: str, pairs: str, out: str) -> None:
    model = load_sentence_transformer(base, device="cpu")
    report: dict[str, Any] = {}
    for name, loss, streaming in (("cached_mnrl", "cached_mnrl", False), ("stream_mnrl", "mnrl", True)):
        calls.clear()
        data = stream_pairs(pairs)[0] if streaming else load_pairs(pairs)
        cfg = FinetuneConfig(loss=loss, max_steps=2, batch_size=4, mini_batch_size=2, eval_task=None, save_steps=1000,
                             logging_steps=1, device="cpu", warmup_ratio=0.0, max_seq_length=24, streaming=streaming,
                             shuffle_buffer=8)
        result = train_model(model, data, cfg=cfg, output_dir=Path(out) / name)
        report[name] = {"calls": list(calls), "gather": result.gather_across_devices, "world_size": result.world_size,
                        "global_step": result.global_step, "loss": result.training_loss}
    Path(out, f"rank{os.environ['RANK']}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
