"""Evaluators: hand-computed metric cases, property tests, and end-to-end runs on real text."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainteb.core.errors import DomainTebError, TaskDataError
from domainteb.core.taskio import load_task_folder, write_task_folder
from domainteb.core.types import ColumnData, RetrievalData, Task, TaskMetadata, TaskType
from domainteb.eval.evaluators import EVALUATORS, evaluate_split
from domainteb.eval.evaluators.bitext_mining import bitext_metrics
from domainteb.eval.evaluators.classification import undersample
from domainteb.eval.evaluators.pair_classification import threshold_metrics
from domainteb.eval.evaluators.ranking_metrics import ranking_metrics
from domainteb.eval.items import full_statistic, make_items, resample_statistic
from domainteb.eval.search import candidate_run, search_run, top_k


def make_task(type_: TaskType, splits: dict[str, Any], main: str = "", **params: Any) -> Task:
    return Task(TaskMetadata(name=f"t-{type_.value}", type=type_, main_score=main, params=params), loader=lambda: splits)


# ------------------------------------------------------------------------------------ search
def test_top_k_matches_brute_force_across_chunks():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(7, 16)).astype(np.float32), rng.normal(size=(53, 16)).astype(np.float32)
    found = top_k(q, d, 5, query_chunk=3, doc_chunk=8)
    qn, dn = q / np.linalg.norm(q, axis=1, keepdims=True), d / np.linalg.norm(d, axis=1, keepdims=True)
    full = qn @ dn.T
    expect = np.argsort(-full, axis=1)[:, :5]
    assert (found.indices == expect).all()
    assert np.allclose(found.scores, np.take_along_axis(full, expect, axis=1), atol=1e-6)
    assert (np.diff(found.scores, axis=1) <= 0).all()


def test_top_k_dot_and_k_capped_at_corpus():
    q = np.array([[1.0, 0.0]], np.float32)
    d = np.array([[0.5, 0.0], [3.0, 0.0], [0.0, 1.0]], np.float32)
    dot = top_k(q, d, 10, score="dot")
    assert dot.indices.tolist() == [[1, 0, 2]]
    cos = top_k(q, d, 2, score="cosine")
    assert cos.scores[0].tolist() == pytest.approx([1.0, 1.0])


def test_runs_are_beir_dicts():
    q = np.eye(2, dtype=np.float32)
    d = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    run = search_run(["a", "b"], q, ["x", "y", "z"], d, 2)
    assert list(run["a"]) == ["x", "z"] and list(run["b"]) == ["y", "z"]
    cand = candidate_run(["a", "b"], q, {"x": 0, "y": 1, "z": 2}, d, {"a": ["y", "z"], "b": []})
    assert set(cand["a"]) == {"y", "z"} and cand["b"] == {}


# ---------------------------------------------------------------------------- ranking metrics
def test_perfect_ranking_scores_one():
    qrels = {"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 2}}
    run = {"q1": {"d1": 0.9, "d2": 0.8, "d3": 0.1}, "q2": {"d3": 0.7, "d1": 0.2}}
    m, per_query = ranking_metrics(qrels, run, (1, 3, 10))
    for key in ("ndcg_at_10", "map_at_10", "mrr_at_10", "recall_at_3", "hit_rate_at_1"):
        assert m[key] == pytest.approx(1.0), key
    assert m["precision_at_1"] == 1.0 and m["accuracy"] == m["recall_at_1"]
    assert set(per_query) == {"q1", "q2"}


def test_relevant_doc_at_rank_two():
    qrels = {"q": {"b": 1}}
    run = {"q": {"a": 0.9, "b": 0.5, "c": 0.1}}
    m, _ = ranking_metrics(qrels, run, (1, 3))
    assert m["mrr_at_3"] == pytest.approx(0.5)
    assert m["ndcg_at_3"] == pytest.approx(1 / math.log2(3))
    assert m["recall_at_1"] == 0.0 and m["recall_at_3"] == 1.0
    assert m["precision_at_3"] == pytest.approx(1 / 3)
    assert m["map_at_3"] == pytest.approx(0.5)


def test_mrr_breaks_ties_by_doc_id_descending_like_trec_eval():
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 0.5, "b": 0.5}}  # tie: "b" ranks first
    m, _ = ranking_metrics(qrels, run, (1, 2), with_nauc=False)
    assert m["mrr_at_1"] == 0.0 and m["mrr_at_2"] == 0.5 and m["ndcg_at_1"] == 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=12),
    st.lists(st.integers(0, 2), min_size=3, max_size=12),
)
def test_ranking_metrics_stay_in_unit_interval(scores, rels):
    n = min(len(scores), len(rels))
    rels = rels[:n]
    rels[0] = max(rels[0], 1)
    qrels = {"q": {f"d{i}": r for i, r in enumerate(rels)}}
    run = {"q": {f"d{i}": s for i, s in enumerate(scores[:n])}}
    m, _ = ranking_metrics(qrels, run, (1, 3, 10), with_nauc=False)
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in m.values())
    perfect = {"q": {f"d{i}": float(r) + 1e-3 * (n - i) for i, r in enumerate(rels)}}
    assert ranking_metrics(qrels, perfect, (10,), with_nauc=False)[0]["ndcg_at_10"] == pytest.approx(1.0)


# ---------------------------------------------------------------- pair / bitext / classification
def test_threshold_metrics_hand_cases():
    sep = threshold_metrics(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0]))
    assert sep == pytest.approx({"accuracy": 1.0, "f1": 1.0, "precision": 1.0, "recall": 1.0, "ap": 1.0})
    mixed = threshold_metrics(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 0, 1, 0]))
    assert mixed["accuracy"] == pytest.approx(0.75)  # cut after 0.3: 2 positives + 1 negative right
    assert mixed["f1"] == pytest.approx(0.8)  # cut after 0.3: p=2/3, r=1
    tied = threshold_metrics(np.array([0.5, 0.5]), np.array([1, 0]))
    assert tied["accuracy"] == 0.0 and tied["f1"] == 0.0  # a threshold cannot split ties (mteb)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5, allow_nan=False), st.integers(0, 1)), min_size=2, max_size=30))
def test_threshold_metrics_in_unit_interval(rows):
    scores = np.array([r[0] for r in rows])
    labels = np.array([r[1] for r in rows])
    if labels.sum() == 0:
        labels[0] = 1
    m = threshold_metrics(scores, labels)
    assert all(0.0 <= v <= 1.0 for k, v in m.items() if not math.isnan(v))


def test_bitext_metrics_hand_case():
    assert bitext_metrics(np.arange(4), np.arange(4))["f1"] == 1.0
    m = bitext_metrics(np.arange(4), np.array([0, 1, 3, 3]))
    # rows 0,1,3 right; class 3 predicted twice (precision 1/2), class 2 never predicted
    assert m["accuracy"] == 0.75
    assert m["f1"] == pytest.approx((1 + 1 + 0 + 2 / 3) / 4)


def test_undersample_is_mteb_protocol():
    labels = ["a"] * 10 + ["b"] * 3
    runs = undersample(labels, 3, 2, seed=42)
    assert len(runs) == 3 and all(len(r) == 4 for r in runs)
    assert all(sum(labels[i] == "a" for i in r) == 2 for r in runs)
    assert undersample(labels, 3, 2, seed=42) == runs  # deterministic
    # experiment 2 re-shuffles experiment 1's order with a fresh RandomState(seed)
    order = list(range(13))
    np.random.RandomState(42).shuffle(order)
    np.random.RandomState(42).shuffle(order)
    firsts = [i for i in order if labels[i] == "a"][:2] + [i for i in order if labels[i] == "b"][:2]
    assert runs[1] == [i for i in order if i in firsts]


# ----------------------------------------------------------------------------------- items
def test_items_resample_and_json_round_trip():
    items = make_items("mean", ["q1", "q2", "q3"], values=np.array([1.0, 0.0, 0.5]))
    assert full_statistic(items) == pytest.approx(0.5)
    assert resample_statistic(items, np.array([0, 0, 2])) == pytest.approx(2.5 / 3)
    back = json.loads(json.dumps(items))
    assert full_statistic(back) == full_statistic(items)
    sp = make_items("spearman", [0, 1, 2, 3], pred=[0.1, 0.2, 0.3, 0.4], gold=[1, 2, 3, 5])
    assert full_statistic(sp) == pytest.approx(1.0)
    with pytest.raises(DomainTebError, match="unknown item statistic"):
        make_items("median", [1])


# ------------------------------------------------------------------- end to end, real encoder
def test_registry_covers_every_task_type():
    assert set(EVALUATORS.names()) == {t.value for t in TaskType}


def _retrieval(descr: list[tuple[str, str]]) -> RetrievalData:
    sents = [s for _, s in descr]
    corpus = {f"d{i}": {"title": "", "text": s} for i, s in enumerate(sents)}
    # a query is the first half of a sentence; its document is the whole sentence
    queries = {f"q{i}": " ".join(s.split()[: max(4, len(s.split()) // 2)]) for i, s in enumerate(sents[:12])}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(12)}
    return RetrievalData(corpus, queries, qrels)


def test_retrieval_end_to_end_with_dedupe_and_prompts(descr_sentences, encoder):
    data = _retrieval(descr_sentences)
    out = evaluate_split(make_task(TaskType.RETRIEVAL, {"test": data}), "test", encoder)
    assert out.metrics["main_score"] == out.metrics["ndcg_at_10"] > 0.5
    assert out.settings["k_values"][-1] == 1000 and out.settings["ignore_identical_ids"] is False
    assert [c["prompt_type"] for c in encoder.calls] == ["query", "document"]
    assert all(c["n"] == c["unique"] for c in encoder.calls)
    assert full_statistic(out.items) == pytest.approx(out.metrics["ndcg_at_10"])
    json.dumps(out.items)


def test_ignore_identical_ids_is_explicit(descr_sentences, encoder):
    sents = [s for _, s in descr_sentences][:10]
    data = RetrievalData(
        corpus={f"x{i}": {"title": "", "text": s} for i, s in enumerate(sents)},
        queries={f"x{i}": s for i, s in enumerate(sents)},
        qrels={f"x{i}": {f"x{(i + 1) % 10}": 1} for i in range(10)},
    )
    kept = evaluate_split(make_task(TaskType.RETRIEVAL, {"test": data}), "test", encoder)
    dropped = evaluate_split(make_task(TaskType.RETRIEVAL, {"test": data}, ignore_identical_ids=True), "test", encoder)
    assert dropped.settings["ignore_identical_ids"] is True
    assert dropped.metrics["mrr_at_10"] > kept.metrics["mrr_at_10"]


def test_reranking_from_task_folder(tmp_path, descr_sentences, encoder):
    by = {}
    for name, s in descr_sentences:
        by.setdefault(name, []).append(s)
    rows = {"query": [], "positive": [], "negative": []}
    for name, sents in by.items():
        others = [s for n, ss in by.items() if n != name for s in ss[:2]]
        rows["query"].append(sents[0])
        rows["positive"].append(sents[1:3])
        rows["negative"].append(others)
    meta = TaskMetadata(name="rr", type=TaskType.RERANKING)
    task = load_task_folder(write_task_folder(tmp_path / "rr", meta, {"test": ColumnData(rows)}))
    out = evaluate_split(task, "test", encoder)
    assert out.metrics["main_score"] == out.metrics["map_at_1000"]
    assert 0.0 < out.metrics["map_at_1000"] <= 1.0
    assert len(out.items["ids"]) == len(by)


class Bm25:
    """A real lexical model (bm25s) implementing ``SearchModel``."""

    name, revision = "bm25", "bm25s"

    def search(self, corpus, queries, top_k, candidates=None):
        import bm25s

        ids = list(corpus)
        index = bm25s.BM25()
        index.index(bm25s.tokenize([corpus[d]["text"] for d in ids], show_progress=False), show_progress=False)
        docs, scores = index.retrieve(
            bm25s.tokenize(list(queries.values()), show_progress=False), k=min(top_k, len(ids)), show_progress=False
        )
        run = {}
        for qid, row_d, row_s in zip(queries, docs, scores):
            hits = {ids[int(i)]: float(s) for i, s in zip(row_d, row_s)}
            run[qid] = {d: s for d, s in hits.items() if candidates is None or d in candidates[qid]}
        return run

    def model_info(self):
        return {"name": self.name}


def test_search_model_runs_retrieval_but_not_sts(descr_sentences):
    out = evaluate_split(make_task(TaskType.RETRIEVAL, {"test": _retrieval(descr_sentences)}), "test", Bm25())
    assert out.settings["similarity"] == "search" and out.metrics["recall_at_10"] > 0.5
    sts = ColumnData({"sentence1": ["a b"], "sentence2": ["c d"], "score": [1.0]})
    with pytest.raises(DomainTebError, match="cannot embed text"):
        evaluate_split(make_task(TaskType.STS, {"test": sts}), "test", Bm25())


def test_sts_encodes_each_distinct_text_once(descr_sentences, encoder):
    sents = [s for _, s in descr_sentences]
    s1 = sents[:20] + sents[:5]
    s2 = sents[1:21] + sents[:5]  # five identical pairs
    score = [float(i % 6) for i in range(20)] + [5.0] * 5
    out = evaluate_split(make_task(TaskType.STS, {"test": ColumnData({"sentence1": s1, "sentence2": s2, "score": score})}), "test", encoder)
    assert len(encoder.calls) == 1 and encoder.calls[0]["n"] == len(set(s1 + s2))
    assert -1 <= out.metrics["cosine_spearman"] <= 1 and out.items["statistic"] == "spearman"


def test_classification_clustering_and_bitext_on_real_text(descr_sentences, encoder):
    train = ColumnData({"text": [s for _, s in descr_sentences[::2]], "label": [n for n, _ in descr_sentences[::2]]})
    test = ColumnData({"text": [s for _, s in descr_sentences[1::2]], "label": [n for n, _ in descr_sentences[1::2]]})
    task = make_task(TaskType.CLASSIFICATION, {"train": train, "test": test}, n_experiments=3)
    task.metadata.train_split = "train"
    out = evaluate_split(task, "test", encoder)
    assert out.metrics["accuracy"] > 0.4 and out.settings["n_experiments"] == 3
    cl = ColumnData({"sentences": [s for _, s in descr_sentences], "labels": [n for n, _ in descr_sentences]})
    out = evaluate_split(make_task(TaskType.CLUSTERING, {"test": cl}, n_clusters=3, max_documents_per_cluster=50), "test", encoder)
    assert 0 < out.metrics["v_measure"] <= 1 and len(out.items["clusters"]) == 3  # (stats) per-document items
    assert out.items["statistic"] == "v_measure" and len(out.items["ids"]) == len(descr_sentences)
    sents = [s for _, s in descr_sentences][:20]
    bt = ColumnData({"sentence1": sents, "sentence2": [s.lower() for s in sents]})
    out = evaluate_split(make_task(TaskType.BITEXT_MINING, {"test": bt}), "test", encoder)
    assert out.metrics["f1"] > 0.8 and full_statistic(out.items) == pytest.approx(out.metrics["f1"])


def test_fin_summarization_without_scores_is_retrieval(descr_sentences, encoder):
    sents = [s for _, s in descr_sentences][:15]
    cols = ColumnData({"text": sents, "summary": [" ".join(s.split()[:6]) for s in sents]})
    with pytest.raises(TaskDataError, match="main_score 'cosine_spearman' is not computed"):
        evaluate_split(make_task(TaskType.FIN_SUMMARIZATION, {"test": cols}), "test", encoder)
    out = evaluate_split(make_task(TaskType.FIN_SUMMARIZATION, {"test": cols}, "ndcg_at_10"), "test", encoder)
    assert out.metrics["main_score"] > 0.5 and "retrieval" in out.settings["scored_as"]


def test_bad_input_is_one_line_error(encoder):
    cols = ColumnData({"sentence1": ["x"], "sentence2": ["y"]})
    with pytest.raises(TaskDataError, match="missing column"):
        evaluate_split(make_task(TaskType.STS, {"test": cols}), "test", encoder)
    with pytest.raises(TaskDataError, match="no split"):
        evaluate_split(make_task(TaskType.STS, {"test": cols}), "dev", encoder)

