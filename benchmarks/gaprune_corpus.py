"""GAPrune on real domain text, in one run: why it lost to magnitude pruning, and where it stands now.

Data: a BEIR dev set (default ``../shared/devsets/medical_covidqa``). Its *corpus* is the user's
corpus (calibration and retraining pairs are made from it, LLM-free); its *test queries and qrels*
are only used for scoring: nDCG@10 over every test query, with paired-bootstrap 95 % CIs against
the dense model (same resampled queries for both models).

1. Ablation, one-shot at ``--sparsity`` of the FFN weights, one factor at a time from today's old
   defaults: calibration source (the domain suite's train pairs vs pseudo-queries from the corpus),
   β (general Fisher subtracted), the alignment sign handling (literal ``B·(1+α·s)`` vs sign-aware
   ``B + α·s·|B|``), α, and the number of calibration triplets. Also prints, per configuration, the
   share of weights whose DAI bracket is negative and the Jaccard overlap with the magnitude mask.
2. Comparison: dense; dense retrained for ``--retrain-steps`` (the fair control); GAPrune and
   magnitude pruning one-shot and after the same retraining (mask fixed), on the same pairs.
3. ``--structured``: half (``--neuron-sparsity``) of the FFN neurons removed by GAPrune neuron
   scores, retrained the same steps, scored, and its real CPU encode speed-up over dense.

Calibration/retraining pairs: ``domainteb.synth.pseudo_queries`` (inverse cloze) when installed,
else a seeded inverse cloze here: one sentence of a passage is the query, the rest of the passage
(with its title) the positive, another passage the negative. The Fisher pass and retraining truncate
texts to ``--train-max-tokens`` (cost); scoring always uses the model's own maximum length.

    nice -n 5 python benchmarks/gaprune_corpus.py --devset ../shared/devsets/medical_covidqa \\
        --base minilm-l6 --n-calibration 256 --retrain-steps 30 --structured
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


@dataclass
class Scored:
    """nDCG@10 of one model on the dev set's test queries, with its per-query values."""

    name: str
    ndcg: float
    items: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def read_corpus(devset: Path) -> list[dict[str, str]]:
    """The dev set's passages only (never its queries or qrels)."""
    rows = []
    with open(devset / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                rows.append({"_id": str(rec["_id"]), "title": str(rec.get("title") or ""), "text": str(rec["text"])})
    return rows


def inverse_cloze(corpus: list[dict[str, str]], seed: int) -> list[dict[str, str]]:
    """One (query, positive) pair per passage: a random sentence of 6–40 words is the query, the
    passage without it (title kept) the positive. Passages without such a sentence are skipped."""
    rng = random.Random(seed)
    out = []
    for rec in corpus:
        sents = [s.strip() for s in _SENT.split(rec["text"]) if s.strip()]
        cand = [i for i, s in enumerate(sents) if 6 <= len(s.split()) <= 40]
        if len(sents) < 2 or not cand:
            continue
        i = rng.choice(cand)
        rest = " ".join(s for j, s in enumerate(sents) if j != i)
        out.append({"anchor": sents[i], "positive": f"{rec['title']}. {rest}".strip(". ") if rec["title"] else rest,
                    "pid": rec["_id"]})
    return out


def corpus_pairs(corpus: list[dict[str, str]], seed: int) -> tuple[list[dict[str, str]], str]:
    """Pseudo-query pairs from the corpus: the shared LLM-free generator when present, else ours."""
    try:
        from domainteb.corpus import Chunk  # type: ignore[attr-defined]
        from domainteb.synth.pseudo_queries import generate_pseudo_queries
    except ImportError:
        return inverse_cloze(corpus, seed), "inverse cloze (benchmark-local, seeded)"
    chunks = [Chunk.model_validate({**rec, "doc_id": rec["_id"]}) for rec in corpus]
    text = {rec["_id"]: f"{rec['title']}. {rec['text']}" if rec["title"] else rec["text"] for rec in corpus}
    queries = generate_pseudo_queries(chunks, method="ict", per_passage=1, seed=seed)
    pairs = [{"anchor": q.query, "positive": q.positive_text or text[q.pid], "pid": q.pid} for q in queries]
    return pairs, "domainteb.synth.pseudo_queries (ict)"


@contextlib.contextmanager
def max_tokens(model: Any, n: int | None) -> Iterator[None]:
    """Temporarily truncate inputs to ``n`` tokens (Fisher pass and retraining only)."""
    old = model.max_seq_length
    if n:
        model.max_seq_length = min(n, old)
    try:
        yield
    finally:
        model.max_seq_length = old


def score(model: Any, task: Any, name: str, seed: int) -> Scored:
    from domainteb.adapt.basemodel import eval_mode
    from domainteb.adapt.evaluator import TrainingEncoder
    from domainteb.eval.evaluators import evaluate_split

    t0 = time.perf_counter()
    with eval_mode(model):
        out = evaluate_split(task, "test", TrainingEncoder(model, name, f"rev-{time.perf_counter_ns()}"),
                             batch_size=64, seed=seed)
    return Scored(name, float(out.metrics["main_score"]), out.items, {"eval_s": time.perf_counter() - t0})


def versus(a: Scored, b: Scored, n_boot: int, seed: int) -> dict[str, float]:
    """Paired bootstrap over queries: Δ = a − b and ratio a / b, each with a 95 % CI."""
    import numpy as np

    from domainteb.eval.report.bootstrap import align, draw_indices, paired_bootstrap, percentile_ci

    d = paired_bootstrap(a.items, b.items, n_boot=n_boot, seed=seed)
    ia, ib, _ = align(a.items, b.items)
    va, vb = np.asarray(ia["values"], dtype=np.float64), np.asarray(ib["values"], dtype=np.float64)
    idx = draw_indices(len(va), n_boot, np.random.default_rng(seed))
    lo, hi = percentile_ci(va[idx].mean(1) / vb[idx].mean(1))
    return {"delta": d.diff, "delta_lo": d.lo, "delta_hi": d.hi, "ratio": va.mean() / vb.mean(),
            "ratio_lo": lo, "ratio_hi": hi, "n": d.n_items}


def fmt_row(label: str, s: Scored, ref: Scored, args: argparse.Namespace, extra: str = "") -> str:
    v = versus(s, ref, args.n_boot, args.seed)
    return (f"| {label} | {s.ndcg:.4f} | {100 * v['delta']:+.2f} [{100 * v['delta_lo']:+.2f}, {100 * v['delta_hi']:+.2f}] "
            f"| {100 * v['ratio']:.1f} % [{100 * v['ratio_lo']:.1f}, {100 * v['ratio_hi']:.1f}] |{extra}")


def stage_settings(sparsity: float) -> Any:
    """GAPrune settings as ``domainteb adapt adapt=gaprune`` builds them: the stage's own
    ``settings_from_config`` over conf/adapt/gaprune.yaml (not PruneSettings' paper defaults)."""
    import yaml
    from omegaconf import OmegaConf

    from domainteb.adapt.gaprune.stage import settings_from_config

    conf = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "adapt" / "gaprune.yaml").read_text(encoding="utf-8"))
    return settings_from_config(OmegaConf.create({"adapt": {**conf, "criterion": "gaprune"}, "sparsity": sparsity}))


def score_rows(args: argparse.Namespace, dense: Any, task: Any, stats: Any, targets: Any,
               rows: list[tuple[str, dict[str, Any], str]]) -> int:
    """``--rows``: score the named rows in order, printing each and dumping its per-query values."""
    from domainteb.adapt.gaprune.masks import apply_mask
    from domainteb.adapt.gaprune.prune import PruneSettings, Stats, make_mask
    from domainteb.adapt.gaprune.targets import prunable_targets

    by_label = {label: (kw, dom) for label, kw, dom in rows}
    by_label["magnitude"] = ({"criterion": "magnitude", "sparsity": args.sparsity}, "general")
    for label in args.rows.split(";"):
        if label == "dense":
            model = dense
        elif label in by_label:
            kw, dom = by_label[label]
            model = copy.deepcopy(dense)
            mtargets = prunable_targets(model)
            mask, _ = make_mask(mtargets, PruneSettings(**kw), Stats(by_set={"domain": stats.by_set[dom],
                                                                              "general": stats.by_set["general"]}))
            apply_mask(mtargets, mask)
        else:
            print(f"error: --rows: unknown row {label!r}; use 'dense', 'magnitude' or one of: {'; '.join(by_label)}",
                  file=sys.stderr)
            return 2
        s = score(model, task, label, args.seed)
        print(f"{label}: nDCG@10 {s.ndcg:.4f} ({s.extra['eval_s']:.0f}s)", flush=True)
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")
            (args.dump / f"{name}.json").write_text(json.dumps({"label": label, "ndcg": s.ndcg, "items": s.items}))
    return 0


def combine(args: argparse.Namespace) -> int:
    """``--combine DIR``: one table of the rows dumped there, paired CIs against the dumped dense row."""
    rows = {}
    for f in sorted(args.combine.glob("*.json")):
        rec = json.loads(f.read_text())
        rows[rec["label"]] = Scored(rec["label"], float(rec["ndcg"]), rec["items"])
    ref = args.reference
    if ref not in rows:
        print(f"error: {args.combine} has no row {ref!r}; score --rows {ref!r} with --dump {args.combine}", file=sys.stderr)
        return 2
    print(f"| configuration | nDCG@10 | Δ vs {ref} ×100 [95 % CI] | % of {ref} [95 % CI] |\n| --- | --- | --- | --- |")
    for label, s in rows.items():
        print(fmt_row(label, s, rows[ref], args))
    return 0


def main(argv: list[str] | None = None) -> int:
    import torch

    from domainteb.adapt.basemodel import load_sentence_transformer
    from domainteb.adapt.gaprune.calibration import TextPrompts, representative_sample, to_triplets
    from domainteb.adapt.gaprune.masks import apply_mask, jaccard_pruned
    from domainteb.adapt.gaprune.prune import PruneSettings, Stats, collect_stats, make_mask
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.targets import prunable_targets
    from domainteb.core.tasks import get_task
    from domainteb.domains import general_triplets, train_pairs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/devsets/medical_covidqa")
    p.add_argument("--domain", default="medical", help="domain suite whose train pairs are the old calibration default")
    p.add_argument("--base", default="minilm-l6", help="registry name or sentence-transformers folder (e.g. an adapted model)")
    p.add_argument("--sparsity", type=float, default=0.5)
    p.add_argument("--n-calibration", type=int, default=256)
    p.add_argument("--n-small", type=int, default=64, help="the smaller calibration size of the ablation")
    p.add_argument("--retrain-steps", type=int, default=30)
    p.add_argument("--retrain-batch", type=int, default=16)
    p.add_argument("--retrain-lr", type=float, default=2e-5)
    p.add_argument("--train-max-tokens", type=int, default=128)
    p.add_argument("--structured", action="store_true", help="also the structured (neuron-removal) export and its speed-up")
    p.add_argument("--neuron-sparsity", type=float, default=0.5)
    p.add_argument("--speed-texts", type=int, default=256)
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--skip-ablation", action="store_true")
    p.add_argument("--masks-only", action="store_true", help="print the mask diagnostics and stop (no scoring)")
    p.add_argument("--rows", default=None,
                   help="score only these rows, ';'-separated ablation labels or 'dense'/'magnitude', in order, then stop")
    p.add_argument("--dump", type=Path, default=None, help="write each scored row's per-query nDCG@10 here (JSON)")
    p.add_argument("--reference", default="dense", help="--combine: the row the CIs are taken against")
    p.add_argument("--combine", type=Path, default=None,
                   help="print the table of rows dumped by --rows/--dump runs in this folder (CIs vs its 'dense') and stop")
    p.add_argument("--beta", type=float, default=None, help="β of the compared GAPrune (default: the stage's)")
    p.add_argument("--alpha", type=float, default=None, help="α of the compared GAPrune (default: the stage's)")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.combine:
        return combine(args)
    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    devset = args.devset.resolve()
    if not (devset / "corpus.jsonl").is_file():
        print(f"error: {devset} is not a BEIR dev set (no corpus.jsonl); pass --devset <folder>", file=sys.stderr)
        return 2

    dense = load_sentence_transformer(args.base, device="cpu")
    prompts = TextPrompts.of(dense)
    task = get_task(str(devset))
    n, k_small = args.n_calibration, args.n_small
    corpus = read_corpus(devset)
    pairs, generator = corpus_pairs(corpus, args.seed)
    random.Random(args.seed).shuffle(pairs)
    corpus_pool = to_triplets(pairs, "corpus pseudo-queries", args.seed)
    suite_pool = to_triplets(train_pairs(args.domain, 4 * n), f"train_pairs({args.domain})", args.seed)
    general_pool = to_triplets(general_triplets(4 * n, args.seed), "wordnet", args.seed)
    print(f"# GAPrune on {devset.name}: base {args.base}, prompts query={prompts.query!r} passage={prompts.document!r}; "
          f"{len(corpus)} passages, {len(pairs)} pseudo-query pairs ({generator}); scored on the test split "
          f"(nDCG@10, paired bootstrap n_boot={args.n_boot}, 95 % CI)", flush=True)

    def embed(texts: list[str]) -> Any:
        return dense.encode(texts, prompt=prompts.query, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    # 1. ablation ------------------------------------------------------------------------------
    sp = args.sparsity
    old = dict(criterion="gaprune", sparsity=sp, alpha=0.2, beta=1.0, sign_aware=False)
    ablation: list[tuple[str, dict[str, Any], str]] = [
        ("old default: suite pairs, β=1, α=0.2, literal sign", old, "suite"),
        ("corpus pairs, β=0, sign-aware", {**old, "beta": 0.0, "sign_aware": True}, "corpus"),
        ("corpus pairs, β=1, sign-aware", {**old, "sign_aware": True}, "corpus"),
        ("suite pairs, β=0", {**old, "beta": 0.0, "sign_aware": True}, "suite"),
        ("suite pairs, β=1, sign-aware", {**old, "sign_aware": True}, "suite"),
    ]
    # run after the comparison (less central, and the CPU is shared)
    ablation_more: list[tuple[str, dict[str, Any], str]] = [
        ("corpus pairs, β=0, α=0", {**old, "beta": 0.0, "alpha": 0.0, "sign_aware": True}, "corpus"),
        (f"corpus pairs, β=0, n={k_small}", {**old, "beta": 0.0, "sign_aware": True}, "corpus_small"),
        ("corpus pairs, β=1, literal sign", old, "corpus"),
    ]
    pools = {"general": (general_pool, n), "suite": (suite_pool, n), "corpus": (corpus_pool[: 4 * n], n),
             "corpus_small": (corpus_pool[: 4 * n], k_small)}
    wanted = set(pools)
    if args.rows:  # only the calibration sets the asked rows need
        asked = set(args.rows.split(";"))
        wanted = {"general"} | {dom for label, _, dom in ablation + ablation_more if label in asked}
    sets = {k: representative_sample(pool, size, embed, seed=args.seed) for k, (pool, size) in pools.items() if k in wanted}
    targets = prunable_targets(dense)
    t0 = time.perf_counter()
    with max_tokens(dense, args.train_max_tokens):
        stats = collect_stats(dense, targets, sets, set(sets), batch_size=32, prompts=prompts)
    print(f"Fisher passes ({', '.join(f'{k} {len(v)}' for k, v in sets.items())} triplets, "
          f"≤ {args.train_max_tokens} tokens): {time.perf_counter() - t0:.0f}s", flush=True)

    mag_mask, _ = make_mask(targets, PruneSettings(criterion="magnitude", sparsity=args.sparsity))

    def pruned(settings: PruneSettings, dom: str) -> tuple[Any, Any, dict[str, float], dict[str, Any]]:
        model = copy.deepcopy(dense)
        mtargets = prunable_targets(model)
        st = Stats(by_set={"domain": stats.by_set[dom], "general": stats.by_set["general"]})
        mask, terms = make_mask(mtargets, settings, st)
        apply_mask(mtargets, mask)
        return model, mtargets, terms, mask

    # 0. mask diagnostics (no scoring): where each configuration puts its pruning -----------------
    def mean_fisher(name: str) -> float:
        f = stats.by_set[name].fisher
        return float(sum(float(t.double().sum()) for t in f.values()) / sum(t.numel() for t in f.values()))

    if args.rows:
        return score_rows(args, dense, task, stats, targets, ablation + ablation_more)
    print("\nmean Fisher over the prunable weights: " + ", ".join(f"{k} {mean_fisher(k):.3g}" for k in sets)
          + " (DAI divides both Fisher terms by the domain set's mean)")
    weights = {t.name: t.module.weight for t in targets}
    for dom in ("suite", "corpus"):
        cos = [float(s_) for s_ in (
            (stats.by_set["general"].mean_grad[k] * stats.by_set[dom].mean_grad[k]).sum()
            / (stats.by_set["general"].mean_grad[k].norm() * stats.by_set[dom].mean_grad[k].norm() + 1e-12)
            for k in weights)]
        print(f"gradient alignment s (per tensor, general vs {dom}): min {min(cos):+.3f}, max {max(cos):+.3f}")
    print(f"\n## Mask diagnostics ({sp:.0%} of FFN weights; FFN matrices in layer order, % pruned)\n")
    print("| configuration | negative bracket | Jaccard vs magnitude | % pruned per FFN matrix (inter./output, layer 0→) |")
    print("| --- | --- | --- | --- |")
    for label, kw, dom in [("magnitude", {"criterion": "magnitude", "sparsity": sp}, "corpus"), *ablation, *ablation_more]:
        mask, terms = make_mask(targets, PruneSettings(**kw),
                                Stats(by_set={"domain": stats.by_set[dom], "general": stats.by_set["general"]}))
        per = " ".join(f"{100 * (1 - float(mask[t.name].float().mean())):.0f}" for t in targets)
        neg = terms.get("negative_bracket_fraction")
        print(f"| {label} | {'' if neg is None else f'{neg:.1%}'} | {jaccard_pruned(mask, mag_mask):.2f} | {per} |",
              flush=True)
    if args.masks_only:
        return 0

    base = score(dense, task, "dense", args.seed)
    print(f"\ndense: nDCG@10 {base.ndcg:.4f} on {len(base.items['ids'])} test queries ({base.extra['eval_s']:.0f}s)",
          flush=True)

    results: dict[str, Scored] = {}
    header = ("| configuration | nDCG@10 | Δ ×100 [95 % CI] | % of dense [95 % CI] | negative bracket | Jaccard vs magnitude |\n"
              "| --- | --- | --- | --- | --- | --- |")

    def run_ablation(rows: list[tuple[str, dict[str, Any], str]]) -> None:
        for label, kw, dom in rows:
            model, _, terms, mask = pruned(PruneSettings(**kw), dom)
            results[label] = score(model, task, label, args.seed)
            neg = terms.get("negative_bracket_fraction")
            print(fmt_row(label, results[label], base, args,
                          f" {'' if neg is None else f'{neg:.1%}'} | {jaccard_pruned(mask, mag_mask):.2f} |"), flush=True)
            del model

    if not args.skip_ablation:
        print(f"\n## Ablation: one-shot, {sp:.0%} of FFN weights, n_calibration={n} (Δ and ratio vs dense)\n")
        print(header, flush=True)
        run_ablation(ablation[:2])
        mag, _, _, _ = pruned(PruneSettings(criterion="magnitude", sparsity=sp), "corpus")
        results["magnitude"] = score(mag, task, "magnitude", args.seed)
        print(fmt_row("magnitude", results["magnitude"], base, args, " | 1.00 |"), flush=True)
        del mag
        run_ablation(ablation[2:])

    # 2. comparison with retraining ------------------------------------------------------------
    retrain_set = corpus_pool
    steps = args.retrain_steps
    chosen = stage_settings(sp)  # conf/adapt/gaprune.yaml's α, β, γ, alignment, sign handling
    chosen.beta = chosen.beta if args.beta is None else args.beta
    chosen.alpha = chosen.alpha if args.alpha is None else args.alpha
    same_as = {1.0: "corpus pairs, β=1, sign-aware", 0.0: "corpus pairs, β=0, sign-aware"}.get(chosen.beta) \
        if chosen.alpha == 0.2 else None
    print(f"\n## Prune + retrain: {steps} steps × batch {args.retrain_batch} (MNRL, lr {args.retrain_lr}, mask fixed) "
          f"on the corpus pseudo-query pairs; GAPrune = stage defaults (corpus calibration, β={chosen.beta}, "
          f"α={chosen.alpha}, sign-aware)\n", flush=True)

    def retrained(model: Any, mtargets: Any, mask: Any, name: str) -> Scored:
        t0 = time.perf_counter()
        with max_tokens(model, args.train_max_tokens):
            retrain(model, retrain_set, targets=mtargets, mask=mask, steps=steps, output_dir=work / name,
                    lr=args.retrain_lr, batch_size=args.retrain_batch, seed=args.seed, prompts=prompts)
        s = score(model, task, name, args.seed)
        s.extra["retrain_s"] = time.perf_counter() - t0
        return s

    import tempfile

    rows: list[tuple[str, Scored]] = [("dense (base)", base)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        control = copy.deepcopy(dense)
        ctargets = prunable_targets(control)
        keep_all = {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in ctargets}
        dense_rt = retrained(control, ctargets, keep_all, "dense-retrained")
        rows.append((f"dense + {steps} steps (control)", dense_rt))
        print(f"dense retrained: {dense_rt.ndcg:.4f} ({dense_rt.extra['retrain_s']:.0f}s)", flush=True)
        del control
        for crit, settings in (("GAPrune", chosen), ("magnitude", PruneSettings(criterion="magnitude", sparsity=sp))):
            model, mtargets, _, mask = pruned(settings, "corpus")
            one = results.get("magnitude" if crit == "magnitude" else str(same_as))
            one = one or score(model, task, f"{crit}-one-shot", args.seed)
            rows.append((f"{crit} {sp:.0%} one-shot", one))
            rt = retrained(model, mtargets, mask, f"{crit}-retrained")
            rows.append((f"{crit} {sp:.0%} + {steps} steps", rt))
            print(f"{crit}: one-shot {one.ndcg:.4f}, retrained {rt.ndcg:.4f}", flush=True)
            del model
        print("\n| model | nDCG@10 | Δ vs dense ×100 [95 % CI] | % of dense [95 % CI] | % of dense-retrained [95 % CI] |")
        print("| --- | --- | --- | --- | --- |")
        for label, s in rows:
            v = versus(s, dense_rt, args.n_boot, args.seed)
            print(fmt_row(label, s, base, args, f" {100 * v['ratio']:.1f} % [{100 * v['ratio_lo']:.1f}, {100 * v['ratio_hi']:.1f}] |"))
        by = dict(rows)
        g, m = by[f"GAPrune {sp:.0%} + {steps} steps"], by[f"magnitude {sp:.0%} + {steps} steps"]
        gm = versus(g, m, args.n_boot, args.seed)
        print(f"\nGAPrune − magnitude after retraining: {100 * gm['delta']:+.2f} [{100 * gm['delta_lo']:+.2f}, "
              f"{100 * gm['delta_hi']:+.2f}] nDCG@10 ×100 ({gm['n']} queries)", flush=True)

        # 3. structured export and its CPU speed-up ---------------------------------------------
        if args.structured:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from pruned_speed import compare

            from domainteb.adapt.gaprune.scoring import SCORERS, ScoringInputs
            from domainteb.adapt.structured import export_structured

            small = copy.deepcopy(dense)
            inp = ScoringInputs(weights={t.name: t.module.weight for t in prunable_targets(small)},
                                domain=stats.by_set["corpus"], general=stats.by_set["general"],
                                alpha=chosen.alpha, beta=chosen.beta, gamma=chosen.gamma, sign_aware=chosen.sign_aware)
            info = export_structured(small, work / "structured", args.neuron_sparsity, SCORERS.get("gaprune").fn(inp))
            stargets = prunable_targets(small)
            s_rt = retrained(small, stargets, {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in stargets},
                             "structured-retrained")
            texts = [f"{r['title']} {r['text']}" for r in corpus[: args.speed_texts]]
            dense.eval(), small.eval()
            tp = compare({"dense": dense, "pruned": small}, texts, 32, 3)
            (dw, dc), (pw, pc) = tp["dense"], tp["pruned"]
            print(f"\n## Structured export: {args.neuron_sparsity:.0%} of FFN neurons removed (GAPrune neuron scores), "
                  f"FFN width {info['intermediate_size']}, parameters {info['params_before']:,} → {info['params_after']:,}\n")
            print("| model | nDCG@10 | Δ vs dense ×100 [95 % CI] | % of dense [95 % CI] |\n| --- | --- | --- | --- |")
            print(fmt_row(f"structured + {steps} steps", s_rt, base, args))
            print(f"\nCPU encode throughput ({len(texts)} corpus passages, batch 32, {torch.get_num_threads()} threads, "
                  f"median of 3, dense and pruned alternating): wall {dw:.1f}/s → {pw:.1f}/s = {pw / dw:.2f}×; "
                  f"per CPU-second {dc:.1f}/s → {pc:.1f}/s = {pc / dc:.2f}×", flush=True)
    if not args.skip_ablation:
        print(f"\n## Ablation, continued (same columns)\n\n{header}", flush=True)
        run_ablation(ablation_more)
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
