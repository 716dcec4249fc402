"""Adapt to your own corpus, measured on the real BEIR dev sets (not a timed test).

Per dev set (../shared/devsets/<set>): corpus = the set's corpus (its queries and qrels are
used for evaluation only), LLM-free pseudo-queries (ICT), GPL and QGen on the same pairs with
``profile=<cpu|gpu>``, then every model on the set's test queries. Prints the report table
(nDCG@10 with its 95 % bootstrap CI, Δ vs the base with the 95 % paired-bootstrap CI), the
ablation table, queries kept per filter and wall time per stage; writes
``<out>/<set>/benchmark.json``.

    nice -n 5 .venv/bin/python benchmarks/adapt_corpus.py --sets medical_covidqa --base bge-small
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

DEVSETS = Path(__file__).resolve().parents[1].parent / "shared" / "devsets"
ALL_SETS = ("medical_covidqa", "finance_tatqa", "chemistry_openstax")
GENERALISTS = ("minilm-l6", "bge-small", "e5-small", "mpnet")
N_BOOT = 2000


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def _items(result: Any) -> dict[str, Any]:
    return result.domainteb["items"]["test"]


def _score_ci(items: dict[str, Any], rng: np.random.Generator) -> tuple[float, float]:
    values = np.asarray(items["values"], dtype=np.float64)
    reps = values[rng.integers(0, len(values), size=(N_BOOT, len(values)))].mean(axis=1)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return float(lo), float(hi)


def subset_devset(devset: Path, out: Path, n_queries: int | None, n_passages: int | None, seed: int) -> Path:
    """A smaller BEIR folder (under ``out``, never the repo): ``n_queries`` test queries drawn with ``seed``,
    all their relevant passages, and random other passages up to ``n_passages`` (the CPU-budget knob)."""
    import csv
    import random

    from domainteb.core.io import atomic_write_jsonl, atomic_write_text, read_jsonl

    if not n_queries and not n_passages:
        return devset
    target = out / "devset"
    if (target / "qrels" / "test.tsv").is_file():
        return target
    with open(devset / "qrels" / "test.tsv", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t")][1:]
    qids = sorted({r[0] for r in rows})
    rng = random.Random(seed)
    keep_q = set(rng.sample(qids, min(n_queries, len(qids)))) if n_queries else set(qids)
    rows = [r for r in rows if r[0] in keep_q]
    gold = {r[1] for r in rows}
    corpus = read_jsonl(devset / "corpus.jsonl")
    others = [d["_id"] for d in corpus if d["_id"] not in gold]
    n_other = max(0, (n_passages or len(corpus)) - len(gold))
    keep_d = gold | set(rng.sample(others, min(n_other, len(others))))
    atomic_write_jsonl(target / "corpus.jsonl", [d for d in corpus if d["_id"] in keep_d])
    atomic_write_jsonl(target / "queries.jsonl", [q for q in read_jsonl(devset / "queries.jsonl") if q["_id"] in keep_q])
    atomic_write_text(target / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows))
    return target


def prepare_corpus(devset: Path, run_dir: Path, base: str, max_tokens: int, overlap: int) -> tuple[Path, int, int]:
    from domainteb.corpus import chunk_documents, load_documents, load_tokenizer, write_chunks

    chunks_path = run_dir / "corpus" / "chunks.jsonl"
    docs = load_documents(devset)
    if not chunks_path.is_file():
        tokenizer, _ = load_tokenizer(base)
        write_chunks(chunks_path, chunk_documents(docs, tokenizer, max_tokens=max_tokens, overlap=overlap))
    n_chunks = sum(1 for _ in open(chunks_path, encoding="utf-8"))
    return chunks_path, len(docs), n_chunks


def prepare_queries(chunks_path: Path, run_dir: Path, method: str, per_passage: int, seed: int) -> Path:
    from domainteb.corpus import read_chunks
    from domainteb.synth.pseudo_queries import generate_pseudo_queries, queries_file, write_queries

    path = queries_file(run_dir, method)
    if not path.is_file():
        write_queries(path, generate_pseudo_queries(read_chunks(chunks_path), method=method,
                                                    per_passage=per_passage, seed=seed))
    return path


def evaluate(models: dict[str, Any], task: Any, results_dir: Path, times: dict[str, float]) -> dict[str, Any]:
    from domainteb.eval.runner import evaluate_task

    out = {}
    for label, loader in models.items():
        start = time.perf_counter()
        model = loader()
        result, _, reused = evaluate_task(task, model, output_dir=results_dir, batch_size=32, overwrite=False)
        times[f"eval {label}"] = round(time.perf_counter() - start, 1)
        out[label] = (result, model.model_info())
        print(f"  eval {label}: nDCG@10 {result.main_score():.4f} ({'reused' if reused else 'computed'}, "
              f"{times[f'eval {label}']:.0f}s)", flush=True)
    return out


def report_rows(evals: dict[str, Any], base_label: str) -> list[dict[str, Any]]:
    from domainteb.eval.report.bootstrap import paired_bootstrap

    rng = np.random.default_rng(0)
    base_items = _items(evals[base_label][0])
    rows = []
    for label, (result, info) in evals.items():
        items = _items(result)
        lo, hi = _score_ci(items, rng)
        row = {"model": label, "n_parameters": info.get("n_parameters"), "labels": info.get("labels", []),
               "ndcg_at_10": result.main_score(), "ci": [lo, hi], "n_queries": len(items["ids"])}
        if label != base_label:
            diff = paired_bootstrap(items, base_items, n_boot=N_BOOT, seed=0)
            row |= {"delta": diff.diff, "delta_ci": [diff.lo, diff.hi], "significant": diff.significant}
        rows.append(row)
    return rows


def _fmt_params(n: Any) -> str:
    return f"{n / 1e6:.1f}M" if isinstance(n, (int, float)) and n else "–"


def print_report(name: str, rows: list[dict[str, Any]], base_label: str) -> str:
    lines = [f"### {name}: test queries (n = {rows[0]['n_queries']}), nDCG@10 ×100", "",
             "| model | params | labels | nDCG@10 [95 % CI] | Δ vs base [95 % paired CI] |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["ndcg_at_10"]):
        score = f"{100 * r['ndcg_at_10']:.2f} [{100 * r['ci'][0]:.2f}, {100 * r['ci'][1]:.2f}]"
        if r["model"] == base_label:
            delta = "(base)"
        else:
            sig = " *" if r["significant"] else ""
            delta = f"{100 * r['delta']:+.2f} [{100 * r['delta_ci'][0]:+.2f}, {100 * r['delta_ci'][1]:+.2f}]{sig}"
        lines.append(f"| {r['model']} | {_fmt_params(r['n_parameters'])} | {', '.join(r['labels'])} | {score} | {delta} |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def print_ablation(name: str, summaries: dict[str, dict[str, Any]], rows: dict[str, dict[str, Any]]) -> str:
    lines = [f"### {name}: ablation (same generated queries and filters)", "",
             "| variant | loss | trained on | steps | dev nDCG@10: base → best (step) | test nDCG@10 | Δ vs base [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    for label, s in summaries.items():
        r = rows[label]
        curve = ", ".join(f"{p['step']}:{100 * p['ndcg_at_10']:.1f}" for p in s["dev_curve"])
        lines.append(
            f"| {label} | {s['loss']} | {s['queries']['trained_on']} queries ({s['train_rows']} rows) | {s['global_step']} | "
            f"{100 * s['base_dev']:.2f} → {100 * s['best_dev']:.2f} ({s['best_step']}) | {100 * r['ndcg_at_10']:.2f} | "
            f"{100 * r['delta']:+.2f} [{100 * r['delta_ci'][0]:+.2f}, {100 * r['delta_ci'][1]:+.2f}] |")
        lines.append(f"|  dev curve (step:nDCG) | {curve} | | | | | |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def print_filters(name: str, summary: dict[str, Any]) -> str:
    q, n = summary["queries"], summary["negatives"]
    order = ["generated", "unique", "sampled", "dev_held_out", "train_candidates", "round_trip_kept", "ce_filter_kept",
             "with_negative"]
    lines = [f"### {name}: queries kept per filter ({', '.join(summary['generators'])})", "",
             "| step | queries |", "|---|---|"] + [f"| {k} | {q[k]} |" for k in order if k in q]
    lines += ["", f"negatives: {json.dumps(n['per_miner'])}; merged {n['merged']}, CE false-negative guard dropped "
                  f"{n['ce_false_negative_dropped']}, training triplets {n['training_triplets']}; teacher "
                  f"{summary['teacher']} ({', '.join(summary['teacher_labels'])})"]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def run_set(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from domainteb.adapt.gpl import load_gpl_config, run
    from domainteb.core.taskio import load_task_folder
    from domainteb.eval.models import load_model
    from domainteb.eval.models.lexical import LexicalModel  # noqa: F401  (registry import side effects)
    from domainteb.eval.models.loader import load_rrf
    from domainteb.eval.models.rerank import BM25CrossEncoderRerank

    out = Path(args.out) / name
    devset = subset_devset(DEVSETS / name, out, args.n_queries, args.n_passages, args.seed)
    times: dict[str, float] = {}
    wall = time.perf_counter()
    print(f"== {name} ({devset}; n_queries={args.n_queries}, n_passages={args.n_passages})", flush=True)
    start = time.perf_counter()
    chunks_path, n_docs, n_chunks = prepare_corpus(devset, out, args.base, args.max_tokens, args.overlap)
    times["corpus (load + chunk)"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    queries_path = prepare_queries(chunks_path, out, args.generator, args.per_passage, args.seed)
    times[f"queries ({args.generator})"] = round(time.perf_counter() - start, 1)
    print(f"  {n_docs} passages → {n_chunks} chunks; queries in {queries_path}", flush=True)

    overrides = {"base": args.base, **_parse_overrides(args.override)}
    summaries, models = {}, {}
    for method in args.methods:
        start = time.perf_counter()
        cfg = load_gpl_config(args.profile, {**overrides, "method": method})
        result = run(cfg, out / f"adapt-{method}", chunks_path=chunks_path, queries_path=queries_path,
                     cache_dir=out / "gpl-cache", name=f"{args.base}-{name.split('_')[0]}-{method}",
                     domain=name.split("_")[0])
        times[f"adapt {method}"] = round(time.perf_counter() - start, 1)
        summaries[method] = result.summary
        for stage, sec in result.summary["stage_seconds"].items():
            times[f"  {method}: {stage}"] = sec
        models[method] = (lambda d=str(result.model_dir): load_model(d))
        print(f"  {method}: dev {result.summary['base_dev']:.4f} → {result.summary['best_dev']:.4f} "
              f"(step {result.summary['best_step']}) in {times[f'adapt {method}']:.0f}s", flush=True)

    task = load_task_folder(devset)
    best = args.methods[0]
    models[args.base] = lambda: load_model(args.base)
    for g in args.generalists:
        if g != args.base:
            models[g] = (lambda g=g: load_model(g))
    models["bm25"] = lambda: load_model("bm25")
    models[f"rrf({best}+bm25)"] = lambda: load_rrf(str(out / f"adapt-{best}" / "model"))
    for g in args.generalists:  # the large generalists last: the cheap rows are in first
        if g != args.base and g in models:
            models[g] = models.pop(g)
    if args.rerank_depth > 0:
        models[f"bm25-ce-rerank-top{args.rerank_depth}"] = lambda: BM25CrossEncoderRerank(
            load_model("bm25", cache=False), load_model("ms-marco-reranker", cache=False), depth=args.rerank_depth)
    evals = evaluate(models, task, out / "results", times)
    rows = report_rows(evals, args.base)
    by_label = {r["model"]: r for r in rows}
    times["total"] = round(time.perf_counter() - wall, 1)
    text = [print_report(name, rows, args.base), print_ablation(name, summaries, by_label),
            print_filters(name, summaries[best])]
    tlines = [f"### {name}: wall time per stage (s)", "", "| stage | seconds |", "|---|---|"]
    tlines += [f"| {k} | {v:.1f} |" for k, v in times.items()]
    print("\n".join(tlines), flush=True)
    text.append("\n".join(tlines))
    record = {"set": name, "devset": str(devset), "n_passages": n_docs, "n_chunks": n_chunks, "base": args.base, "profile": args.profile,
              "rows": rows, "summaries": summaries, "seconds": times, "markdown": "\n\n".join(text)}
    (out / "benchmark.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(ALL_SETS))
    p.add_argument("--base", default="bge-small")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--methods", default="gpl,qgen")
    p.add_argument("--generator", default="ict", choices=["ict", "crop"])
    p.add_argument("--per-passage", type=int, default=1)
    p.add_argument("--generalists", default=",".join(GENERALISTS))
    p.add_argument("--rerank-depth", type=int, default=100)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--n-queries", type=int, default=None, help="evaluate on a seeded sample of the test queries")
    p.add_argument("--n-passages", type=int, default=None,
                   help="corpus = the sampled queries' relevant passages + random others up to this size")
    p.add_argument("--out", default="outputs/bench_adapt_corpus")
    p.add_argument("--override", action="append", default=[], help="GPL setting, e.g. train.max_steps=100")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest on a shared 2-core box)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    args.methods = [m for m in args.methods.split(",") if m]
    args.generalists = [g for g in args.generalists.split(",") if g]
    records = [run_set(s, args) for s in args.sets.split(",") if s]
    if len(records) > 1:
        print("\n### summary over sets", flush=True)
        for r in records:
            d = {row["model"]: row for row in r["rows"]}
            print(f"- {r['set']}: " + ", ".join(f"{m} {100 * d[m]['ndcg_at_10']:.2f}" for m in d), flush=True)


if __name__ == "__main__":
    main()
