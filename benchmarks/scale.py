"""Synthetic retrieval at 10K → 100K → 1M passages: peak RSS, wall time, time per 1K passages.

The embeddings are **precomputed synthetic vectors, not a model's**: 384-dim, clustered (each
passage = one of 2,000 random unit "topic" centres + Gaussian noise, normalised), and each of
the 1,000 queries is a noisy copy of one passage, which is its only relevant document. They
are written once into the real embedding cache (memory-mapped shards, keyed by the texts
``synthetic passage <i>``), so each run goes through the real evaluation path (keys, cache
lookup and memmap reads, chunked add, search, metrics) and search plus I/O dominate, with no
encoder time. Each (size, backend) runs in its own process, so its peak RSS is its own.

Targets: 1M × 384 peak RSS <= 4 GiB; time per passage 100K → 1M grows <= 1.2×;
faiss-flat equals exact; approximate recall@10 >= 0.95 at >= 3× the exact search speed at 1M.

    nice -n 5 python benchmarks/scale.py                       # 10K, 100K, 1M
    python benchmarks/scale.py --sizes 10000,100000 --backends exact,faiss-flat,faiss-ivf,faiss-hnsw
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
from typing import Any

import numpy as np

DIM = 384
N_TOPICS = 2000
N_QUERIES = 1000
CHUNK = 50_000
K_VALUES = [1, 5, 10, 100]


def passage_text(i: int) -> str:
    return f"synthetic passage {i}"


def topic_centres(seed: int = 0) -> np.ndarray:
    c = np.random.default_rng(seed).standard_normal((N_TOPICS, DIM)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def passage_vectors(start: int, stop: int, centres: np.ndarray) -> np.ndarray:
    """Vectors of passages ``start..stop`` (deterministic per 10K block, so sizes are prefixes)."""
    out = []
    for block in range(start // 10_000, (stop - 1) // 10_000 + 1):
        rng = np.random.default_rng(1_000_003 + block)
        topics = rng.integers(0, N_TOPICS, 10_000)
        v = centres[topics] + rng.standard_normal((10_000, DIM)).astype(np.float32) * (0.6 / np.sqrt(DIM))
        lo, hi = max(start, block * 10_000), min(stop, (block + 1) * 10_000)
        out.append(v[lo - block * 10_000 : hi - block * 10_000])
    v = np.concatenate(out)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def query_rows(size: int) -> np.ndarray:
    return np.sort(np.random.default_rng(7).choice(size, N_QUERIES, replace=False))


class PrecomputedOnly:
    """Encoder identity for the cache; refuses to embed (every vector must come from the cache)."""

    name = "synthetic-384"
    revision = "precomputed-v1"

    def prompt_for(self, prompt_type: Any, task_name: Any = None) -> str:
        return ""

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), np.float32)
        raise RuntimeError(f"{len(texts)} texts are not in the cache (run the prepare step)")

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision}


def query_text(i: int) -> str:
    return f"synthetic query about passage {i}"


def prepare(cache_dir: Path, size: int) -> None:
    """Write passage and query vectors into the embedding cache (once per size)."""
    from domainteb.eval.cache import CachedEncoder

    enc = CachedEncoder(PrecomputedOnly(), cache_dir)
    marker = cache_dir / f"prepared-{size}"
    if marker.exists():
        return
    centres = topic_centres()
    done = max([int(p.name.split("-")[1]) for p in cache_dir.glob("prepared-*")] or [0])
    for start in range(done, size, CHUNK):
        stop = min(size, start + CHUNK)
        enc.put(enc.keys_for([passage_text(i) for i in range(start, stop)], prompt_type="document"),
                passage_vectors(start, stop, centres))
    rows = query_rows(size)
    rng = np.random.default_rng(11)
    q = passage_vectors(0, size, centres)[rows] if size <= 200_000 else np.concatenate(
        [passage_vectors(int(r), int(r) + 1, centres) for r in rows])
    q = q + rng.standard_normal(q.shape).astype(np.float32) * (1.6 / np.sqrt(DIM))
    enc.put(enc.keys_for([query_text(int(r)) for r in rows], prompt_type="query"), q.astype(np.float32))
    marker.touch()


def child(cache_dir: Path, size: int, backend: str, dtype: str, out: Path) -> dict[str, Any]:
    """One measured evaluation (in its own process)."""
    from domainteb.core.types import RetrievalData, Task, TaskMetadata, TaskType
    from domainteb.eval.cache import CachedEncoder
    from domainteb.eval.evaluators.retrieval import evaluate_ranking
    from domainteb.eval.search import SearchSettings, peak_rss_bytes, use_settings

    import faiss  # noqa: F401  (imports are not the search path: paid before the clock starts)
    import torch  # noqa: F401

    rss_before = peak_rss_bytes()
    start = time.perf_counter()
    rows = query_rows(size)
    data = RetrievalData(
        corpus={f"d{i}": {"text": passage_text(i)} for i in range(size)},
        queries={f"q{r}": query_text(int(r)) for r in rows},
        qrels={f"q{r}": {f"d{r}": 1} for r in rows},
    )
    meta = TaskMetadata(name=f"Synthetic{size}", type=TaskType.RETRIEVAL, main_score="ndcg_at_10",
                        params={"k_values": K_VALUES})
    task = Task(metadata=meta, loader=lambda: {"test": data})
    model = CachedEncoder(PrecomputedOnly(), cache_dir)
    settings = SearchSettings(backend=backend, dtype=dtype, corpus_chunk_size=CHUNK)
    with use_settings(settings):
        result = evaluate_ranking(task, "test", model, data=data)
    wall = time.perf_counter() - start
    searched = result.settings["search"]
    top = result.items  # per-query main scores; the run itself is compared through the metrics
    record = {
        "size": size, "backend": backend, "dtype": dtype, "wall_s": wall,
        "ms_per_1k": 1000 * wall / size * 1000, "peak_rss_gib": peak_rss_bytes() / 2**30,
        "rss_before_gib": rss_before / 2**30, "index_s": searched["index_seconds"],
        "search_s": searched["search_seconds"], "recall_at_10": searched["recall_at_10"],
        "ndcg_at_10": result.metrics["ndcg_at_10"], "params": searched["params"],
        "cache_hits": model.stats.hits, "cache_misses": model.stats.misses, "n_items": len(top.get("ids", [])),
    }
    out.write_text(json.dumps(record), encoding="utf-8")
    return record


def run_child(cache_dir: Path, size: int, backend: str, dtype: str, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{size}-{backend}-{dtype}.json"
    cmd = [sys.executable, __file__, "--child", str(cache_dir), str(size), backend, dtype, str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--backends", default="exact,faiss-flat,faiss-ivf")
    ap.add_argument("--fp16", action="store_true", help="also run the exact backend with float16 storage")
    ap.add_argument("--cache-dir", default="", help="embedding cache to (re)use; default: a temporary folder")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--prepare", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.prepare:
        prepare(Path(args.prepare[0]), int(args.prepare[1]))
        return 0
    if args.child:
        cache, size, backend, dtype, out = args.child
        child(Path(cache), int(size), backend, dtype, Path(out))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache_dir = Path(args.cache_dir) if args.cache_dir else tmp / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        for size in sizes:
            t = time.perf_counter()
            # in a child too: a forked child inherits its parent's peak RSS, so the parent stays small
            subprocess.run([sys.executable, __file__, "--prepare", str(cache_dir), str(size)], check=True)
            print(f"prepared {size:,} precomputed vectors in the cache ({time.perf_counter() - t:.1f} s)", flush=True)
            runs = [(b, "float32") for b in backends] + ([("exact", "float16")] if args.fp16 else [])
            for backend, dtype in runs:
                rec = run_child(cache_dir, size, backend, dtype, tmp)
                rows.append(rec)
                print(json.dumps(rec), flush=True)
    print()
    print("synthetic precomputed embeddings (not a model), 384 dims, 1,000 queries, top-100, "
          f"corpus_chunk_size={CHUNK:,}; one process per row")
    print(f"{'passages':>10} {'backend':>11} {'dtype':>8} {'peak RSS GiB':>12} {'wall s':>8} {'ms/1K':>8} "
          f"{'search s':>9} {'nDCG@10':>8} {'recall@10':>9}")
    for r in rows:
        rec = "" if r["recall_at_10"] is None else f"{r['recall_at_10']:.4f}"
        print(f"{r['size']:>10,} {r['backend']:>11} {r['dtype']:>8} {r['peak_rss_gib']:>12.2f} {r['wall_s']:>8.1f} "
              f"{1000 * r['wall_s'] / r['size'] * 1000:>8.2f} {r['search_s']:>9.2f} {r['ndcg_at_10']:>8.4f} {rec:>9}")
    by = {(r["size"], r["backend"], r["dtype"]): r for r in rows}
    big = max(sizes)
    exact = by.get((big, "exact", "float32"))
    print()
    if exact and 1_000_000 in sizes:
        print(f"peak RSS at {big:,} (exact, float32): {exact['peak_rss_gib']:.2f} GiB   (target <= 4 GiB)")
    mid = [s for s in sizes if s < big]
    if exact and mid:
        m = by[(max(mid), "exact", "float32")]
        growth = (exact["wall_s"] / exact["size"]) / (m["wall_s"] / m["size"])
        print(f"time per passage {max(mid):,} -> {big:,} (exact): {growth:.3f}x   (target <= 1.2)")
    for size in sizes:
        e, f = by.get((size, "exact", "float32")), by.get((size, "faiss-flat", "float32"))
        if e and f:
            print(f"faiss-flat vs exact at {size:,}: nDCG@10 {f['ndcg_at_10']:.6f} vs {e['ndcg_at_10']:.6f} "
                  f"(run equality is tested in tests/scale/test_scale_search.py)")
    for name in ("faiss-ivf", "faiss-hnsw"):
        a = by.get((big, name, "float32"))
        if a and exact:
            print(f"{name} at {big:,}: recall@10 {a['recall_at_10']:.4f} (target >= 0.95), search "
                  f"{exact['search_s'] / max(a['search_s'], 1e-9):.1f}x exact's speed (target >= 3), whole run "
                  f"{exact['wall_s'] / a['wall_s']:.2f}x (index build {a['index_s']:.1f} s vs {exact['index_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
