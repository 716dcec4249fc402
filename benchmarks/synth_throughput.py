"""Synth client throughput (concurrency 8 vs 1) and resume cost after ``kill -9``, measured in one run.

    python benchmarks/synth_throughput.py            # fault-injecting server with artificial latency
    python benchmarks/synth_throughput.py --llm      # also the local llama.cpp server (slow on 2 cores)

Prints ratios, not absolute targets: the client-side scaling (target >= 0.8 x N with a server
that serves in parallel) and, with ``--llm``, what the local CPU server really gives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "synth"))

from fault_server import FaultPlan, FaultServer  # noqa: E402

from domainteb.core.assets import extract_from_wheel  # noqa: E402
from domainteb.synth.cache import AppendLog, ResponseCache  # noqa: E402
from domainteb.synth.client import LLMClient, LLMSettings  # noqa: E402
from domainteb.synth.generate import make_jobs, run_jobs  # noqa: E402
from domainteb.synth.passages import Passage  # noqa: E402
from domainteb.synth.personas import load_personas, plan_jobs  # noqa: E402


_SERVER = """
import sys, time
sys.path.insert(0, {tests!r})
from fault_server import FaultPlan, FaultServer
srv = FaultServer(FaultPlan(**{plan!r})).__enter__()
print(srv.base_url, flush=True)
time.sleep(3600)
"""


class ServerProcess:
    """The fault server in its own process, so its threads do not share the client's GIL."""

    def __init__(self, **plan: object) -> None:
        code = _SERVER.format(tests=str(ROOT / "tests" / "synth"), plan=plan)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def element_passages() -> list[Passage]:
    db = extract_from_wheel("mendeleev==1.3.0", "mendeleev/elements.db")
    with sqlite3.connect(db) as con:
        rows = con.execute("select symbol, name, description, uses from elements order by atomic_number").fetchall()
    return [Passage(s, f"{n}. {d} {u or ''}") for s, n, d, u in rows if d and len(d) > 80]


def timed_run(passages: list[Passage], base_urls: list[str], model: str, concurrency: int, work: Path, **llm: object) -> tuple[float, int]:
    """Seconds for all jobs from a cold cache, and the number of upstream requests."""
    personas = load_personas("chemistry")
    plans = plan_jobs([p.id for p in passages], personas, seed=0, queries_per_passage=2)
    jobs = make_jobs(passages, plans, domain="chemistry", seed=0, llm_identity={"model": model, "c": concurrency})
    settings = LLMSettings(model=model, base_urls=base_urls, timeout_s=600, max_retries=2, backoff_base_s=0.05)
    for k, v in llm.items():
        setattr(settings, k, v)
    work.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(work / f"responses-{concurrency}.jsonl")
    log = AppendLog(work / f"jobs-{concurrency}.jsonl")
    client = LLMClient(settings, cache)

    async def go() -> None:
        try:
            await run_jobs(jobs, client, log, domain="chemistry", concurrency=concurrency)
        finally:
            await client.aclose()

    t = time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - t
    cache.close()
    log.close()
    return elapsed, client.stats.requests


def scaling(name: str, passages: list[Passage], base_urls: list[str], model: str, work: Path, n: int = 8, **llm: object) -> None:
    t1, r1 = timed_run(passages, base_urls, model, 1, work / "c1", **llm)
    tn, rn = timed_run(passages, base_urls, model, n, work / f"c{n}", **llm)
    print(f"[{name}] {len(passages)} jobs: concurrency 1: {t1:.2f}s ({len(passages) / t1:.2f} jobs/s, {r1} requests); "
          f"concurrency {n}: {tn:.2f}s ({len(passages) / tn:.2f} jobs/s, {rn} requests); speed-up {t1 / tn:.2f}x "
          f"(= {t1 / tn / n:.2f} x N)")  # fmt: skip


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from conftest import compose_config, synth_overrides
from domainteb.synth.stage import run
run(compose_config("synth", synth_overrides({out!r}, {passages!r}, {url!r}, n_passages={n}, concurrency=4)))
"""


def resume_cost(passages: list[Passage], work: Path, n: int = 40) -> None:
    from conftest import compose_config, synth_overrides

    from domainteb.synth.stage import run

    pfile = work / "passages.jsonl"
    pfile.write_text("".join(json.dumps({"id": p.id, "text": p.text}) + "\n" for p in passages[:n]))
    out = work / "resume"
    with FaultServer(FaultPlan(latency_s=0.1)) as srv:
        code = _CHILD.format(tests=str(ROOT / "tests" / "synth"), out=str(out), passages=str(pfile), url=srv.base_url, n=n)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        jobs = out / "jobs.jsonl"
        while not (jobs.exists() and len(jobs.read_text().splitlines()) >= n // 2):
            if proc.poll() is not None:
                raise SystemExit("the child run ended before it could be killed")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = srv.stats.requests
        cached = len((out / "responses.jsonl").read_text().splitlines())
        srv.reset()
        run(compose_config("synth", synth_overrides(out, pfile, srv.base_url, n_passages=n, concurrency=4, **{"mlflow.enabled": "false"})))
        second = srv.stats.requests
        total_cached = len((out / "responses.jsonl").read_text().splitlines())
        srv.reset()
        run(compose_config("synth", synth_overrides(out, pfile, srv.base_url, n_passages=n, concurrency=4)))
        third = srv.stats.requests
    lost = first - cached
    print(f"[resume] {n} jobs, kill -9 after {cached} cached responses ({first} calls made, {lost} in flight lost): "
          f"rerun made {second} calls for {total_cached - cached} missing responses; resume cost = {second}/{total_cached} "
          f"= {second / total_cached:.2f} of a full run; repeated calls for cached responses: {second - (total_cached - cached)}; "
          f"complete rerun: {third} calls")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", action="store_true", help="also measure the local llama.cpp server")
    ap.add_argument("--jobs", type=int, default=32)
    ap.add_argument("--llm-jobs", type=int, default=3, help="jobs per local-LLM measurement (each takes seconds to minutes on CPU)")
    ap.add_argument("--two-servers", action="store_true", help="also 2 llama.cpp processes x 1 thread, round robin")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    passages = element_passages()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with ServerProcess(latency_s=0.25) as srv:
            scaling("fault server, 0.25 s latency, parallel", passages[: args.jobs], [srv.base_url], "fault-model", work / "fault")
        with ServerProcess(latency_s=0.25, rate=0.3, faults_per_key=1, kinds=("429", "503", "drop"), retry_after_s=0.1) as srv:
            scaling("fault server, 0.25 s latency, 30% faults", passages[: args.jobs], [srv.base_url], "fault-model", work / "faulty")
        resume_cost(passages, work)
        if args.llm:
            from domainteb.synth.llm_server import LocalLLMServer, default_gguf_path, llama_cpp_available

            if not llama_cpp_available():
                print("[llama.cpp] skipped: llama-cpp-python is not installed")
                return
            gguf = default_gguf_path()
            small = passages[: args.llm_jobs]
            knobs = {"max_tokens": 48, "response_format": "json_object_schema"}
            with LocalLLMServer(gguf, n_threads=2, model_alias="m") as one:
                scaling("llama.cpp, 1 server x 2 threads", small, [one.base_url], "m", work / "llm1", n=len(small), **knobs)
            if not args.two_servers:
                return
            with LocalLLMServer(gguf, n_threads=1, model_alias="m") as a, LocalLLMServer(gguf, n_threads=1, model_alias="m") as b:
                scaling("llama.cpp, 2 servers x 1 thread, round robin", small, [a.base_url, b.base_url], "m", work / "llm2", n=len(small), **knobs)


if __name__ == "__main__":
    main()
