"""engine=ray on a local Ray cluster (``ray.init()`` with no address): encoder actors fill the
same embedding cache and the scores equal the local engine's."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainteb.core.types import RetrievalData, Task, TaskMetadata, TaskType
from domainteb.eval.cache import CachedEncoder
from domainteb.eval.evaluators.retrieval import evaluate_ranking

ray = pytest.importorskip("ray")


def _task() -> tuple[Task, RetrievalData]:
    topics = ["goodwill impairment", "aspirin dosage", "benzene ring", "interest rate swap", "insulin resistance"]
    corpus = {f"d{i}": {"title": topics[i % 5], "text": f"Passage {i} discusses {topics[(i * 2) % 5]} in detail."}
              for i in range(40)}
    queries = {f"q{i}": f"what about {topics[i % 5]}?" for i in range(10)}
    qrels = {f"q{i}": {f"d{i}": 1, f"d{i + 5}": 1} for i in range(10)}
    data = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    meta = TaskMetadata(name="RayTiny", type=TaskType.RETRIEVAL, main_score="ndcg_at_10", params={"k_values": [1, 5, 10]})
    return Task(metadata=meta, loader=lambda: {"test": data}), data


@pytest.fixture
def local_cluster():
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_scores_equal_local_engine(tiny_model, tmp_path: Path, local_cluster) -> None:
    from domainteb.eval.engines import engine_for

    task, data = _task()
    local = evaluate_ranking(task, "test", CachedEncoder(tiny_model, tmp_path / "local"), data=data)
    cfg = {"engine": "ray", "device": "cpu",
           "ray": {"address": None, "actors": 1, "batch_size": 16, "num_cpus": 2, "object_store_memory": 100 * 2**20}}
    remote_cache = CachedEncoder(tiny_model, tmp_path / "ray")
    model = engine_for(cfg)(remote_cache, "minilm-l3", cfg)
    out = evaluate_ranking(task, "test", model, data=data)
    distinct = len(data.corpus) + len(set(data.queries.values()))
    assert model.remote_texts == distinct  # every distinct text was embedded by the actors
    assert remote_cache.stats.misses == 0  # … and then served from the shared cache
    assert any((tmp_path / "ray").glob("*/shard-*"))
    for key, value in local.metrics.items():
        assert out.metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    assert out.settings["search"]["engine"] == "ray" and local.settings["search"]["engine"] == "local"
    again = evaluate_ranking(task, "test", model, data=data)  # a second run sends nothing to Ray
    assert model.remote_texts == distinct
    assert again.metrics["ndcg_at_10"] == out.metrics["ndcg_at_10"]


def test_ray_settings_are_validated() -> None:
    from domainteb.core.errors import ConfigError
    from domainteb.eval.engines import engine_for
    from domainteb.eval.engines.ray_engine import RaySettings

    with pytest.raises(ConfigError, match=r"^ray\.actors=0"):
        RaySettings.from_config({"actors": 0})
    with pytest.raises(ConfigError, match=r"^engine='spark' is unknown"):
        engine_for({"engine": "spark"})


@pytest.mark.slow
def test_two_cpu_encode_workers_give_the_same_embeddings(tiny_model) -> None:
    from domainteb.eval.engines import engine_for

    texts = [f"sentence number {i} about {w}" for i in range(80) for w in ("bonds",)]
    single = tiny_model.encode(texts, batch_size=16)
    engine_for({})(tiny_model, "minilm-l3", {"encode_workers": 2})
    try:
        pooled = tiny_model.encode(texts, batch_size=16)
        assert tiny_model._pool is not None
    finally:
        tiny_model.set_encode_devices([])
    assert tiny_model._pool is None
    import numpy as np

    np.testing.assert_allclose(pooled, single, atol=1e-5)
