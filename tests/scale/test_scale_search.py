"""Streamed exact search equals one-shot search; FAISS flat equals exact; approximate backends
record their recall@10; settings are validated with one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from domainteb.core.errors import ConfigError
from domainteb.eval.search import BACKENDS, SearchSettings, make_index, prepare, stream_search, top_k


def _chunks(x: np.ndarray, size: int):
    for start in range(0, len(x), size):
        yield x[start : start + size]


def _data(n_docs: int = 3000, n_q: int = 64, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_docs, dim)).astype(np.float32), rng.standard_normal((n_q, dim)).astype(np.float32)


def _naive(q: np.ndarray, d: np.ndarray, k: int, score: str) -> tuple[np.ndarray, np.ndarray]:
    qp, dp = prepare(q, score), prepare(d, score)
    full = qp.astype(np.float64) @ dp.astype(np.float64).T  # the matrix the streamed search never builds
    idx = np.argsort(-full, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(full, idx, 1), idx


@pytest.mark.parametrize("score", ["cosine", "dot"])
@pytest.mark.parametrize("chunk", [64, 500, 10_000])
def test_chunked_exact_search_equals_one_shot(score: str, chunk: int) -> None:
    docs, queries = _data()
    k = 25
    one_shot = top_k(queries, docs, k, score=score)
    found, record = stream_search(queries, _chunks(docs, chunk), k, score=score,
                                  settings=SearchSettings(corpus_chunk_size=chunk, query_chunk_size=16),
                                  n_documents=len(docs))
    np.testing.assert_array_equal(found.indices, one_shot.indices)
    # a different block shape may round the last bit of a score differently, never more
    np.testing.assert_allclose(found.scores, one_shot.scores, rtol=1e-6, atol=1e-6)
    ref_s, ref_i = _naive(queries, docs, k, score)
    np.testing.assert_array_equal(found.indices, ref_i)
    np.testing.assert_allclose(found.scores, ref_s, atol=1e-5)
    assert record.backend == "exact" and record.n_documents == len(docs) and record.recall_at_10 is None
    assert record.peak_rss_bytes > 0 and record.passages_per_second > 0


def test_ties_keep_corpus_order_and_k_is_capped() -> None:
    docs = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], np.float32)
    q = np.array([[1, 0]], np.float32)
    found, _ = stream_search(q, _chunks(docs, 1), 10, score="dot", settings=SearchSettings(corpus_chunk_size=1))
    assert found.indices.tolist() == [[0, 2, 3, 1]]


def test_float16_storage_keeps_the_ranking() -> None:
    docs, queries = _data()
    exact, _ = stream_search(queries, _chunks(docs, 1000), 10, score="cosine", settings=SearchSettings())
    half, rec = stream_search(queries, _chunks(docs, 1000), 10, score="cosine", settings=SearchSettings(dtype="float16"))
    assert rec.dtype == "float16"
    assert np.mean(half.indices == exact.indices) > 0.97
    np.testing.assert_allclose(half.scores, exact.scores, atol=2e-3)


def test_exact_index_holds_one_float16_copy() -> None:
    index = make_index(32, SearchSettings(dtype="float16"), expected_size=1000)
    docs, _ = _data(1000)
    for chunk in _chunks(prepare(docs, "cosine"), 128):
        index.add(chunk)
    assert len(index) == 1000 and index.nbytes == 1000 * 32 * 2
    index.clear()
    assert len(index) == 0


def test_faiss_flat_equals_exact() -> None:
    pytest.importorskip("faiss")
    docs, queries = _data(5000, 200, 48, seed=3)
    k = 50
    exact, _ = stream_search(queries, _chunks(docs, 777), k, score="cosine", settings=SearchSettings())
    flat, rec = stream_search(queries, _chunks(docs, 777), k, score="cosine",
                              settings=SearchSettings(backend="faiss-flat"))
    assert rec.backend == "faiss-flat" and not rec.approximate
    assert np.abs(flat.scores - exact.scores).max() <= 1e-6
    # equal ids wherever the exact scores are separated by more than the 1e-6 arithmetic noise
    # (two documents within 1e-6 of each other are a tie either backend may order either way)
    s = exact.scores
    separated = np.ones_like(s, dtype=bool)
    separated[:, 1:] &= (s[:, :-1] - s[:, 1:]) > 2e-6
    separated[:, :-1] &= (s[:, :-1] - s[:, 1:]) > 2e-6
    assert separated.mean() > 0.9
    np.testing.assert_array_equal(flat.indices[separated], exact.indices[separated])
    assert all(set(a) == set(b) for a, b in zip(flat.indices[:, :-1], exact.indices[:, :-1])
               if np.all(np.diff(-s[0]) > 2e-6))


def _clustered(n: int, n_q: int, dim: int = 32, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    docs = centres[rng.integers(0, 40, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    queries = docs[rng.choice(n, n_q, replace=False)] + 0.1 * rng.standard_normal((n_q, dim)).astype(np.float32)
    return docs, queries


@pytest.mark.parametrize("backend", ["faiss-ivf", "faiss-hnsw"])
def test_approximate_backends_record_recall_against_exact(backend: str) -> None:
    pytest.importorskip("faiss")
    docs, queries = _clustered(4000, 120)
    settings = SearchSettings(backend=backend, train_size=2000, nprobe=8, recall_sample=50, corpus_chunk_size=900)
    found, rec = stream_search(queries, _chunks(docs, 900), 10, score="cosine", settings=settings, n_documents=len(docs))
    exact, _ = stream_search(queries, _chunks(docs, 900), 10, score="cosine", settings=SearchSettings())
    assert rec.backend == backend and rec.approximate and rec.recall_sample == 50
    sample = np.sort(np.random.default_rng(settings.seed).choice(len(queries), 50, replace=False))
    measured = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.indices[sample], exact.indices[sample])])
    assert rec.recall_at_10 == pytest.approx(measured)
    assert rec.recall_at_10 >= 0.9
    if backend == "faiss-ivf":
        assert rec.params["nlist"] >= 1 and rec.params["nprobe"] == 8


def test_ivf_on_a_corpus_smaller_than_its_training_sample() -> None:
    pytest.importorskip("faiss")
    docs, queries = _clustered(300, 20)
    found, rec = stream_search(queries, _chunks(docs, 64), 5, score="cosine",
                               settings=SearchSettings(backend="faiss-ivf"), n_documents=300)
    assert found.indices.shape == (20, 5) and rec.n_documents == 300 and rec.recall_at_10 is not None


def test_empty_corpus_and_empty_queries() -> None:
    found, rec = stream_search(np.zeros((3, 8), np.float32), iter([]), 10, score="cosine", settings=SearchSettings())
    assert found.indices.shape == (3, 0) and rec.n_documents == 0
    docs, _ = _data(50, 1, 8)
    found, _ = stream_search(np.zeros((0, 8), np.float32), _chunks(docs, 10), 10, score="cosine",
                             settings=SearchSettings(backend="faiss-ivf"))
    assert found.indices.shape == (0, 0) or found.indices.shape[0] == 0


@pytest.mark.parametrize(
    ("cfg", "field"),
    [({"backend": "annoy"}, "search.backend"), ({"corpus_chunk_size": 0}, "search.corpus_chunk_size"),
     ({"dtype": "int8"}, "search.dtype"), ({"nprobe": "many"}, "search.nprobe"), ({"colour": 1}, "search.colour")],
)
def test_bad_settings_are_one_line_errors(cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        SearchSettings.from_config(cfg)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_registry_lists_every_backend() -> None:
    assert list(BACKENDS) == ["exact", "faiss-flat", "faiss-hnsw", "faiss-ivf"]
    assert SearchSettings.from_config({"backend": "faiss-flat", "nlist": None}).backend == "faiss-flat"


def test_encode_pool_settings() -> None:
    from domainteb.eval.engines import encode_devices

    assert encode_devices({"encode_workers": 3}) == ["cpu", "cpu", "cpu"]
    assert encode_devices({"encode_devices": ["cuda:0", "cuda:1"]}) == ["cuda:0", "cuda:1"]
    assert encode_devices({"encode_devices": "[cuda:0,cuda:1]"}) == ["cuda:0", "cuda:1"]
    assert encode_devices({}) == [] and encode_devices({"encode_workers": 1}) == []
    with pytest.raises(ConfigError, match=r"^encode_workers='two'"):
        encode_devices({"encode_workers": "two"})
