"""In-batch negatives across ranks: ``torchrun --nproc_per_node=2`` (gloo on CPU) trains cached_mnrl
(in-memory pairs) and mnrl (streamed pairs) with ``gather_across_devices`` on by default, and every
query is scored against world_size × batch_size pairs' passages (positive + hard negative each)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from .test_finetune import base_model_dir, chemistry_pairs
except ImportError:  # rootdir-style imports (tests/adapt has no __init__.py)
    from test_finetune import base_model_dir, chemistry_pairs  # type: ignore[no-redef]

WORKER = Path(__file__).with_name("ddp_gather_worker.py")


@pytest.mark.slow
def test_torchrun_gathers_in_batch_negatives_across_two_ranks(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    cols = chemistry_pairs(24)
    with open(pairs, "w", encoding="utf-8") as fh:
        for a, p, n in zip(cols["anchor"], cols["positive"], cols["negative"]):
            fh.write(json.dumps({"query": a, "positive": p, "negative": n}) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
           base_model_dir(), str(pairs), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    world, batch, columns = 2, 4, 2  # positive + one hard negative per pair
    for rank in range(world):
        report = json.loads((out / f"rank{rank}.json").read_text())
        for name in ("cached_mnrl", "stream_mnrl"):
            run = report[name]
            assert run["gather"] is True and run["world_size"] == world and run["global_step"] == 2, (rank, name)
            assert math.isfinite(run["loss"])
            assert run["calls"], f"{name}: the loss never scored a batch"
            # each call scores this rank's queries (all 4, or a mini-batch of 2 for cached_mnrl) against
            # the passages of both ranks' batches
            assert {c[1] for c in run["calls"]} == {world * batch * columns}, (rank, name, run["calls"])
            assert {c[0] for c in run["calls"]} == ({2} if name == "cached_mnrl" else {batch}), (rank, name)
