"""Public benchmark loaders on local copies laid out exactly like the hub datasets.

Each fixture writes a tiny dataset in its hub repository's layout (parquet files, README
``configs`` where the hub repo has several configs) and points the loader at it with
``local_path`` or ``$DOMAINTEB_HF_DATA``. Where mteb ships the task (ChemTEB, MTEB(Medical))
the converted data are checked against what mteb's own loader and transform produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from domainteb.core.errors import TaskDataError
from domainteb.core.tasks import TASKS, list_tasks
from domainteb.core.types import ColumnData, RetrievalData, TaskType
from domainteb.domains.public import build_public_task
from domainteb.domains.public.availability import hub_reachable
from domainteb.domains.public.catalog import public_task_info


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets-cache"))
    # datasets reads the variable at import: patch its config too, or a same-named copy from
    # another test is served from ~/.cache/huggingface/datasets (mteb's side reads it directly)
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")
    monkeypatch.delenv("DOMAINTEB_HF_DATA", raising=False)
    hub_reachable.cache_clear()


def _parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def _readme(folder: Path, configs: dict[str, dict[str, str]]) -> None:
    """README.md with a ``configs`` block, as multi-config hub dataset repos have."""
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in splits.items():
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    lines.append("---")
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_beir_hub(folder: Path, split: str) -> None:
    """BEIR on the hub (mteb/nfcorpus, FinanceMTEB/FiQA): corpus, queries, qrels in `default`."""
    _parquet(folder / "corpus" / "corpus-00000-of-00001.parquet", [
        {"_id": "d1", "title": "Dividend policy", "text": "A dividend is a distribution of profits to shareholders."},
        {"_id": "d2", "title": "", "text": "Bonds pay a fixed coupon until maturity."},
        {"_id": "d3", "title": "Inflation", "text": "Inflation erodes the real value of cash."},
    ])
    _parquet(folder / "queries" / "queries-00000-of-00001.parquet", [
        {"_id": "q1", "text": "what is a dividend"},
        {"_id": "q2", "text": "how do bonds pay interest"},
        {"_id": "q3", "text": "a query without judgements"},
    ])
    _parquet(folder / "data" / f"{split}-00000-of-00001.parquet", [
        {"query-id": "q1", "corpus-id": "d1", "score": 1},
        {"query-id": "q2", "corpus-id": "d2", "score": 1},
        {"query-id": "q2", "corpus-id": "d3", "score": 0},
    ])
    _readme(folder, {
        "corpus": {"corpus": "corpus/*.parquet"},
        "queries": {"queries": "queries/*.parquet"},
        "default": {split: f"data/{split}-*.parquet"},
    })


def _split_files(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    """A single-config hub repo: ``data/<split>-00000-of-00001.parquet`` (split names from file names)."""
    for split, rows in splits.items():
        _parquet(folder / "data" / f"{split}-00000-of-00001.parquet", rows)
    return folder


# ---------------------------------------------------------------- registry / availability


def test_public_tasks_are_registered_per_benchmark() -> None:
    fin = list_tasks(domain="finance", benchmark="finmteb")
    chem = list_tasks(domain="chemistry", benchmark="chemteb")
    med = list_tasks(domain="medical", benchmark="mteb-medical")
    assert len(fin) == 35 and len(chem) == 27 and len(med) == 12
    assert {s.type for s in fin} == {
        TaskType.CLASSIFICATION, TaskType.CLUSTERING, TaskType.PAIR_CLASSIFICATION, TaskType.RERANKING,
        TaskType.RETRIEVAL, TaskType.STS, TaskType.FIN_SUMMARIZATION,
    }
    assert [s.name for s in list_tasks(benchmark="finmteb", types=["STS"])] == ["FINAL", "FinSTS"]


def test_offline_tasks_are_unavailable_with_a_reason_and_build_fails_in_one_line() -> None:
    spec = TASKS.get("FinSTS")
    reason = spec.availability()
    assert reason is not None and "not in the local HF cache" in reason and "FinanceMTEB/FinSTS" in reason
    with pytest.raises(TaskDataError) as err:
        spec.build()
    assert "\n" not in str(err.value) and "FinSTS is unavailable" in str(err.value)


def test_offline_check_is_fast_without_the_offline_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    hub_reachable.cache_clear()
    start = time.monotonic()
    reason = TASKS.get("ESGClassification").availability()
    assert time.monotonic() - start < 4
    assert reason is not None and reason.startswith("Hugging Face hub unreachable")


def test_hub_cache_snapshot_makes_a_task_available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = public_task_info("FinSTS")
    snap = tmp_path / "hf-hub-cache" / "datasets--FinanceMTEB--FinSTS" / "snapshots" / info.revision
    _split_files(snap, {"test": [{"sentence1": "Revenue rose.", "sentence2": "Sales increased.", "score": 0.9}]})
    assert TASKS.get("FinSTS").availability() is None
    data = TASKS.get("FinSTS").build().split("test")
    assert isinstance(data, ColumnData) and data["sentence1"] == ["Revenue rose."]


# ---------------------------------------------------------------- FinMTEB (loaded by domainteb)


def test_finmteb_retrieval_equals_mteb_retrieval_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "hub" / "FinanceMTEB" / "FiQA"
    write_beir_hub(folder, "train")
    monkeypatch.setenv("DOMAINTEB_HF_DATA", str(tmp_path / "hub"))
    task = TASKS.get("FiQA2018Retrieval").build()
    data = task.split("train")
    assert isinstance(data, RetrievalData)
    assert data.queries == {"q1": "what is a dividend", "q2": "how do bonds pay interest"}
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 0}}
    assert data.corpus["d2"] == {"title": "", "text": "Bonds pay a fixed coupon until maturity."}
    assert task.metadata.main_score == "ndcg_at_10" and task.metadata.benchmark == "finmteb"

    from mteb.abstasks.retrieval_dataset_loaders import RetrievalDatasetLoader

    ref = RetrievalDatasetLoader(hf_repo=str(folder), revision=None, split="train").load()  # type: ignore[arg-type]
    assert data.qrels == {q: dict(r) for q, r in ref["relevant_docs"].items()}
    assert data.queries == {r["id"]: r["text"] for r in ref["queries"]}
    assert data.corpus == {r["id"]: {"title": r["title"], "text": r["text"]} for r in ref["corpus"]}


def test_finmteb_classification_renames_and_keeps_train(tmp_path: Path) -> None:
    rows = lambda n: [{"sentence": f"Rates will rise {i}.", "label": i % 2} for i in range(n)]  # noqa: E731
    folder = _split_files(tmp_path / "FOMC", {"train": rows(4), "test": rows(3)})
    task = build_public_task(public_task_info("FOMCClassification"), local_path=folder)
    test = task.split("test")
    assert isinstance(test, ColumnData) and test.columns == {"text": [r["sentence"] for r in rows(3)], "label": [0, 1, 0]}
    assert task.metadata.train_split == "train" and len(task.split("train")) == 4
    assert task.metadata.n_samples == {"test": 3, "train": 4}


def test_finmteb_pair_classification_one_row_layout(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "PDD", {"test": [{"sent1": ["Gold up", "Oil down"], "sent2": ["Gold rises", "Oil rises"], "labels": [1, 0]}]})
    data = build_public_task(public_task_info("HeadlinePDDPairClassification"), local_path=folder).split("test")
    assert isinstance(data, ColumnData)
    assert data.columns == {"sentence1": ["Gold up", "Oil down"], "sentence2": ["Gold rises", "Oil rises"], "labels": [1, 0]}


def test_finmteb_reranking_becomes_retrieval_with_candidates(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "FinFact", {"test": [
        {"query": "Did the Fed raise rates?", "positive": ["The Fed raised rates by 25bp."], "negative": ["Stocks fell.", "Oil rose."]},
    ]})
    data = build_public_task(public_task_info("FinFactReranking"), local_path=folder).split("test")
    assert isinstance(data, RetrievalData) and data.top_ranked is not None
    (qid,) = data.queries
    assert [data.corpus[d]["text"] for d in data.top_ranked[qid]] == ["The Fed raised rates by 25bp.", "Stocks fell.", "Oil rose."]
    assert sum(data.qrels[qid].values()) == 1


def test_finmteb_clustering_flattens_cluster_sets_and_records_sizes(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "MInDS", {"test": [
        {"sentences": ["card lost", "freeze card", "balance?"], "labels": ["card", "card", "balance"]},
        {"sentences": ["pay bill", "bill due"], "labels": ["bill", "bill"]},
    ]})
    task = build_public_task(public_task_info("MInDS14EnClustering"), local_path=folder)
    data = task.split("test")
    assert isinstance(data, ColumnData) and data["sentences"][3:] == ["pay bill", "bill due"]
    assert task.metadata.params["cluster_set_sizes"] == {"test": [3, 2]}


def test_finmteb_summarization_keeps_text_summary_score(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "ECT", {"test": [{"text": "Q3 call transcript ...", "summary": "Revenue up 5%.", "score": 0.7}]})
    task = build_public_task(public_task_info("Ectsum"), local_path=folder)
    assert task.type is TaskType.FIN_SUMMARIZATION
    assert task.split("test").columns == {"text": ["Q3 call transcript ..."], "summary": ["Revenue up 5%."], "score": [0.7]}
    assert task.metadata.params["min_score"] == 0 and task.metadata.params["max_score"] == 1


def test_finmteb_wrong_layout_is_one_line_error(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "STS", {"test": [{"a": "x", "b": "y"}]})
    with pytest.raises(TaskDataError) as err:
        build_public_task(public_task_info("FinSTS"), local_path=folder).load()
    assert "missing column(s) sentence1, sentence2, score" in str(err.value) and "\n" not in str(err.value)
