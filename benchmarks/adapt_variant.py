"""One GPL variant on one full dev set, scored on its real test queries (not a timed test).

Where ``adapt_corpus.py`` runs the whole report (GPL, QGen, every generalist), this script answers
one question per run, cheaply: does *this* recipe setting beat the base on real questions?

* GPL (or QGen) with ``--override`` settings on the set's corpus, LLM-free pseudo-queries
  (``--generator ict|crop``, ``--per-passage``), caches under ``<out>/<set>[-p<N>]/cache-<generator>``;
* weight-space interpolation with the base (WiSE-FT, Wortsman et al. 2022): for each ``--alphas``
  value a, weights a·adapted + (1 − a)·base, saved next to the run (a = 1 is the adapted model);
* ``--rerank-depth K``: the teacher's ceiling, BM25 top-K reranked by the cross-encoder;
* every row (``adapt_corpus``'s report table): nDCG@10 ×100 over all test queries with its 95 % CI,
  and Δ vs the base with its 95 % paired-bootstrap CI.

The test queries and qrels are only read for scoring; the dev curve uses held-out generated queries.

    .venv/bin/python benchmarks/adapt_variant.py --set finance_tatqa --base e5-small --tag lr4e5 \\
        --override max_queries=600 --override train.learning_rate=4e-5 --alphas 1,0.5,0.25
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adapt_corpus as ac  # noqa: E402  (the dev-set helpers: chunking, pseudo-queries, overrides)

def interpolate(base: str, adapted: Path, alpha: float, dest: Path) -> Path:
    """``alpha``·adapted + (1 − alpha)·base, floating-point tensors only, saved as a model folder."""
    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.export import save_model_folder
    from domainteb.core.io import atomic_write_json, read_json

    if (dest / "modules.json").is_file():
        return dest
    base_state = load_sentence_transformer(base).state_dict()
    model = load_sentence_transformer(str(adapted))
    mixed = {k: alpha * v + (1 - alpha) * base_state[k] if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(mixed)
    save_model_folder(model, dest, f"# {alpha:g}·{adapted.name} + {1 - alpha:g}·{base} (WiSE-FT interpolation)\n")
    info = read_json(adapted / "domainteb_model.json")
    info["name"] = f"{info['name']}-wise{alpha:g}"
    info["labels"] = [*info.get("labels", []), f"wise-{alpha:g}"]
    atomic_write_json(dest / "domainteb_model.json", info)
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="finance_tatqa", choices=ac.ALL_SETS)
    p.add_argument("--base", default="e5-small")
    p.add_argument("--method", default="gpl", choices=["gpl", "qgen"])
    p.add_argument("--generator", default="ict", choices=["ict", "crop"])
    p.add_argument("--per-passage", type=int, default=1)
    p.add_argument("--tag", required=True, help="name of this variant (its run folder)")
    p.add_argument("--override", action="append", default=[], help="GPL setting, e.g. train.max_steps=100")
    p.add_argument("--alphas", default="1", help="comma-separated interpolation weights of the adapted model")
    p.add_argument("--rerank-depth", type=int, default=0, help="also score BM25 top-K → cross-encoder (0 = off)")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="outputs/bench_adapt_variant")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from domainteb.adapt.gpl import load_gpl_config, run
    from domainteb.core.taskio import load_task_folder
    from domainteb.eval.models import load_model
    from domainteb.eval.models.rerank import BM25CrossEncoderRerank
    from domainteb.eval.runner import evaluate_task

    root = Path(args.out)
    out = root / (args.set if args.per_passage == 1 else f"{args.set}-p{args.per_passage}")
    devset = ac.DEVSETS / args.set
    chunks, _, _ = ac.prepare_corpus(devset, out, args.base, args.max_tokens, args.overlap)
    queries = ac.prepare_queries(chunks, out, args.generator, args.per_passage, 42)
    task = load_task_folder(devset)
    results = root / args.set / "results"

    def score(model: Any) -> Any:
        return evaluate_task(task, model, output_dir=results, batch_size=32, overwrite=False)[0]

    start = time.perf_counter()
    cfg = load_gpl_config("cpu", {"base": args.base, "method": args.method, **ac._parse_overrides(args.override)})
    res = run(cfg, out / f"adapt-{args.tag}", chunks_path=chunks, queries_path=queries,
              cache_dir=out / f"cache-{args.generator}", name=args.tag, domain=args.set.split("_")[0])
    s = res.summary
    curve = ", ".join(f"{p['step']}:{100 * p['ndcg_at_10']:.1f}" for p in s["dev_curve"])
    print(f"{args.tag}: queries {json.dumps(s['queries'])}; {s['negatives']['training_triplets']} triplets; "
          f"dev {100 * s['base_dev']:.2f} → {100 * s['best_dev']:.2f} (step {s['best_step']}; {curve}); "
          f"{time.perf_counter() - start:.0f}s", flush=True)

    evals: dict[str, Any] = {}

    def add(label: str, model: Any) -> None:
        evals[label] = (score(model), model.model_info())

    add(f"{args.base} (base)", load_model(args.base))
    for alpha in (float(a) for a in args.alphas.split(",")):
        folder = res.model_dir if alpha == 1 else interpolate(args.base, res.model_dir, alpha,
                                                              out / f"adapt-{args.tag}-wise{alpha:g}")
        add(f"{args.tag} (a={alpha:g})", load_model(str(folder)))
    if args.rerank_depth > 0:
        add("bm25", load_model("bm25"))
        rerank = BM25CrossEncoderRerank(load_model("bm25", cache=False), load_model("ms-marco-reranker", cache=False),
                                        depth=args.rerank_depth)
        add(rerank.name, rerank)
    ac.print_report(args.set, ac.report_rows(evals, f"{args.base} (base)"), f"{args.base} (base)")


if __name__ == "__main__":
    main()
