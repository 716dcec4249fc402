"""``engine=ray`` against the local engine on one real retrieval task, in one run (not a timed test).

Each engine runs ``domainteb eval task=<devset> model=<model>`` as a user would, in its own
process with its own empty embedding cache (``DOMAINTEB_CACHE``), so both encode the whole
corpus. Ray starts a local cluster (``ray.address`` unset: ``ray.init()`` with no address).
Printed: wall time per engine, the ratio ray/local, and the largest per-query nDCG@10 difference
(identical scores are the requirement).

    .venv/bin/python benchmarks/ray_overhead.py --devset ../shared/devsets/medical_covidqa --model minilm-l6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEVSETS = Path(__file__).resolve().parents[1].parent / "shared" / "devsets"


def run_engine(engine: str, devset: Path, model: str, work: Path, extra: list[str]) -> tuple[float, dict[str, float], float]:
    """Wall seconds, per-query nDCG@10 and main score of one ``domainteb eval`` run."""
    out = work / engine
    env = {**os.environ, "DOMAINTEB_CACHE": str(work / f"cache-{engine}")}
    cmd = [str(Path(sys.executable).parent / "domainteb"), "eval", f"task={devset}", f"model={model}",
           f"engine={engine}", f"output_dir={out}", "mlflow.enabled=false", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{engine}: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    files = [f for f in out.rglob("*.json") if "model_meta" not in f.name]
    for f in files:
        rec = json.loads(f.read_text(encoding="utf-8"))
        items = rec.get("domainteb", {}).get("items", {}).get("test")
        if items:
            main = rec["scores"]["test"][0]["main_score"]
            return seconds, dict(zip(items["ids"], items["values"])), float(main)
    sys.exit(f"{engine}: no result file with per-query values under {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devset", type=Path, default=DEVSETS / "medical_covidqa")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--actors", type=int, default=2, help="ray.actors (encoder actors)")
    p.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp:
        work = args.workdir or Path(tmp)
        local_s, local, local_main = run_engine("local", args.devset, args.model, work, [])
        ray_s, ray_, ray_main = run_engine("ray", args.devset, args.model, work, [f"ray.actors={args.actors}"])
    if local.keys() != ray_.keys():
        sys.exit("the two engines scored different query sets")
    diff = max(abs(local[q] - ray_[q]) for q in local)
    print(f"task {args.devset.name}, model {args.model}, {len(local)} queries, ray.actors={args.actors}, {os.cpu_count()} cores")
    print("| engine | wall s | nDCG@10 |\n|---|---|---|")
    print(f"| local | {local_s:.1f} | {local_main:.6f} |\n| ray (local cluster) | {ray_s:.1f} | {ray_main:.6f} |")
    print(f"ray / local wall time: {ray_s / local_s:.2f}; max per-query |Δ nDCG@10| {diff:.1e}")


if __name__ == "__main__":
    main()
