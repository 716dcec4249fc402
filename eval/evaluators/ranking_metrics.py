"""Ranking metrics with mteb 2's names and definitions.

nDCG/MAP/recall/precision/hit-rate come from ``pytrec_eval`` (``ndcg_cut``, ``map_cut``,
``recall``, ``P``, ``success``) exactly as mteb calls it; MRR@k ranks ties by doc id
(descending) like trec_eval; the abstention nAUCs (``nauc_<metric>_<max|std|diff1>``) follow
mteb's ``evaluate_abstention``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: mteb's default cut-offs for retrieval and reranking.
DEFAULT_K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 20, 100, 1000)

_PYTREC = {"ndcg_at": "ndcg_cut", "map_at": "map_cut", "recall_at": "recall", "precision_at": "P", "hit_rate_at": "success"}
_ABSTENTION_RATES = np.linspace(0, 1, 11)[:-1]


def _mrr(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]], k_values: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Per query: ``mrr_at_k`` (ties broken by doc id descending, as trec_eval does)."""
    k_max = max(k_values)
    out: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)[:k_max]
        relevant = {d for d, r in qrels.get(qid, {}).items() if r > 0}
        first = next((rank for rank, (d, _) in enumerate(ranked) if d in relevant), None)
        out[qid] = {f"mrr_at_{k}": (1.0 / (first + 1) if first is not None and first < k else 0.0) for k in k_values}
    return out


def _abstention_curve(conf: np.ndarray, metric: np.ndarray) -> np.ndarray:
    if conf.size == 0:
        return np.full(len(_ABSTENTION_RATES), np.nan)
    order = np.argsort(conf, stable=True)
    sorted_conf, sorted_metric = conf[order], metric[order]
    # a cut inside a run of tied confidences uses the run's mean metric (mteb #5613)
    starts = np.flatnonzero(np.r_[True, sorted_conf[1:] != sorted_conf[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_conf)])
    sorted_metric = np.repeat(np.add.reduceat(sorted_metric, starts) / sizes, sizes)
    cuts = np.minimum(np.round(_ABSTENTION_RATES * len(conf)).astype(int), len(conf) - 1)
    # explicit means (not a cumulative sum) keep a flat curve exactly flat, as in mteb
    return np.array([sorted_metric[c:].mean() for c in cuts])


def nauc(conf: np.ndarray, metric: np.ndarray) -> float:
    """Normalised area under the abstention curve (arXiv:2402.12997), as mteb computes it."""
    from sklearn.metrics import auc

    curve = _abstention_curve(conf, metric)
    oracle = _abstention_curve(metric, metric)
    area, oracle_area = auc(_ABSTENTION_RATES, curve), auc(_ABSTENTION_RATES, oracle)
    flat = oracle[0] * (_ABSTENTION_RATES[-1] - _ABSTENTION_RATES[0])
    return float("nan") if oracle_area == flat else float((area - flat) / (oracle_area - flat))


def _confidences(run: Mapping[str, Mapping[str, float]]) -> dict[str, np.ndarray]:
    rows = []
    for scores in run.values():
        s = np.sort(np.fromiter(scores.values(), dtype=np.float64, count=len(scores)))[::-1]
        if s.size == 0:
            rows.append((0.0, 0.0, 0.0))
        else:
            rows.append((s[0], float(np.std(s)), s[0] - s[1] if s.size > 1 else 0.0))
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return {"max": arr[:, 0], "std": arr[:, 1], "diff1": arr[:, 2]}


def ranking_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    k_values: Sequence[int] = DEFAULT_K_VALUES,
    *,
    with_nauc: bool = True,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Aggregate metrics and per-query metrics (mteb names) of a run against qrels."""
    import pytrec_eval

    ks = ",".join(str(k) for k in k_values)
    measures = {f"{name}.{ks}" for name in _PYTREC.values()}
    qrels_int = {q: {d: int(r) for d, r in rels.items()} for q, rels in qrels.items()}
    run_float = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items()}
    scored = pytrec_eval.RelevanceEvaluator(qrels_int, measures).evaluate(run_float)
    per_query: dict[str, dict[str, float]] = {
        qid: {f"{ours}_{k}": float(vals[f"{theirs}_{k}"]) for ours, theirs in _PYTREC.items() for k in k_values}
        for qid, vals in scored.items()
    }
    mrr = _mrr(qrels_int, run_float, k_values)
    metrics: dict[str, float] = {}
    n = max(len(per_query), 1)
    for ours in _PYTREC:
        for k in k_values:
            metrics[f"{ours}_{k}"] = sum(v[f"{ours}_{k}"] for v in per_query.values()) / n
    for k in k_values:
        metrics[f"mrr_at_{k}"] = sum(v[f"mrr_at_{k}"] for v in mrr.values()) / max(len(mrr), 1)
    if 1 in k_values:
        metrics["accuracy"] = metrics["recall_at_1"]
    for qid, vals in mrr.items():
        if qid in per_query:
            per_query[qid].update(vals)
    if with_nauc and run_float:
        conf = _confidences(run_float)
        # mteb pairs confidences (run order) with pytrec's per-query order for the trec metrics
        for ours in ("ndcg_at", "map_at", "recall_at", "precision_at"):
            for k in k_values:
                values = np.array([v[f"{ours}_{k}"] for v in per_query.values()])
                for fct, c in conf.items():
                    metrics[f"nauc_{ours}_{k}_{fct}"] = nauc(c, values)
        for k in k_values:
            values = np.array([v[f"mrr_at_{k}"] for v in mrr.values()])
            for fct, c in conf.items():
                metrics[f"nauc_mrr_at_{k}_{fct}"] = nauc(c, values)
    return metrics, per_query
