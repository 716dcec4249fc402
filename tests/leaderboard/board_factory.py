"""A medical results folder for the leaderboard's ranking features, written through domainteb's
result API: an adapted model and its base, a generalist that the adapted model cannot be told
apart from, a clearly weaker one, the BM25 + cross-encoder ceiling on the retrieval tasks only,
per-query items for retrieval, per-pair Spearman items for STS and no items for one task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from domainteb.core.results import make_result, write_result

#: the model name the mteb-written fixture results carry (tests/leaderboard/conftest.py)
MINILM_L3 = "sentence-transformers/paraphrase-MiniLM-L3-v2"

MODELS: dict[str, dict[str, Any]] = {
    "minilm-l6": {"name": "minilm-l6", "n_parameters": 22_713_216, "embed_dim": 384, "max_seq_length": 256, "labels": []},
    "minilm-l6-medical": {"name": "minilm-l6-medical", "n_parameters": 22_713_216, "embed_dim": 384, "max_seq_length": 256,
                          "labels": ["adapted", "finetune"], "base_model": "minilm-l6", "domain": "medical",
                          "synthetic_pairs": 1007, "training_data": "medical train split + synthetic queries"},
    "bge-small": {"name": "bge-small", "n_parameters": 33_360_000, "embed_dim": 384, "max_seq_length": 512, "labels": ["int8-dequantized"]},
    "e5-small": {"name": "e5-small", "n_parameters": 33_360_000, "embed_dim": 384, "max_seq_length": 512, "labels": ["int8-dequantized"]},
    "bm25-ce-rerank": {"name": "bm25-ce-rerank", "labels": ["reference", "int8-dequantized"]},
}


def _write(root: Path, model: str, task: str, task_type: str, main: float, items: dict[str, Any] | None, key: str) -> None:
    result = make_result(
        task_name=task, task_type=task_type, domain="medical", dataset_revision="r0",
        scores={"test": {"main_score": main, key: main}}, evaluation_time=0.1, model=MODELS[model],
        extra={"items": {"test": items}} if items else {},
    )
    write_result(root, result)


def make_board_results(root: Path) -> Path:
    rng = np.random.default_rng(7)
    for task in ("MedRetA", "MedRetB"):
        base = rng.uniform(0.3, 0.7, 80)
        values = {
            "minilm-l6": base,
            "minilm-l6-medical": base + 0.04 + rng.normal(0, 0.02, 80),
            "bge-small": base + 0.04 + rng.normal(0, 0.15, 80),
            "e5-small": base - 0.1 + rng.normal(0, 0.02, 80),
            "bm25-ce-rerank": np.clip(base + 0.2, 0, 1),
        }
        ids = [f"q{i}" for i in range(80)]
        for model, v in values.items():
            v = np.clip(v, 0, 1)
            _write(root, model, task, "Retrieval", float(v.mean()),
                   {"statistic": "mean", "ids": ids, "values": v.tolist()}, "ndcg_at_10")
    gold = rng.uniform(0, 5, 60)
    noise = {"minilm-l6": 1.2, "minilm-l6-medical": 0.9, "bge-small": 0.9, "e5-small": 2.0}
    from scipy.stats import spearmanr

    for model, sd in noise.items():
        pred = gold + rng.normal(0, sd, 60)
        items = {"statistic": "spearman", "ids": [f"p{i}" for i in range(60)], "gold": gold.tolist(), "pred": pred.tolist()}
        _write(root, model, "MedSTS", "STS", float(spearmanr(gold, pred)[0]), items, "cosine_spearman")
    for model, score in {"minilm-l6": 0.70, "minilm-l6-medical": 0.72, "bge-small": 0.73, "e5-small": 0.66}.items():
        _write(root, model, "MedPairs", "PairClassification", score, None, "max_ap")
    return root
