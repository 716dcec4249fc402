"""``run``: one GPL (or QGen) adaptation, every sub-stage resumable and written atomically.

Sub-stages and what a rerun reuses (content-addressed under ``<cache_dir>``, default
``<out_dir>/cache``; runs over the same chunks and queries may share one cache):

1. inputs: chunks + generated queries → train / dev split (seeded, recomputed; cheap);
2. base-model embeddings of chunks and queries (``emb-*.npy``) → round-trip filter;
3. hard negatives: BM25 and the base model (``negatives-<hash>.json``; the dense miner searches
   the step-2 embeddings with ``gpl.mining.search``'s backend, streamed top-k);
4. cross-encoder pseudo-labels (``ce-<hash>/part-*.jsonl``, one shard at a time) → CE-score
   filter and CE false-negative guard;
5. training (``<out_dir>/checkpoints``, resumed by the trainer) with the dev curve; the best
   dev checkpoint (or the base, when no step beats it) becomes ``<out_dir>/model``;
6. ``dev_curve.json`` and ``summary.json`` (written last: a finished run is skipped on rerun).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainteb.adapt.gpl.config import GPLConfig
from domainteb.core.errors import TaskDataError
from domainteb.core.io import atomic_write_json, read_json, sha256_file, stable_hash

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
DEV_CURVE_FILE = "dev_curve.json"
MODEL_DIR = "model"


@dataclass
class GPLResult:
    model_dir: Path
    summary: dict[str, Any]
    summary_path: Path


@dataclass
class _Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 2)


def _finished(out_dir: Path, key: str) -> dict[str, Any] | None:
    file = out_dir / SUMMARY_FILE
    if not file.is_file() or not (out_dir / MODEL_DIR / "modules.json").is_file():
        return None
    try:
        summary = read_json(file)
    except TaskDataError:
        return None
    return summary if isinstance(summary, dict) and summary.get("run_key") == key else None


def run(cfg: GPLConfig, out_dir: str | os.PathLike[str], *, chunks_path: str | os.PathLike[str],
        queries_path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
        name: str | None = None, domain: str = "general") -> GPLResult:
    """Adapt ``cfg.base`` to the chunks with the generated queries; see the module docstring."""
    from domainteb.adapt.basemodel import describe_base, load_sentence_transformer
    from domainteb.adapt.gpl.data import load_inputs
    from domainteb.adapt.gpl.dev import build_dev_task
    from domainteb.adapt.gpl.labels import LabelJob, load_teacher, pseudo_label
    from domainteb.adapt.gpl.mining import encode, mine_bm25, mine_dense, round_trip_ranks

    cfg.check()
    out = Path(out_dir)
    cache = Path(cache_dir) if cache_dir else out / "cache"
    chunks_path, queries_path = Path(chunks_path), Path(queries_path)
    for path, what in ((chunks_path, "chunks"), (queries_path, "queries")):
        if not path.is_file():
            raise TaskDataError(f"{path}: {what} file not found; run the corpus and query stages first")
    chunks_sha = sha256_file(chunks_path)
    run_key = stable_hash({"cfg": cfg.identity(), "chunks": chunks_sha,
                           "queries": sha256_file(queries_path)})
    done = _finished(out, run_key)
    if done is not None:
        log.info("%s: GPL run already finished with this config; reusing it", out)
        return GPLResult(out / MODEL_DIR, {**done, "skipped": True}, out / SUMMARY_FILE)
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    timer = _Timer()

    with timer.stage("inputs"):
        inputs = load_inputs(chunks_path, queries_path, max_queries=cfg.max_queries,
                             dev_queries=cfg.dev.queries, seed=cfg.seed)
    counts = dict(inputs.counts)
    model = load_sentence_transformer(cfg.base, device=cfg.device, allow_pickle=cfg.allow_pickle)
    eval_max_length = model.max_seq_length  # training may truncate harder; the saved model reads like its base
    if cfg.train.max_seq_length:
        model.max_seq_length = int(cfg.train.max_seq_length)
    pids = list(inputs.chunks)
    row = {pid: i for i, pid in enumerate(pids)}
    train = inputs.train

    with timer.stage("embed_base"):
        c_emb = encode(model, [inputs.text(p) for p in pids], "document", cfg.encode_batch_size, cache)
        q_emb = encode(model, [q.query for q in train], "query", cfg.encode_batch_size, cache)
    with timer.stage("round_trip"):
        if cfg.filters.round_trip_k:
            ranks = round_trip_ranks(q_emb, c_emb, [row[q.pid] for q in train], cfg.filters.round_trip_k)
            keep = [i for i, r in enumerate(ranks) if r is not None]
        else:
            keep = list(range(len(train)))
        train, q_emb = [train[i] for i in keep], q_emb[keep]
        counts["round_trip_kept"] = len(train)
    if len(train) < 2:
        raise TaskDataError(f"{queries_path}: only {len(train)} queries survive the round-trip filter "
                            f"(top-{cfg.filters.round_trip_k}); raise gpl.filters.round_trip_k or set it to null")

    mining = cfg.mining
    neg_key = stable_hash({"m": mining.identity(), "q": [(q.qid, q.query, q.pid) for q in train],
                           "c": chunks_sha, "base": cfg.base,
                           "max_seq_length": cfg.train.max_seq_length})[:16]
    neg_file = cache / f"negatives-{neg_key}.json"
    with timer.stage("mine_negatives"):
        if neg_file.is_file():
            mined = read_json(neg_file)
        else:
            mined = {"per_miner": {}, "stats": {}}
            if "bm25" in mining.miners:
                negs, stats = mine_bm25(train, inputs, mining, q_emb, c_emb, row)
                mined["per_miner"]["bm25"], mined["stats"]["bm25"] = negs, stats
            if "base" in mining.miners:
                negs, stats = mine_dense(train, inputs, mining, q_emb, c_emb, row)
                mined["per_miner"]["base"], mined["stats"]["base"] = negs, stats
            atomic_write_json(neg_file, mined)
    negatives: dict[str, list[str]] = {}
    for q in train:
        merged: list[str] = []
        for miner in mining.miners:
            merged += [p for p in mined["per_miner"][miner].get(q.qid, []) if p not in merged and p != q.pid]
        negatives[q.qid] = merged

    with timer.stage("load_teacher"):
        teacher = load_teacher(cfg.teacher, device=cfg.device, max_length=cfg.ce_max_length)
    jobs = [LabelJob(q.qid, q.query, q.positive, [(p, inputs.text(p)) for p in negatives[q.qid]]) for q in train]
    ce_key = stable_hash({"t": teacher.identity(), "jobs": [(j.qid, j.query, j.positive, j.negatives) for j in jobs],
                          "shard": cfg.ce_shard})[:16]
    with timer.stage("pseudo_label"):
        labels, ce_stats = pseudo_label(teacher, jobs, cache / f"ce-{ce_key}", shard=cfg.ce_shard,
                                        batch_size=cfg.ce_batch_size)
    del teacher

    # ---- filters: CE score of the source, then the CE false-negative guard on each negative
    flt = cfg.filters
    pos_scores = sorted((labels[q.qid]["pos"] for q in train), reverse=True)
    cutoff = flt.ce_min_score if flt.ce_min_score is not None else float("-inf")
    if flt.ce_keep_fraction is not None and pos_scores:
        cutoff = max(cutoff, pos_scores[max(0, int(len(pos_scores) * flt.ce_keep_fraction) - 1)])
    kept = [q for q in train if labels[q.qid]["pos"] >= cutoff]
    counts["ce_filter_kept"] = len(kept)
    fn_dropped = 0
    rows: dict[str, list[Any]] = {"query": [], "positive": [], "negative": [], "label": []}
    with_negative = 0
    for q in kept:
        lab = labels[q.qid]
        usable = []
        for pid in negatives[q.qid]:
            if lab["neg"][pid] >= lab["pos"] - mining.ce_false_negative_margin:
                fn_dropped += 1
                continue
            usable.append(pid)
        with_negative += bool(usable)
        for pid in usable:
            rows["query"].append(q.query)
            rows["positive"].append(q.positive)
            rows["negative"].append(inputs.text(pid))
            rows["label"].append(lab["pos"] - lab["neg"][pid])
    counts["with_negative"] = with_negative
    negative_stats = {"per_miner": mined["stats"], "merged": int(sum(len(negatives[q.qid]) for q in kept)),
                      "ce_false_negative_dropped": fn_dropped, "training_triplets": len(rows["label"])}

    import datasets

    if cfg.method == "gpl":
        dataset = datasets.Dataset.from_dict(rows)
        loss = "margin_mse"
        counts["trained_on"] = with_negative
    else:  # QGen: the same kept (query, source) pairs, MNRL with in-batch negatives, 0/1 labels
        dataset = datasets.Dataset.from_dict({"anchor": [q.query for q in kept], "positive": [q.positive for q in kept]})
        loss = "mnrl"
        counts["trained_on"] = len(kept)
    if len(dataset) < 2:
        raise TaskDataError(f"{queries_path}: only {len(dataset)} training rows survive the filters; "
                            "lower gpl.filters.ce_min_score or generate more queries")

    dev_task = build_dev_task(inputs, cfg.dev.corpus, cfg.seed)
    result, base_dev, curve, best_is_base = _train(cfg, model, dataset, loss, dev_task, out, timer)
    final = load_sentence_transformer(cfg.base, device=cfg.device, allow_pickle=cfg.allow_pickle) if best_is_base else result.model
    final.max_seq_length = eval_max_length

    summary: dict[str, Any] = {
        "run_key": run_key,
        "method": cfg.method,
        "profile": cfg.profile,
        "base": cfg.base,
        "teacher": cfg.teacher,
        "teacher_labels": teacher_labels(cfg.teacher),
        "generators": inputs.generators,
        "domain": domain,
        "queries": counts,
        "negatives": negative_stats,
        "pseudo_labels": ce_stats,
        "ce_pos_score": {"min": min(pos_scores), "median": pos_scores[len(pos_scores) // 2], "max": max(pos_scores)},
        "dev": {"task": dev_task.name, "queries": len(inputs.dev),
                "corpus": len(dev_task.split("dev").corpus), "metric": "ndcg_at_10"},
        "dev_curve": curve,
        "base_dev": base_dev,
        "best_dev": max([base_dev] + [p["ndcg_at_10"] for p in curve]),
        "best_step": 0 if best_is_base else _best_step(curve),
        "best_is_base": best_is_base,
        "global_step": result.global_step,
        "training_loss": result.training_loss,
        "resumed_from": result.resumed_from,
        "train_rows": len(dataset),
        "loss": loss,
        "device": result.device,
        "precision": result.precision,
        "world_size": result.world_size,
        "stage_seconds": timer.seconds,
        "config": cfg.model_dump(),
    }
    if result.is_main_process:
        _save(final, out, summary, name or f"{describe_base(cfg.base)}-{cfg.method}", domain)
    from domainteb.adapt.finetune import remove_checkpoints

    remove_checkpoints(out)
    summary["model_dir"] = str(out / MODEL_DIR)
    if result.is_main_process:  # under torchrun only rank 0 writes
        atomic_write_json(out / DEV_CURVE_FILE, {"metric": "ndcg_at_10", "base": base_dev, "curve": curve,
                                                  "best_step": summary["best_step"]})
        atomic_write_json(out / SUMMARY_FILE, summary)
    return GPLResult(out / MODEL_DIR, summary, out / SUMMARY_FILE)


def teacher_labels(name: str) -> list[str]:
    from domainteb.eval.models.spec import get_spec, registry_names

    return list(get_spec(name).labels) if name in registry_names() else []


def _best_step(curve: list[dict[str, float]]) -> int:
    best = max(curve, key=lambda p: p["ndcg_at_10"])
    return int(best["step"])


def _train(cfg: GPLConfig, model: Any, dataset: Any, loss: str, dev_task: Any, out: Path, timer: _Timer):
    from domainteb.adapt.evaluator import DomainTaskEvaluator
    from domainteb.adapt.finetune import FinetuneConfig, train_model

    t = cfg.train
    ft = FinetuneConfig(loss=loss, max_steps=t.max_steps, batch_size=t.batch_size, learning_rate=t.learning_rate,
                        warmup_ratio=t.warmup_ratio, lr_scheduler=t.lr_scheduler, weight_decay=t.weight_decay,
                        eval_task=None, eval_steps=t.eval_steps, save_steps=t.save_steps,
                        save_total_limit=t.save_total_limit, logging_steps=t.logging_steps,
                        max_seq_length=t.max_seq_length, precision=t.precision, seed=cfg.seed, device=cfg.device,
                        similarity_scale=t.similarity_scale)
    base_file = out / "dev_base.json"
    with timer.stage("dev_base"):
        if base_file.is_file():
            base_dev = float(read_json(base_file)["ndcg_at_10"])
        else:
            scorer = DomainTaskEvaluator(dev_task, "dev", batch_size=cfg.encode_batch_size, seed=cfg.seed)
            base_dev = float(next(iter(scorer(model, steps=0).values())))
            atomic_write_json(base_file, {"ndcg_at_10": base_dev})
    with timer.stage("train"):
        result = train_model(model, dataset, cfg=ft, output_dir=out, eval_task=dev_task)
    key = result.metric_key
    curve = [{"step": int(e["step"]), "ndcg_at_10": float(e[key])} for e in result.eval_history] if key else []
    best_is_base = not curve or max(p["ndcg_at_10"] for p in curve) <= base_dev
    return result, base_dev, curve, best_is_base


def _save(model: Any, out: Path, summary: dict[str, Any], name: str, domain: str) -> None:
    from domainteb.adapt.export import save_model_folder
    from domainteb.adapt.modelcard import CardInfo, render_card

    q = summary["queries"]
    card = CardInfo(
        method=summary["method"],
        base=str(summary["base"]),
        domain=domain,
        data={"source": ", ".join(summary["generators"]), "n_pairs": q.get("trained_on", 0),
              "n_negatives": 1 if summary["method"] == "gpl" else 0, "filters": q},
        params={k: v for k, v in summary["config"].items() if k not in ("device",)},
        scores={"dev_ndcg_at_10_base": summary["base_dev"], "dev_ndcg_at_10_best": summary["best_dev"],
                "best_step": float(summary["best_step"])},
        eval_history=[{"step": float(p["step"]), "dev_ndcg_at_10": p["ndcg_at_10"]} for p in summary["dev_curve"]],
        notes=[f"teacher {summary['teacher']} ({', '.join(summary['teacher_labels']) or 'as given'})",
               "dev = held-out generated queries, never the evaluation set's queries"]
        + (["no training step beat the base on the dev queries: this folder holds the base weights"]
           if summary["best_is_base"] else []),
        command=f"domainteb adapt adapt=gpl base={summary['base']} adapt.method={summary['method']}",
    )
    folder = save_model_folder(model, out / MODEL_DIR, render_card(card))
    from domainteb.eval.models.spec import get_spec, registry_names

    base = str(summary["base"])
    base_labels = list(get_spec(base).labels) if base in registry_names() else []
    atomic_write_json(folder / "domainteb_model.json", {
        "name": name, "labels": ["adapted", summary["method"], *base_labels], "base_model": base,
        "domain": domain, "training_data": ", ".join(summary["generators"]),
    })
