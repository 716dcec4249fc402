"""The retrieval evaluator streams the corpus: any chunk size and either exact backend give the
same run and metrics; the search is recorded; observers see each run; BM25 indexes once."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from domainteb.core.types import RetrievalData, Task, TaskMetadata, TaskType
from domainteb.eval.evaluators import retrieval
from domainteb.eval.search import SearchSettings, use_settings


class _Vectors:
    """Deterministic 16-dim vectors per text; counts encode calls (stands in for a model)."""

    name, revision = "vec", "1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts, *, prompt_type=None, task_name=None, batch_size=32, show_progress=False) -> np.ndarray:
        self.calls.append(len(texts))
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")).standard_normal(16)
                for t in texts]
        return np.asarray(rows, np.float32).reshape(len(texts), 16)

    def model_info(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision}


def _task(n_docs: int = 120) -> tuple[Task, RetrievalData]:
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    corpus = {f"d{i}": {"title": words[i % 5], "text": f"passage {i} about {words[(i * 3) % 5]}"} for i in range(n_docs)}
    queries = {f"q{i}": f"{words[i % 5]} passage {i}" for i in range(15)}
    qrels = {f"q{i}": {f"d{i}": 1, f"d{i + 20}": 1} for i in range(15)}
    data = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    meta = TaskMetadata(name="ScaleTiny", type=TaskType.RETRIEVAL, main_score="ndcg_at_10", params={"k_values": [1, 10, 100]})
    return Task(metadata=meta, loader=lambda: {"test": data}), data


@pytest.mark.parametrize("backend", ["exact", "faiss-flat"])
def test_chunk_size_and_exact_backends_do_not_change_scores(backend: str) -> None:
    if backend != "exact":
        pytest.importorskip("faiss")
    task, data = _task()
    with use_settings(SearchSettings(corpus_chunk_size=1_000_000)):
        whole = retrieval.evaluate_ranking(task, "test", _Vectors(), data=data)
    model = _Vectors()
    with use_settings(SearchSettings(backend=backend, corpus_chunk_size=17)):
        chunked = retrieval.evaluate_ranking(task, "test", model, data=data)
    assert model.calls[1:] == [17] * 7 + [120 - 7 * 17]  # queries once, then one call per corpus chunk
    for key, value in whole.metrics.items():
        assert chunked.metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    searched = chunked.settings["search"]
    assert searched["backend"] == backend and searched["corpus_chunk_size"] == 17
    assert searched["n_documents"] == 120 and searched["peak_rss_bytes"] > 0 and searched["passages_per_second"] > 0


def test_observers_receive_each_run() -> None:
    task, data = _task()
    seen: list[tuple[str, int, int]] = []
    observer = lambda t, split, run, per_query: seen.append((split, len(run), len(per_query)))  # noqa: E731
    retrieval.RUN_OBSERVERS.append(observer)
    try:
        retrieval.evaluate_ranking(task, "test", _Vectors(), data=data)
    finally:
        retrieval.RUN_OBSERVERS.remove(observer)
    assert seen == [("test", 15, 15)]


def test_approximate_backend_is_recorded_with_its_recall() -> None:
    pytest.importorskip("faiss")
    task, data = _task(400)
    with use_settings(SearchSettings(backend="faiss-ivf", nlist=4, nprobe=1, train_size=200, corpus_chunk_size=100)):
        out = retrieval.evaluate_ranking(task, "test", _Vectors(), data=data)
    searched = out.settings["search"]
    assert searched["backend"] == "faiss-ivf" and searched["approximate"]
    assert 0.0 <= searched["recall_at_10"] <= 1.0 and searched["recall_sample"] == 15
    assert searched["params"] == {"nlist": 4, "nprobe": 1}


def test_bm25_batched_search_builds_its_index_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOMAINTEB_CACHE", str(tmp_path))
    from domainteb.eval.models.lexical import LexicalModel

    task, data = _task()
    model = LexicalModel(n_threads=0)
    first = model.search(data.corpus, data.queries, 10)
    assert model.index_dir is not None and len(list(model.index_dir.iterdir())) == 1  # published on disk
    # the batched run equals scoring each query alone
    retriever, doc_ids = model.index_for(data.corpus)
    for qid, text in data.queries.items():
        scores = retriever.get_scores([t for t in model.tokenize(text) if t in retriever.vocab_dict])
        best = sorted(((float(s), doc_ids[i]) for i, s in enumerate(scores) if s > 0), reverse=True)[:10]
        assert sorted(first[qid].values(), reverse=True) == pytest.approx([s for s, _ in best])
    fresh = LexicalModel(n_threads=0)  # a new run loads the cached index instead of re-indexing
    monkeypatch.setattr("bm25s.BM25.index", lambda *a, **k: pytest.fail("re-indexed a cached corpus"))
    again = fresh.search(data.corpus, data.queries, 10)
    assert again.keys() == first.keys() and all(again[q] == pytest.approx(first[q]) for q in first)
    assert fresh.search(data.corpus, {"qx": "the of and"}, 10) == {"qx": {}}  # stop words only
