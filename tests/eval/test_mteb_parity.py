"""Oracle tests: mteb 2.26 itself scores the same small tasks with the same embeddings.

The tasks are built from real text shipped in the installed ``mteb`` wheel: the descriptions
of its English tasks (with their type, category and domains as labels). Every metric both
libraries report must agree within 1e-4.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from domainteb.core.types import ColumnData, RetrievalData, Task, TaskMetadata, TaskType
from domainteb.eval.evaluators import evaluate_split
from domainteb.eval.items import full_statistic

pytestmark = pytest.mark.slow

mteb = pytest.importorskip("mteb")

TOL = 1e-4


# ---------------------------------------------------------------- real text from the mteb wheel
class Doc:
    def __init__(self, meta: Any) -> None:
        self.name: str = meta.name
        self.type: str = meta.type
        self.category: str = str(meta.category)
        self.domains: set[str] = set(meta.domains or [])
        text = " ".join(meta.description.split())
        parts = re.split(r"(?<=[.!?])\s+", text)
        self.text = text
        self.first = parts[0]
        self.rest = " ".join(parts[1:])

    def overlap(self, other: Doc) -> int:
        """0..5: same type (2), same category (1), shared domains (up to 2)."""
        dom = len(self.domains & other.domains) / max(1, len(self.domains | other.domains))
        return 2 * (self.type == other.type) + (self.category == other.category) + round(2 * dom)


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    tasks = mteb.get_tasks(
        languages=["eng"], task_types=["Retrieval", "Classification", "Clustering", "STS", "PairClassification"]
    )
    seen: set[str] = set()
    out = []
    for t in sorted(tasks, key=lambda t: t.metadata.name):
        d = Doc(t.metadata)
        if d.text in seen or len(d.first) < 25:
            continue
        seen.add(d.text)
        out.append(d)
    return out


def with_rest(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if len(d.rest) > 30]


def by_type(docs: list[Doc], per_type: int) -> list[Doc]:
    out: list[Doc] = []
    for typ in ("Retrieval", "Classification", "Clustering", "STS"):
        out += [d for d in docs if d.type == typ][:per_type]
    return out


# ---------------------------------------------------------------- the mteb side
def _general_args() -> dict[str, Any]:
    from mteb.mocks.mock_tasks.retrieval import general_args

    return dict(general_args)


def mteb_task(base: type, type_: str, main: str, dataset: Any, **attrs: Any) -> Any:
    from mteb.abstasks.task_metadata import TaskMetadata as MtebMetadata

    meta = MtebMetadata(type=type_, name=f"Parity{type_}", main_score=main, **_general_args())

    def load_data(self: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        self.dataset = dataset
        self.data_loaded = True

    cls = type(f"Parity{type_}Task", (base,), {"metadata": meta, "load_data": load_data, **attrs})
    return cls()


@pytest.fixture(scope="module")
def mteb_model(st_model: Any, table: Any) -> Any:
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    class TableWrapper(SentenceTransformerEncoderWrapper):
        def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, prompt_type: Any = None, **kw: Any):
            return table.lookup([t for batch in inputs for t in batch["text"]])

    return TableWrapper(st_model)


def run_mteb(task: Any, model: Any) -> dict[str, Any]:
    scores = task.evaluate(model, "test", encode_kwargs={"batch_size": 32, "show_progress_bar": False})
    return dict(scores["default"])


def ours(type_: TaskType, splits: dict[str, Any], main: str = "", **params: Any) -> Task:
    meta = TaskMetadata(name=f"Parity{type_.value}", type=type_, main_score=main, params=params)
    return Task(metadata=meta, loader=lambda: splits)


def compare(mine: dict[str, float], theirs: dict[str, Any], must_have: set[str]) -> None:
    shared = {
        k for k, v in theirs.items()
        if k in mine and isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None
    }
    assert must_have <= shared, f"missing shared metrics: {sorted(must_have - shared)}"
    bad = {}
    for k in sorted(shared):
        a, b = float(mine[k]), float(theirs[k])
        if math.isnan(a) and math.isnan(b):
            continue
        if not abs(a - b) <= TOL:
            bad[k] = (a, b)
    assert not bad, f"metrics differ from mteb (domainteb, mteb): {bad}"


# ---------------------------------------------------------------- tests per type
def _retrieval_data(docs: list[Doc], n_queries: int, n_distractors: int):
    pool = with_rest(docs)
    qdocs, extra = pool[:n_queries], pool[n_queries : n_queries + n_distractors]
    corpus = {}
    for i, d in enumerate(qdocs + extra):
        corpus[f"d{i}"] = {"title": d.name if i % 2 == 0 else "", "text": d.rest}
    queries = {f"q{i}": d.first for i, d in enumerate(qdocs)}
    qrels: dict[str, dict[str, int]] = {}
    for i, d in enumerate(qdocs):
        rels = {f"d{i}": 2}
        same = next((j for j, o in enumerate(qdocs + extra) if j != i and o.type == d.type), None)
        if same is not None and i % 3 == 0:
            rels[f"d{same}"] = 1
        qrels[f"q{i}"] = rels
    return corpus, queries, qrels


def _mteb_retrieval_split(corpus, queries, qrels, top_ranked=None):
    from datasets import Dataset
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

    return RetrievalSplitData(
        corpus=Dataset.from_list([{"id": k, **v} for k, v in corpus.items()]),
        queries=Dataset.from_list([{"id": k, "text": v} for k, v in queries.items()]),
        relevant_docs=qrels,
        top_ranked=top_ranked,
    )


RANKING_KEYS = {"ndcg_at_10", "map_at_1000", "mrr_at_10", "recall_at_5", "precision_at_3", "hit_rate_at_1", "nauc_ndcg_at_10_max"}


def test_retrieval_parity(docs, mteb_model, encoder):
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    corpus, queries, qrels = _retrieval_data(docs, 40, 25)
    theirs = run_mteb(
        mteb_task(AbsTaskRetrieval, "Retrieval", "ndcg_at_10", {"default": {"test": _mteb_retrieval_split(corpus, queries, qrels)}}),
        mteb_model,
    )
    out = evaluate_split(ours(TaskType.RETRIEVAL, {"test": RetrievalData(corpus, queries, qrels)}), "test", encoder)
    compare(out.metrics, theirs, RANKING_KEYS | {"main_score", "accuracy"})
    assert abs(full_statistic(out.items) - out.metrics["ndcg_at_10"]) < 1e-9
    assert 0.1 < out.metrics["ndcg_at_10"] <= 1.0


def test_reranking_parity(docs, mteb_model, encoder):
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    corpus, queries, qrels = _retrieval_data(docs, 30, 10)
    n = len(corpus)
    top_ranked = {q: [f"d{i}"] + [f"d{(i * 7 + j * 5 + 1) % n}" for j in range(5)] for i, q in enumerate(queries)}
    top_ranked = {q: list(dict.fromkeys(c)) for q, c in top_ranked.items()}
    qrels = {q: {**{d: 0 for d in top_ranked[q]}, **qrels[q]} for q in queries}
    theirs = run_mteb(
        mteb_task(
            AbsTaskRetrieval, "Reranking", "map_at_1000",
            {"default": {"test": _mteb_retrieval_split(corpus, queries, qrels, top_ranked)}},
        ),
        mteb_model,
    )
    out = evaluate_split(ours(TaskType.RERANKING, {"test": RetrievalData(corpus, queries, qrels, top_ranked)}), "test", encoder)
    compare(out.metrics, theirs, RANKING_KEYS | {"main_score"})
    assert out.settings["reranking"] is True
    assert abs(full_statistic(out.items) - out.metrics["map_at_1000"]) < 1e-9


def _pairs(docs: list[Doc], n: int) -> tuple[list[str], list[str], list[Doc], list[Doc]]:
    a = docs[:n]
    b = [docs[(i * 7 + 3) % len(docs)] for i in range(n)]
    # every third pair is two tasks of the same type, so both labels occur
    for i in range(0, n, 3):
        b[i] = next(d for d in docs[n:] if d.type == a[i].type and d is not a[i])
    return [d.first for d in a], [d.first for d in b], a, b


def test_sts_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS

    s1, s2, a, b = _pairs(docs, 50)
    score = [float(x.overlap(y)) for x, y in zip(a, b)]
    theirs = run_mteb(
        mteb_task(AbsTaskSTS, "STS", "cosine_spearman",
                  DatasetDict({"test": Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": score})}),
                  min_score=0, max_score=5),
        mteb_model,
    )
    cols = ColumnData({"sentence1": s1, "sentence2": s2, "score": score})
    out = evaluate_split(ours(TaskType.STS, {"test": cols}, min_score=0, max_score=5), "test", encoder)
    compare(out.metrics, theirs, {"cosine_spearman", "cosine_pearson", "manhattan_spearman", "euclidean_pearson", "spearman", "pearson", "main_score"})
    assert abs(full_statistic(out.items) - out.metrics["cosine_spearman"]) < 1e-9


def test_pair_classification_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    s1, s2, a, b = _pairs(docs, 60)
    labels = [int(x.type == y.type) for x, y in zip(a, b)]
    assert 0 < sum(labels) < len(labels)
    theirs = run_mteb(
        mteb_task(AbsTaskPairClassification, "PairClassification", "max_ap",
                  DatasetDict({"test": Dataset.from_dict({"sentence1": s1, "sentence2": s2, "labels": labels})})),
        mteb_model,
    )
    cols = ColumnData({"sentence1": s1, "sentence2": s2, "labels": labels})
    out = evaluate_split(ours(TaskType.PAIR_CLASSIFICATION, {"test": cols}), "test", encoder)
    keys = {f"{f}_{m}" for f in ("cosine", "manhattan", "euclidean", "dot", "similarity") for m in ("accuracy", "f1", "precision", "recall", "ap")}
    compare(out.metrics, theirs, keys | {"max_ap", "max_f1", "max_accuracy", "main_score"})
    assert abs(full_statistic(out.items) - out.metrics["max_ap"]) < 1e-9


def test_classification_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.classification import AbsTaskClassification

    train, test = by_type(docs, 30)[::2], by_type(docs, 30)[1::2]
    label = {"Retrieval": 0, "Classification": 1, "Clustering": 2, "STS": 3}
    split = lambda ds: {"text": [d.text for d in ds], "label": [label[d.type] for d in ds]}  # noqa: E731
    theirs = run_mteb(
        mteb_task(AbsTaskClassification, "Classification", "accuracy",
                  DatasetDict({"train": Dataset.from_dict(split(train)), "test": Dataset.from_dict(split(test))})),
        mteb_model,
    )
    task = ours(TaskType.CLASSIFICATION, {"train": ColumnData(split(train)), "test": ColumnData(split(test))})
    task.metadata.train_split = "train"
    out = evaluate_split(task, "test", encoder)
    compare(out.metrics, theirs, {"accuracy", "f1", "f1_weighted", "precision", "recall_weighted", "main_score"})
    assert abs(full_statistic(out.items) - out.metrics["accuracy"]) < 1e-9


def test_binary_classification_parity_with_string_labels(docs, mteb_model, encoder):
    """Binary tasks add ap/ap_weighted; string labels give the same scores as integer codes."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.classification import AbsTaskClassification

    pool = [d for d in docs if d.type in {"Retrieval", "Classification"}]
    pool = [d for d in pool if d.type == "Retrieval"][:25] + [d for d in pool if d.type == "Classification"][:25]
    train, test = pool[::2], pool[1::2]
    # string labels become codes in sorted order: "cls" -> 0, "ret" -> 1
    ints = lambda ds: {"text": [d.text for d in ds], "label": [int(d.type == "Retrieval") for d in ds]}  # noqa: E731
    strs = lambda ds: {"text": [d.text for d in ds], "label": ["cls" if d.type == "Classification" else "ret" for d in ds]}  # noqa: E731
    theirs = run_mteb(
        mteb_task(AbsTaskClassification, "Classification", "f1",
                  DatasetDict({"train": Dataset.from_dict(ints(train)), "test": Dataset.from_dict(ints(test))}),
                  samples_per_label=6, n_experiments=4),
        mteb_model,
    )
    task = ours(TaskType.CLASSIFICATION, {"train": ColumnData(strs(train)), "test": ColumnData(strs(test))}, "f1",
                samples_per_label=6, n_experiments=4)
    out = evaluate_split(task, "test", encoder)
    compare(out.metrics, theirs, {"accuracy", "f1", "ap", "ap_weighted", "main_score"})
    assert abs(full_statistic(out.items) - out.metrics["f1"]) < 1e-9


def test_clustering_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.clustering import AbsTaskClustering

    pool = by_type(docs, 12)
    cols = {"sentences": [d.text for d in pool], "labels": [d.type for d in pool]}
    theirs = run_mteb(
        mteb_task(AbsTaskClustering, "Clustering", "v_measure", DatasetDict({"test": Dataset.from_dict(cols)}),
                  max_fraction_of_documents_to_embed=None, max_documents_per_cluster=200, n_clusters=5),
        mteb_model,
    )
    task = ours(TaskType.CLUSTERING, {"test": ColumnData(cols)}, max_documents_per_cluster=200, n_clusters=5)
    out = evaluate_split(task, "test", encoder)
    compare(out.metrics, theirs, {"v_measure", "v_measure_std", "ami", "main_score"})
    # (stats) items are per document (labels + each of the 5 k-means fits' assignment of every
    # document), so the report resamples documents; their full statistic is the fits' V-measure
    # on all documents, not mteb's mean over the bootstrap samples
    assert len(out.items["clusters"]) == 5 and len(out.items["ids"]) == len(pool)
    assert 0 < full_statistic(out.items) <= 1


def test_bitext_mining_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

    pool = with_rest(docs)[:40]
    cols = {"sentence1": [d.first for d in pool], "sentence2": [d.rest for d in pool]}
    theirs = run_mteb(
        mteb_task(AbsTaskBitextMining, "BitextMining", "f1", DatasetDict({"test": Dataset.from_dict(cols)})), mteb_model
    )
    out = evaluate_split(ours(TaskType.BITEXT_MINING, {"test": ColumnData(cols)}), "test", encoder)
    compare(out.metrics, theirs, {"f1", "precision", "recall", "accuracy", "main_score"})
    assert out.metrics["f1"] < 1.0  # a real task: some rows are mismatched
    assert abs(full_statistic(out.items) - out.metrics["f1"]) < 1e-9


def test_summarization_parity(docs, mteb_model, encoder):
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.text.summarization import AbsTaskSummarization

    pool = with_rest(docs)
    rows = pool[:15]
    cols: dict[str, list[Any]] = {"text": [], "human_summaries": [], "machine_summaries": [], "relevance": []}
    for i, d in enumerate(rows):
        others = [pool[(i * 5 + j * 11 + 20) % len(pool)] for j in range(4)]
        cols["text"].append(d.rest)
        cols["human_summaries"].append([d.first, d.name])
        cols["machine_summaries"].append([o.first for o in others] + [d.first.lower()])
        cols["relevance"].append([float(d.overlap(o)) for o in others] + [5.0])
    theirs = run_mteb(
        mteb_task(AbsTaskSummarization, "Summarization", "cosine_spearman", DatasetDict({"test": Dataset.from_dict(cols)}),
                  min_score=0, max_score=5),
        mteb_model,
    )
    out = evaluate_split(ours(TaskType.SUMMARIZATION, {"test": ColumnData(cols)}, min_score=0, max_score=5), "test", encoder)
    compare(out.metrics, theirs, {"cosine_spearman", "cosine_pearson", "dot_spearman", "dot_pearson", "spearman", "pearson", "main_score"})
    assert abs(full_statistic(out.items) - out.metrics["cosine_spearman"]) < 1e-9


def test_fin_summarization_matches_finmteb_sts_scoring(docs, mteb_model, encoder):
    """FinMTEB scores (text, summary, score) with its STS evaluator: mteb's STS is the oracle."""
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS

    pool = with_rest(docs)[:40]
    texts, summaries, score = [], [], []
    for i, d in enumerate(pool):
        other = pool[(i * 3 + 1) % len(pool)] if i % 2 else d
        texts.append(d.rest)
        summaries.append(other.first)
        score.append(1.0 if other is d else d.overlap(other) / 5)
    theirs = run_mteb(
        mteb_task(AbsTaskSTS, "STS", "cosine_spearman",
                  DatasetDict({"test": Dataset.from_dict({"sentence1": texts, "sentence2": summaries, "score": score})}),
                  min_score=0, max_score=1),
        mteb_model,
    )
    cols = ColumnData({"text": texts, "summary": summaries, "score": score})
    out = evaluate_split(ours(TaskType.FIN_SUMMARIZATION, {"test": cols}), "test", encoder)
    compare(out.metrics, theirs, {"cosine_spearman", "cosine_pearson", "manhattan_spearman", "euclidean_spearman", "main_score"})


def test_nauc_matches_mteb_including_flat_and_tied_metrics():
    from mteb._evaluators.retrieval_metrics import nauc as mteb_nauc

    from domainteb.eval.evaluators.ranking_metrics import nauc

    rng = np.random.default_rng(1)
    conf = rng.random(23)
    cases = [np.full(23, 0.01), np.full(23, 0.0), conf, rng.integers(0, 2, 23).astype(float), np.round(rng.random(23), 1)]
    for metric in cases:
        for c in (conf, np.round(conf, 1)):
            a, b = nauc(c, metric), mteb_nauc(c, metric)
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12
