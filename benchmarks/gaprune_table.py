"""A GAPrune Table-1-style comparison at one sparsity, measured in one run on CPU.

For each domain: dense, random, magnitude, Fisher-general, Fisher-domain and GAPrune masks over
the FFN weights of the same base model (one global ranking, exact count), scored one-shot and
after a short retrain with the mask fixed, on the domain suite's tasks (average of main scores,
test split, offline size ``--size``) and on the general WordNet task. Also prints the cost of
the per-sample Fisher pass relative to one training epoch on the same triplets (target <= 2x).

    python benchmarks/gaprune_table.py --domains finance --n-calibration 128 --retrain-steps 20 --size tiny
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CRITERIA = ("random", "magnitude", "fisher_general", "fisher_domain", "gaprune")
TYPE_ORDER = ("Retrieval", "Reranking", "PairClassification", "STS", "Classification", "Clustering")


def pick_tasks(domain: str, n: int, size: str) -> list[Any]:
    """The domain's first ``n`` English tasks, one per type in TYPE_ORDER first."""
    from domainteb.core.tasks import list_tasks

    specs = [s for s in list_tasks(domain=domain, benchmark="domainteb") if s.type.value in TYPE_ORDER]
    specs.sort(key=lambda s: (TYPE_ORDER.index(s.type.value), s.name))
    chosen, seen = [], set()
    for s in specs:  # one per type first, then the rest
        if s.type.value not in seen:
            chosen.append(s)
            seen.add(s.type.value)
    chosen += [s for s in specs if s not in chosen]
    return [s.build(size=size) for s in chosen[:n]]


def task_average(model: Any, tasks: list[Any], seed: int) -> float:
    from domainteb.adapt.evaluator import TrainingEncoder
    from domainteb.eval.evaluators import evaluate_split

    model.eval()
    scores = []
    for i, task in enumerate(tasks):
        split = "test" if "test" in task.metadata.eval_splits else task.metadata.eval_splits[0]
        enc = TrainingEncoder(model, "gaprune-table", f"rev-{time.perf_counter_ns()}-{i}")
        out = evaluate_split(task, split, enc, batch_size=64, seed=seed)
        scores.append(float(out.metrics["main_score"] if hasattr(out, "metrics") else out["main_score"]))
    return sum(scores) / len(scores)


def run_domain(domain: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.gaprune.calibration import representative_sample, to_triplets
    from domainteb.adapt.gaprune.masks import apply_mask, jaccard_pruned
    from domainteb.adapt.gaprune.prune import PruneSettings, collect_stats, make_mask
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.targets import prunable_targets
    from domainteb.core.tasks import get_task
    from domainteb.domains import general_triplets, train_pairs

    n = args.n_calibration
    dense = load_sentence_transformer(args.base, device="cpu")
    dom_pool = to_triplets(train_pairs(domain, 4 * n + args.retrain_pairs), domain, args.seed)
    gen_pool = to_triplets(general_triplets(4 * n, args.seed), "wordnet", args.seed)
    embed = lambda t: dense.encode(t, batch_size=64, normalize_embeddings=True)  # noqa: E731
    sets = {"domain": representative_sample(dom_pool[: 4 * n], n, embed, iters=20, seed=args.seed),
            "general": representative_sample(gen_pool, n, embed, iters=20, seed=args.seed)}
    retrain_set = dom_pool[4 * n :] or dom_pool
    dom_tasks = pick_tasks(domain, args.tasks_per_domain, args.size)
    gen_tasks = [get_task("GenWordNetGlossRetrieval", size=args.size)]
    print(f"[{domain}] tasks: {', '.join(t.name for t in dom_tasks)} | general: {gen_tasks[0].name}", flush=True)

    # cost of the per-sample Fisher pass vs one training epoch on the same triplets
    targets = prunable_targets(dense)
    t0 = time.perf_counter()
    stats = collect_stats(dense, targets, sets, {"domain", "general"}, batch_size=32)
    fisher_s = stats.seconds["domain"]
    probe = copy.deepcopy(dense)
    ptargets = prunable_targets(probe)
    full = {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in ptargets}
    t0 = time.perf_counter()
    retrain(probe, sets["domain"], targets=ptargets, mask=full, steps=max(1, n // 32), output_dir=args.work / "epoch",
            batch_size=32, seed=args.seed)
    epoch_s = time.perf_counter() - t0
    del probe
    print(f"[{domain}] Fisher pass over {n} triplets: {fisher_s:.1f}s; one training epoch on them: {epoch_s:.1f}s; "
          f"ratio {fisher_s / epoch_s:.2f}x (target <= 2x)", flush=True)

    rows = [{"domain": domain, "method": "dense", "dom_1shot": task_average(dense, dom_tasks, args.seed),
             "gen_1shot": task_average(dense, gen_tasks, args.seed)}]
    rows[0].update(dom_retr=rows[0]["dom_1shot"], gen_retr=rows[0]["gen_1shot"], jaccard_mag=None)
    mag_mask, _ = make_mask(targets, PruneSettings(criterion="magnitude", sparsity=args.sparsity))
    for crit in CRITERIA:
        model = copy.deepcopy(dense)
        mtargets = prunable_targets(model)
        mask, terms = make_mask(mtargets, PruneSettings(criterion=crit, sparsity=args.sparsity, seed=args.seed), stats)
        apply_mask(mtargets, mask)
        row = {"domain": domain, "method": crit, "dom_1shot": task_average(model, dom_tasks, args.seed),
               "gen_1shot": task_average(model, gen_tasks, args.seed), "jaccard_mag": jaccard_pruned(mask, mag_mask)}
        if args.retrain_steps > 0:
            retrain(model, retrain_set, targets=mtargets, mask=mask, steps=args.retrain_steps,
                    output_dir=args.work / crit, batch_size=32, seed=args.seed)
            row["dom_retr"] = task_average(model, dom_tasks, args.seed)
            row["gen_retr"] = task_average(model, gen_tasks, args.seed)
        if terms:
            print(f"[{domain}] DAI mean |term|: " + ", ".join(f"{k}={v:.3g}" for k, v in terms.items()), flush=True)
        print(f"[{domain}] {crit}: {row}", flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from pathlib import Path

    import pandas as pd
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domains", default="finance", help="comma-separated: finance,chemistry,medical")
    p.add_argument("--base", default="minilm-l6")
    p.add_argument("--sparsity", type=float, default=0.5)
    p.add_argument("--n-calibration", type=int, default=128)
    p.add_argument("--retrain-steps", type=int, default=20)
    p.add_argument("--retrain-pairs", type=int, default=640)
    p.add_argument("--size", default="tiny", help="offline task size: tiny | small | full")
    p.add_argument("--tasks-per-domain", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        args.work = Path(work)
        for domain in [d.strip() for d in args.domains.split(",") if d.strip()]:
            rows += run_domain(domain, args)
    df = pd.DataFrame(rows)
    for col in ("dom_1shot", "gen_1shot", "dom_retr", "gen_retr"):
        dense = df.groupby("domain")[col].transform(lambda s: s.iloc[0])
        df[f"{col}_d%"] = 100 * (df[col] / dense - 1)
    cols = ["domain", "method", "dom_1shot", "dom_1shot_d%", "gen_1shot", "gen_1shot_d%",
            "dom_retr", "dom_retr_d%", "gen_retr", "gen_retr_d%", "jaccard_mag"]
    print(f"\nGAPrune Table-1 style: {args.base}, {args.sparsity:.0%} FFN sparsity, n_calibration={args.n_calibration}, "
          f"retrain {args.retrain_steps} steps, size={args.size} (d% = change vs dense)")
    print(df[[c for c in cols if c in df]].to_markdown(index=False, floatfmt=".4f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
