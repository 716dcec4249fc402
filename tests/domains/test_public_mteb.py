"""ChemTEB / MTEB(Medical) tasks: the catalog mirrors mteb, and converted data equal mteb's own.

Fixtures are local copies in each hub dataset's layout; mteb's task class loads them (its own
loader and ``dataset_transform``) and the converted domainteb data are compared with both the
hand-written fixture values and mteb's ``task.dataset``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from domainteb.core.types import ColumnData, RetrievalData, TaskType
from domainteb.domains.public import build_public_task
from domainteb.domains.public.availability import hub_reachable
from domainteb.domains.public.catalog import ALL_PUBLIC, CHEMTEB, FINMTEB, MTEB_BENCHMARKS, MTEB_MEDICAL, public_task_info
from test_public_loaders import _parquet, _readme, _split_files, write_beir_hub

mteb = pytest.importorskip("mteb")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets-cache"))
    # datasets reads the variable at import: patch its config too, or a same-named copy from
    # another test is served from ~/.cache/huggingface/datasets (mteb's side reads it directly)
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")
    hub_reachable.cache_clear()


def _mteb_task(name: str, folder: Path):  # the reference: mteb's own loader on the same files
    task = mteb.get_task(name)
    task.metadata = task.metadata.model_copy(update={"dataset": {**task.metadata.dataset, "path": str(folder)}})
    task.load_data()
    return task


@pytest.mark.parametrize("benchmark,rows", [("chemteb", CHEMTEB), ("mteb-medical", MTEB_MEDICAL)])
def test_catalog_matches_mteb_benchmark(benchmark: str, rows: list) -> None:
    bench = mteb.get_benchmark(MTEB_BENCHMARKS[benchmark])
    expected = [(t.metadata.name, t.metadata.type, t.metadata.dataset["path"], t.metadata.dataset["revision"]) for t in bench.tasks]
    assert [(r.name, r.type.value, r.path, r.revision) for r in rows] == expected


def test_catalog_names_are_unique_and_finmteb_is_not_in_mteb() -> None:
    names = [r.name for r in ALL_PUBLIC]
    assert len(names) == len(set(names))
    mteb_paths = {t.metadata.dataset.get("path") for t in mteb.get_tasks()}
    assert not any(r.path in mteb_paths for r in FINMTEB)


def test_classification_equals_mteb(tmp_path: Path) -> None:
    rows = lambda n, k: [{"text": f"Wear nitrile gloves {k}{i}.", "label": i % 2} for i in range(n)]  # noqa: E731
    folder = _split_files(tmp_path / "SDSGloves", {"train": rows(6, "a"), "test": rows(4, "b")})
    task = build_public_task(public_task_info("SDSGlovesClassification"), local_path=folder)
    test = task.split("test")
    ref = _mteb_task("SDSGlovesClassification", folder).dataset
    assert isinstance(test, ColumnData)
    assert test.columns == {"text": list(ref["test"]["text"]), "label": list(ref["test"]["label"])}
    assert test["text"] == [r["text"] for r in rows(4, "b")]
    assert task.split("train")["label"] == list(ref["train"]["label"])
    meta = task.metadata
    assert meta.main_score == "accuracy" and meta.train_split == "train" and meta.benchmark == "chemteb"
    assert meta.params["n_experiments"] == 10 and meta.params["samples_per_label"] == 8


def test_retrieval_equals_mteb(tmp_path: Path) -> None:
    folder = tmp_path / "nfcorpus"
    write_beir_hub(folder, "test")
    data = build_public_task(public_task_info("NFCorpus"), local_path=folder).split("test")
    ref = _mteb_task("NFCorpus", folder).dataset["default"]["test"]
    assert isinstance(data, RetrievalData)
    assert data.qrels == {q: dict(r) for q, r in ref["relevant_docs"].items()} == {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 0}}
    assert data.queries == {r["id"]: r["text"] for r in ref["queries"]}
    assert data.corpus == {r["id"]: {"title": r["title"], "text": r["text"]} for r in ref["corpus"]}
    assert data.top_ranked is None


def test_pair_classification_transform_equals_mteb(tmp_path: Path) -> None:
    folder = _split_files(tmp_path / "syn", {"test": [
        {"title": "Aspirin", "synonyms": "acetylsalicylic acid", "labels": 1},
        {"title": "Ethanol", "synonyms": "sodium chloride", "labels": 0},
    ]})
    data = build_public_task(public_task_info("PubChemSynonymPC"), local_path=folder).split("test")
    ref = _mteb_task("PubChemSynonymPC", folder).dataset["test"][0]
    assert isinstance(data, ColumnData)
    assert data.columns == {k: list(ref[k]) for k in ("sentence1", "sentence2", "labels")}
    assert data["sentence2"] == ["acetylsalicylic acid", "sodium chloride"]


def test_clustering_v2_transform_equals_mteb(tmp_path: Path) -> None:
    sets = [
        {"sentences": ["Vaccine trial outcomes", "Covid ICU mortality"], "labels": ["infectious", "infectious"]},
        {"sentences": ["Statin adherence", "Heart failure readmission"], "labels": ["cardiology", "cardiology"]},
    ]
    folder = _split_files(tmp_path / "medrxiv", {"test": sets})
    task = build_public_task(public_task_info("MedrxivClusteringS2S.v2"), local_path=folder)
    data = task.split("test")
    ref = _mteb_task("MedrxivClusteringS2S.v2", folder).dataset["test"]
    assert isinstance(data, ColumnData)
    assert data.columns == {"sentences": list(ref["sentences"]), "labels": list(ref["labels"])}
    assert len(data) == 4 and task.metadata.main_score == "v_measure"
    assert task.metadata.params["max_fraction_of_documents_to_embed"] == 0.04


def test_multi_subset_bitext_keys_and_subset_filter(tmp_path: Path) -> None:
    folder = tmp_path / "smiles"
    cols = {
        "iso-title": ("title", "isomeric_smiles"), "iso-desc": ("description", "isomeric_smiles"),
        "canon-title": ("title", "canonical_smiles"), "canon-desc": ("description", "canonical_smiles"),
    }
    for subset, (a, b) in cols.items():
        _parquet(folder / subset / "test-00000-of-00001.parquet", [{a: "ethanol", b: "CCO"}, {a: "benzene", b: "c1ccccc1"}])
    _readme(folder, {s: {"test": f"{s}/*.parquet"} for s in cols})
    task = build_public_task(public_task_info("PubChemSMILESBitextMining"), local_path=folder)
    assert task.metadata.eval_splits == [f"test:{s}" for s in cols]
    assert task.metadata.params["hf_subsets"] == list(cols)
    data = task.split("test:canon-desc")
    assert isinstance(data, ColumnData) and data.columns == {"sentence1": ["ethanol", "benzene"], "sentence2": ["CCO", "c1ccccc1"]}
    only = build_public_task(public_task_info("PubChemSMILESBitextMining"), local_path=folder, subsets=["iso-title"])
    assert list(only.load()) == ["test:iso-title"]
    assert only.type is TaskType.BITEXT_MINING
