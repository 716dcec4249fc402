"""The static site's files and data (the browser test drives the pages themselves)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_module
from results_factory import write_score

from domainteb.core.errors import DomainTebError
from domainteb.eval.leaderboard import build_site


def test_site_layout_and_data(results_dir: Path, tmp_path: Path) -> None:
    index = build_site(results_dir, tmp_path / "site")
    site = index.parent
    assert index.name == "index.html"
    for rel in ("finance.html", "medical.html", "data/finance.json", "data/finance.csv", "data/medical.csv",
                "assets/leaderboard.js", "assets/leaderboard.css"):
        assert (site / rel).is_file(), rel
    data = json.loads((site / "data" / "finance.json").read_text())
    assert data["types"] == ["Retrieval", "STS"]
    assert [t["name"] for t in data["tasks"]] == ["FinFilings", "FinNews", "FinQA", "FinSTS"]
    assert "FinFilings" not in data["scores"]["minilm-l6"]  # missing: absent, never 0
    assert data["counts"]["minilm-l6"]["all"] == 3
    ft = next(m for m in data["models"] if m["key"] == "ft-minilm")
    assert ft["kind"] == "adapted" and ft["access"] == "open" and ft["mlflow_url"] == "http://127.0.0.1:5000/#/runs/r1"
    pruned = next(m for m in data["models"] if m["key"] == "pruned-50")
    assert pruned["sparsity"] == 0.5
    text = index.read_text()
    assert 'href="finance.html"' in text and 'href="medical.html"' in text and "ft-minilm (66.16)" in text


def test_csv_has_blanks_not_zeros(results_dir: Path, tmp_path: Path) -> None:
    site = build_site(results_dir, tmp_path / "site").parent
    raw = (site / "data" / "finance.csv").read_text()
    frame = pd.read_csv(io.StringIO(raw))
    assert list(frame["model"]) == ["ft-minilm", "minilm-l6", "pruned-50", "bm25"]  # by Borda rank
    row = frame.set_index("model").loc["minilm-l6"]
    assert pd.isna(row["FinFilings"]) and row["FinNews"] > 0
    assert pd.isna(frame.set_index("model").loc["bm25", "n_parameters"])
    assert ",22700000,384," in raw  # integers stay integers


def test_page_data_is_embedded_safely(tmp_path: Path) -> None:
    """Data live in the page (works from file://); a hostile name cannot close the script."""
    evil = "x</script><script>alert(1)</script>"
    write_score(tmp_path / "results", evil, "FinQA", [0.5, 0.6])
    site = build_site(tmp_path / "results", tmp_path / "site").parent
    html = (site / "finance.html").read_text()
    assert "window.DOMAINTEB_DATA = {" in html
    assert html.count("</script>") == 2 and "<\\/script>" in html


def test_mteb_style_results_without_domain_go_to_other(tmp_path: Path) -> None:
    folder = tmp_path / "results" / "org__model" / "rev1"
    folder.mkdir(parents=True)
    (folder / "SomeTask.json").write_text(json.dumps({
        "dataset_revision": "r", "task_name": "SomeTask", "mteb_version": "2.26.24", "evaluation_time": 1.0,
        "scores": {"test": [{"main_score": 0.4, "hf_subset": "default", "languages": ["eng-Latn"]}]},
    }))
    site = build_site(tmp_path / "results", tmp_path / "site").parent
    data = json.loads((site / "data" / "other.json").read_text())
    assert data["models"][0]["key"] == "org/model" and data["scores"]["org/model"]["SomeTask"] == 0.4
    assert data["models"][0]["n_parameters"] is None  # unknown metadata stays blank


def test_leaderboard_stage(results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from domainteb.eval.leaderboard.stage import run

    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        cfg = compose("leaderboard", overrides=[f"results_dir={results_dir}", f"output_dir={tmp_path / 'site'}"])
    assert run(cfg) == 0
    assert (tmp_path / "site" / "finance.html").is_file()
    assert "index.html" in capsys.readouterr().out
    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        empty = compose("leaderboard", overrides=[f"results_dir={tmp_path / 'site' / 'assets'}", f"output_dir={tmp_path / 's2'}"])
    with pytest.raises(DomainTebError, match="no readable result files"):
        run(empty)
