"""The ``gaprune`` method of the ``adapt`` stage.

``domainteb adapt method=gaprune base=minilm-l6 domain=finance sparsity=0.5 [retrain_steps=100]
[adapt.criterion=gaprune|magnitude|random|fisher_general|fisher_domain]
[adapt.calibration_corpus=<chunks.jsonl | documents | BEIR folder>]``

Every text the pruner embeds (Fisher pass, k-means sampling, held-out recall, retraining) gets the
query/passage prompts the model is evaluated with (``TextPrompts.of(model)``).

Steps: (1) validate the config and load the calibration pools (before any model);
(2) skip when ``done.json`` matches the config; (3) load the base model and score it dense;
(4) per-sample Fisher/gradients on the representative domain and general sets (only those the
criterion needs); (5) score, mask globally, apply, check the measured sparsity; (6) score one-shot;
(7) optional retrain with the mask fixed, score again; (8) save ``<output_dir>/model`` (+ zeros),
``mask.safetensors``, ``prune_report.json``, MLflow run ``adapt-<domain>-gaprune``, ``done.json``.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from domainteb.adapt.gaprune.calibration import (
    Triplet,
    check_available,
    corpus_triplets,
    general_triplets,
    read_triplets_file,
    representative_sample,
    to_triplets,
)
from domainteb.adapt.gaprune.prune import PruneSettings
from domainteb.adapt.gaprune.scoring import SCORERS
from domainteb.core.errors import ConfigError

log = logging.getLogger(__name__)

METHOD = "gaprune"
MASK_FILE = "mask.safetensors"


def _opt(block: Any, key: str, default: Any) -> Any:
    value = block.get(key, default) if block is not None else default
    return default if value is None else value


def settings_from_config(cfg: DictConfig) -> PruneSettings:
    """Validated :class:`PruneSettings` from the composed config (one-line errors)."""
    block = cfg.get("adapt")
    criterion = str(_opt(block, "criterion", "gaprune"))
    SCORERS.get(criterion)  # unknown criterion → one-line error with the valid names
    try:
        sparsity = float(cfg.get("sparsity", _opt(block, "sparsity", 0.5)))
    except (TypeError, ValueError):
        raise ConfigError(f"sparsity={cfg.get('sparsity')!r} is not a number; use a fraction such as sparsity=0.5") from None
    if not 0.0 < sparsity < 1.0:
        raise ConfigError(f"sparsity={sparsity} must be strictly between 0 and 1 (the fraction of prunable weights zeroed), e.g. sparsity=0.5")
    alignment = str(_opt(block, "alignment", "tensor"))
    if alignment not in ("tensor", "row"):
        raise ConfigError(f"adapt.alignment={alignment!r}: use 'tensor' (one cosine per weight matrix) or 'row'")
    settings = PruneSettings(
        criterion=criterion,
        sparsity=sparsity,
        alpha=float(_opt(block, "alpha", 0.2)),
        beta=float(_opt(block, "beta", 1.0)),
        gamma=float(_opt(block, "gamma", 0.5)),
        alignment=alignment,
        sign_aware=bool(_opt(block, "sign_aware", True)),
        prune_attention=bool(_opt(block, "prune_attention", False)),
        per_sample_batch=int(_opt(block, "per_sample_batch", 32)),
        chunk=int(_opt(block, "chunk", 16)),
        seed=int(cfg.get("seed", 42)),
    )
    if settings.per_sample_batch < 2:
        raise ConfigError("adapt.per_sample_batch must be >= 2 (in-batch negatives need a batch)")
    return settings


def _pool(cfg: DictConfig, side: str, domain: str, limit: int, seed: int) -> list[Triplet]:
    block = cfg.get("adapt")
    corpus = _opt(block, "calibration_corpus", None)
    if side == "domain" and corpus:
        return corpus_triplets(str(corpus), limit, seed)
    if side == "domain":
        from domainteb.adapt.pairs import load_pairs

        data = cfg.get("data")
        ds = load_pairs(None if data in (None, "") else str(data), domain, limit)
        return to_triplets(ds.to_list(), f"data={data or domain}", seed)
    path = _opt(block, "general_data", None)
    if path:
        return read_triplets_file(str(path), limit, seed)
    return general_triplets(limit, seed)


def load_calibration(cfg: DictConfig, domain: str, settings: PruneSettings) -> dict[str, Any]:
    """Domain and general pools split into calibration candidates and held-out triplets.

    Raises a one-line error when a needed pool has fewer than ``adapt.n_calibration`` triplets.
    """
    block = cfg.get("adapt")
    n = int(_opt(block, "n_calibration", 512))
    held = int(_opt(block, "held_out", 200))
    factor = float(_opt(block, "pool_factor", 4))
    if n < 2:
        raise ConfigError(f"adapt.n_calibration={n} must be >= 2")
    needs = SCORERS.get(settings.criterion).needs
    out: dict[str, Any] = {"n_calibration": n}
    for side in ("domain", "general"):
        limit = int(n * factor) + held
        pool = _pool(cfg, side, domain, limit, settings.seed)
        if side in needs:
            check_available(pool, n, side)
        n_held = min(held, max(len(pool) - n, 0) if side in needs else len(pool) // 2)
        out[f"{side}_held_out"] = pool[len(pool) - n_held :] if n_held else []
        out[f"{side}_pool"] = pool[: len(pool) - n_held]
    return out


def run_gaprune(cfg: DictConfig) -> dict[str, Any]:
    """Run GAPrune (or a baseline criterion); returns the summary stored in ``done.json``."""
    import torch

    from domainteb.adapt.basemodel import check_st_folder, describe_base, load_sentence_transformer, _looks_like_path
    from domainteb.adapt.export import MODEL_DIR, read_done, save_model_folder, write_done
    from domainteb.adapt.finetune_method import require_domain, stage_output_dir
    from domainteb.adapt.gaprune.evaluation import EvalTargets, resolve_general_task, score_model
    from domainteb.adapt.gaprune.masks import apply_mask, measured_sparsity, save_mask
    from domainteb.adapt.gaprune.prune import collect_stats, magnitude_mask, make_mask, mask_summary
    from domainteb.adapt.gaprune.report import PruneReport, write_report
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.targets import prunable_targets
    from domainteb.core.io import stable_hash
    from domainteb.core.tracking import tracker_from_config

    # 1. validate, then load data (still no model)
    domain = require_domain(cfg)
    if not cfg.get("base"):
        raise ConfigError("adapt needs base=<model registry name or sentence-transformers folder>")
    base = str(cfg.base)
    if _looks_like_path(base):
        check_st_folder(Path(base).expanduser().resolve())
    settings = settings_from_config(cfg)
    block = cfg.get("adapt")
    steps = int(cfg.get("retrain_steps", 0) or 0)
    if steps < 0:
        raise ConfigError(f"retrain_steps={steps} must be >= 0")
    output_dir = stage_output_dir(cfg, METHOD)
    data = load_calibration(cfg, domain, settings)
    retrain_data, stream_key = _retrain_data(cfg, data, steps)
    run_cfg = OmegaConf.to_container(cfg, resolve=True)
    adapt_block = dict(run_cfg.get("adapt") or {})
    if stream_key is None:  # the streaming keys leave the hash of pool-retrained runs as it was before them
        adapt_block.pop("streaming", None)
        adapt_block.pop("shuffle_buffer", None)
    identity = {"method": METHOD, "base": base, "domain": domain, "data": str(cfg.get("data")),
                "settings": asdict(settings), "steps": steps, "adapt": adapt_block}
    if stream_key is not None:
        identity["stream"] = stream_key
    config_hash = stable_hash(identity)
    done = read_done(output_dir, config_hash)
    if done is not None:
        log.info("%s: already done with this config; nothing to redo", output_dir)
        return {**done, "skipped": True}

    # 2. model, targets, evaluation targets
    torch.manual_seed(settings.seed)
    model = load_sentence_transformer(base, device=str(cfg.get("device", "auto")),
                                      allow_pickle=cfg.get("allow_pickle", False) is True)
    targets = prunable_targets(model, settings.prune_attention)
    from domainteb.adapt.evaluator import resolve_eval_task

    size = _opt(block, "eval_size", None)
    evals = EvalTargets(
        domain_task=resolve_eval_task(_opt(block, "eval_task", "auto"), domain, size),
        general_task=resolve_general_task(_opt(block, "general_eval_task", "auto"), size),
        domain_held_out=data["domain_held_out"],
        general_held_out=data["general_held_out"],
    )
    seconds: dict[str, float] = {}
    scores: dict[str, dict[str, float | None]] = {}
    tracker = tracker_from_config(cfg)
    tags = {"stage": "adapt", "method": METHOD, "criterion": settings.criterion, "domain": domain,
            "base": describe_base(base)}
    with tracker.run(f"adapt-{domain}-{METHOD}", tags=tags) as run_id:
        tracker.log_params({"config": run_cfg})
        t0 = time.perf_counter()
        scores["dense"] = score_model(model, evals, settings.seed)
        seconds["eval_dense"] = time.perf_counter() - t0

        # 3. representative calibration sets + statistics
        needs = SCORERS.get(settings.criterion).needs
        sets: dict[str, list[Triplet]] = {}
        t0 = time.perf_counter()
        for side in sorted(needs):
            sets[side] = representative_sample(
                data[f"{side}_pool"], data["n_calibration"], _embedder(model),
                iters=int(_opt(block, "kmeans_iters", 20)), seed=settings.seed,
            )
        seconds["sampling"] = time.perf_counter() - t0
        stats = collect_stats(model, targets, sets, needs, batch_size=settings.per_sample_batch, chunk=settings.chunk)
        seconds.update({f"fisher_{k}": v for k, v in stats.seconds.items()})

        # 4. mask (a dense copy is kept when a structured export is asked for)
        structured = block.get("structured") if block is not None else None
        dense_copy = copy.deepcopy(model) if structured is not None and structured.get("enabled") else None
        mask, terms = make_mask(targets, settings, stats)
        summary_mask = mask_summary(mask, magnitude_mask(targets, settings.sparsity))
        apply_mask(targets, mask)
        measured = measured_sparsity(targets)
        t0 = time.perf_counter()
        scores["one_shot"] = score_model(model, evals, settings.seed)
        seconds["eval_one_shot"] = time.perf_counter() - t0

        # 5. retrain with the mask fixed
        retrain_info: dict[str, float] = {}
        if steps > 0:
            t0 = time.perf_counter()
            retrain_info = retrain(
                model, retrain_data, targets=targets, mask=mask, steps=steps,
                output_dir=output_dir / "retrain", lr=float(_opt(block, "retrain_lr", 2e-5)),
                batch_size=int(_opt(block, "retrain_batch_size", 32)), seed=settings.seed,
                shuffle_buffer=int(_opt(block, "shuffle_buffer", 10_000)),
            )
            seconds["retrain"] = time.perf_counter() - t0
            measured = measured_sparsity(targets)
            scores["retrained"] = score_model(model, evals, settings.seed)

        # 6. optional structured export: remove whole FFN neurons ranked by aggregated scores
        structured_info: dict[str, Any] = {}
        if dense_copy is not None:
            structured_info = _structured(dense_copy, targets, settings, stats, structured, steps, data, block,
                                          output_dir, evals, scores)
            seconds["structured"] = structured_info.pop("seconds")

        # 7. outputs
        report = PruneReport(
            criterion=settings.criterion, domain=domain, base=base, sparsity_target=settings.sparsity,
            sparsity_measured=measured, prunable_modules=", ".join(t.name for t in targets),
            term_magnitudes=terms, settings=asdict(settings),
            calibration={"n_calibration": data["n_calibration"],
                         "domain_source": _domain_source(cfg, domain),
                         "general_source": str(_opt(block, "general_data", "") or "WordNet 3.0 (Debian wordnet-base)"),
                         "sets": {k: len(v) for k, v in sets.items()},
                         "held_out": {"domain": len(evals.domain_held_out), "general": len(evals.general_held_out)},
                         "domain_task": evals.domain_task.name if evals.domain_task else None,
                         "general_task": evals.general_task.name if evals.general_task else None},
            scores=scores, seconds=seconds, retrain=retrain_info, structured=structured_info, **summary_mask,
        )
        save_mask(output_dir / MASK_FILE, mask)
        model_dir = save_model_folder(model, output_dir / MODEL_DIR, _card(report))
        write_report(output_dir, report)
        tracker.log_metrics({"sparsity_achieved": report.sparsity_achieved, "sparsity_measured": measured,
                             "jaccard_vs_magnitude": report.jaccard_vs_magnitude or 0.0,
                             "terms": terms, "scores": scores, "seconds": seconds})
        tracker.log_artifact(output_dir / "prune_report.json")
        tracker.log_artifact(output_dir / MASK_FILE)
        summary = {
            "method": METHOD, "criterion": settings.criterion, "domain": domain, "base": base,
            "model_dir": str(model_dir), "sparsity": measured, "jaccard_vs_magnitude": report.jaccard_vs_magnitude,
            **{f"{phase}_{side}": s.get(side) for phase, s in scores.items() for side in ("domain", "general")},
            "device": str(next(model.parameters()).device),
            "fisher_seconds": sum(v for k, v in seconds.items() if k.startswith("fisher_")),
            "mlflow_run_id": run_id,
        }
        write_done(output_dir, config_hash, summary)
    return summary


def _retrain_data(cfg: DictConfig, data: dict[str, Any], steps: int) -> tuple[Any, str | None]:
    """What the retrain step trains on: the calibration pool, or with ``adapt.streaming=true`` every
    pair of ``data=<pairs.jsonl>`` read lazily (validated here, before any model loads); and the
    stream's source identity (None for the pool)."""
    block = cfg.get("adapt")
    if not bool(_opt(block, "streaming", False)):
        return data["domain_pool"], None
    if steps <= 0:
        raise ConfigError("adapt.streaming=true streams the retraining pairs; set retrain_steps=<steps> (> 0) "
                          "or adapt.streaming=false")
    from domainteb.adapt.pairs import stream_pairs
    from domainteb.adapt.streaming import source_key

    stream, _ = stream_pairs(cfg.get("data"), max_negatives=1)
    return stream, source_key(stream)


def _structured(dense: Any, targets: Any, settings: PruneSettings, stats: Any, structured: Any, steps: int,
                data: dict[str, Any], block: Any, output_dir: Path, evals: Any, scores: dict[str, Any]) -> dict[str, Any]:
    """Export ``<output_dir>/model_structured``: the dense model with ``neuron_sparsity`` of its
    FFN neurons removed (ranked by the criterion's scores summed per neuron), retrained for the
    same number of steps, and scored under ``scores["structured"]``."""
    import torch

    from domainteb.adapt.gaprune.evaluation import score_model
    from domainteb.adapt.gaprune.retrain import retrain
    from domainteb.adapt.gaprune.scoring import ScoringInputs
    from domainteb.adapt.gaprune.targets import prunable_targets
    from domainteb.adapt.structured import export_structured

    start = time.perf_counter()
    dense_targets = {t.name: t for t in prunable_targets(dense, settings.prune_attention)}
    inp = ScoringInputs(weights={k: t.module.weight for k, t in dense_targets.items()},
                        domain=stats.by_set.get("domain"), general=stats.by_set.get("general"), alpha=settings.alpha,
                        beta=settings.beta, gamma=settings.gamma, alignment=settings.alignment,
                        sign_aware=settings.sign_aware, seed=settings.seed)
    weight_scores = SCORERS.get(settings.criterion).fn(inp)
    dest = output_dir / "model_structured"
    info = export_structured(dense, dest, float(structured.get("neuron_sparsity", 0.3)), weight_scores)
    if steps > 0:
        small = prunable_targets(dense, settings.prune_attention)
        keep = {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in small}
        retrain(dense, data["domain_pool"], targets=small, mask=keep, steps=steps, output_dir=output_dir / "retrain_structured",
                lr=float(_opt(block, "retrain_lr", 2e-5)), batch_size=int(_opt(block, "retrain_batch_size", 32)),
                seed=settings.seed)
        dense.save(str(dest), safe_serialization=True)
    scores["structured"] = score_model(dense, evals, settings.seed)
    return {**info, "seconds": time.perf_counter() - start}


def _domain_source(cfg: DictConfig, domain: str) -> str:
    corpus = _opt(cfg.get("adapt"), "calibration_corpus", None)
    if corpus:
        return f"pseudo-queries (ict) from {corpus}"
    return str(cfg.get("data") or f"train_pairs({domain})")


def _embedder(model: Any):  # noqa: ANN202
    """Embeds calibration queries for k-means sampling, with the model's query prompt."""
    from domainteb.adapt.gaprune.calibration import TextPrompts

    prompt = TextPrompts.of(model).query

    def embed(texts: list[str]) -> Any:
        return model.encode(texts, prompt=prompt, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    return embed


def _card(report: Any) -> str:
    rows = "\n".join(
        f"| {phase} | {s.get('domain')} | {s.get('general')} |" for phase, s in report.scores.items()
    )
    return (
        f"# {report.base} pruned for {report.domain} ({report.criterion})\n\n"
        f"Unstructured pruning of the FFN weights with domainteb's GAPrune implementation: "
        f"{report.sparsity_measured:.1%} of {report.n_prunable} prunable weights are zero "
        f"(criterion `{report.criterion}`, Jaccard vs magnitude mask {report.jaccard_vs_magnitude}).\n"
        f"The mask is in `../mask.safetensors`; details in `../prune_report.json`.\n\n"
        f"| phase | domain | general |\n|---|---|---|\n{rows}\n"
    )
