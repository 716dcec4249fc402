"""Reading results folders: both layouts, bad files, duplicates, blanks, empty folders."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from results_factory import write_score

from domainteb.core.errors import DomainTebError
from domainteb.eval.report.collect import load_profiles, load_results


def test_reads_domainteb_results_with_items_and_model_info(results_dir: Path) -> None:
    res = load_results(results_dir)
    assert res.models == ["bm25", "ft-minilm", "minilm-l6", "pruned-50"]
    rec = res.score("ft-minilm", "FinQA")
    assert rec is not None and rec.fmt == "domainteb" and rec.split == "test"
    assert rec.task_type == "Retrieval" and rec.domain == "finance"
    assert rec.items is not None and rec.items["statistic"] == "mean" and len(rec.items["ids"]) == 60
    assert res.model_info("ft-minilm")["training_data"] == "synthetic finance queries"
    assert res.score("minilm-l6", "FinFilings") is None  # missing stays missing
    assert res.warnings == []


def test_items_stored_without_split_key_are_read_too(tmp_path: Path) -> None:
    path = write_score(tmp_path, "m", "T", [0.5, 1.0])
    data = json.loads(path.read_text())
    data["domainteb"]["items"] = data["domainteb"]["items"]["test"]
    path.write_text(json.dumps(data))
    rec = load_results(tmp_path).score("m", "T")
    assert rec is not None and rec.items == {"statistic": "mean", "ids": ["q0", "q1"], "values": [0.5, 1.0]}


def test_unknown_and_broken_files_are_skipped_with_a_warning(results_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (results_dir / "bm25" / "notes.json").write_text(json.dumps({"hello": "world"}))
    (results_dir / "bm25" / "broken.json").write_text("{not json")
    (results_dir / "bm25" / "list.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING):
        res = load_results(results_dir)
    assert len(res.warnings) == 3
    assert any("notes.json: skipped, unknown result format" in w for w in res.warnings)
    assert any("broken.json: skipped, not valid JSON" in w for w in res.warnings)
    assert "notes.json" in caplog.text
    assert res.score("bm25", "FinQA") is not None  # everything valid is still there


def test_duplicate_model_names_are_disambiguated_by_folder(results_dir: Path) -> None:
    shutil.copytree(results_dir / "bm25", results_dir / "bm25-rerun")
    res = load_results(results_dir)
    assert "bm25 (bm25)" in res.models and "bm25 (bm25-rerun)" in res.models and "bm25" not in res.models
    assert any("'bm25' is claimed by 2 folders" in w for w in res.warnings)


def test_empty_or_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DomainTebError, match="no readable result files") as exc:
        load_results(tmp_path)
    assert "\n" not in str(exc.value)
    with pytest.raises(DomainTebError, match="folder not found"):
        load_results(tmp_path / "nope")
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(DomainTebError, match="no readable result files"):
        load_results(tmp_path)


def test_profiles_are_read_by_task_name(results_dir: Path) -> None:
    assert load_profiles(results_dir)["FinQA"]["jsd"] == 0.42
    assert load_profiles(results_dir / "nowhere") == {}


@pytest.mark.slow
def test_reads_results_written_by_the_mteb_library(tmp_path: Path) -> None:
    """Files written by mteb's own ResultCache (``<model>/<revision>/<Task>.json`` +
    model_meta.json); task type/domain come from a domainteb result for the same task."""
    import mteb
    from mteb.cache import ResultCache
    from mteb.results import TaskResult

    meta = mteb.get_model_meta("sentence-transformers/all-MiniLM-L6-v2")
    for task, score in (("FinQA", 0.61), ("FinNews", 0.58)):
        result = TaskResult(
            dataset_revision="r0", task_name=task, mteb_version=mteb.__version__, evaluation_time=1.0,
            scores={"test": [{"main_score": score, "ndcg_at_10": score, "hf_subset": "default", "languages": ["eng-Latn"]}]},
        )
        ResultCache(cache_path=tmp_path / "mteb").save_to_cache(result, meta)
    write_score(tmp_path / "mteb", "ft-minilm", "FinQA", [0.7, 0.8])
    res = load_results(tmp_path / "mteb")
    name = "sentence-transformers/all-MiniLM-L6-v2"
    assert res.models == ["ft-minilm", name]
    rec = res.score(name, "FinQA")
    assert rec is not None and rec.fmt == "mteb" and rec.main_score == pytest.approx(0.61)
    assert rec.task_type == "Retrieval" and rec.domain == "finance" and rec.items is None
    info = res.model_info(name)
    assert info["n_parameters"] == meta.n_parameters and info["embed_dim"] == 384 and info["revision"] == meta.revision
    assert not info.get("labels") and info["license"] == "apache-2.0"  # labels: not in mteb metadata, blank
    other = res.score(name, "FinNews")
    assert other is not None and other.domain is None  # unknown task: blank, not guessed
    assert res.warnings == []
