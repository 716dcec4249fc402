"""Borda rank, rank intervals, the tied-with-leader group, Δ vs base, contamination, the ceiling
row, task-type inference and the plots, on hand-made and mteb-written results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from domainteb.eval.leaderboard import build_site
from domainteb.eval.leaderboard.build import contamination, domain_boards
from domainteb.eval.leaderboard.ranking import borda
from domainteb.eval.report.collect import load_results, type_from_score_keys


def test_borda_hand_computed() -> None:
    """t1: A beats B and C (2 points), B and C tie (½ each); t2: B beats A (1), C has no score.
    Points A = 2, B = 1.5, C = 0.5 → ranks 1, 2, 3; equal points share the better rank."""
    scores = {"A": {"t1": 0.9, "t2": 0.5}, "B": {"t1": 0.8, "t2": 0.6}, "C": {"t1": 0.8}}
    points, ranks = borda(scores, ["t1", "t2"], ["A", "B", "C"])
    assert points == {"A": 2.0, "B": 1.5, "C": 0.5}
    assert ranks == {"A": 1, "B": 2, "C": 3}
    points, ranks = borda({"A": {"t": 0.5}, "B": {"t": 0.5}, "C": {"t": 0.1}}, ["t"], ["A", "B", "C"])
    assert points == {"A": 1.5, "B": 1.5, "C": 0.0} and ranks == {"A": 1, "B": 1, "C": 3}


def _board(board_dir: Path, domain: str = "medical"):  # type: ignore[no-untyped-def]
    return next(b for b in domain_boards(load_results(board_dir), n_boot=1000, seed=0) if b.domain == domain)


def test_rank_intervals_and_tied_with_leader(board_dir: Path) -> None:
    board = _board(board_dir)
    assert {m: e.rank for m, e in board.borda.items()} == {"minilm-l6-medical": 1, "bge-small": 2, "minilm-l6": 3, "e5-small": 4}
    assert board.leader == "minilm-l6-medical"
    # bge-small's per-query noise is large: it cannot be told apart from the leader; e5 and the base can
    assert sorted(board.tied_with_leader) == ["bge-small", "minilm-l6-medical"]
    assert board.rank_interval["e5-small"] == [4, 4]
    lo, hi = board.rank_interval["bge-small"]
    assert lo == 1 and hi >= 2  # an interval that reaches #1 is what "tied" looks like in ranks
    assert board.rank_resampled_tasks == ["MedRetA", "MedRetB", "MedSTS"] and board.rank_fixed_tasks == ["MedPairs"]
    assert "bm25-ce-rerank" not in board.borda and "bm25-ce-rerank" not in board.rank_interval  # never ranked
    # Mean(TaskType) = mean of the three per-type means
    avg = board.averages["minilm-l6"]
    assert board.mean_type["minilm-l6"] == pytest.approx(np.mean([avg["PairClassification"], avg["Retrieval"], avg["STS"]]))


def test_delta_vs_base_with_ci(board_dir: Path) -> None:
    board = _board(board_dir)
    d = board.delta_vs_base["minilm-l6-medical"]
    own, base = board.scores["minilm-l6-medical"], board.scores["minilm-l6"]
    assert d["base"] == "minilm-l6" and d["n_tasks"] == 4 and d["n_fixed"] == 1  # MedPairs has no items
    assert d["delta"] == pytest.approx(np.mean([own[t] - base[t] for t in own]))
    assert 0 < d["lo"] < d["delta"] < d["hi"]
    adapted = next(m for m in board.models if m.key == "minilm-l6-medical")
    assert adapted.adaptation_method == "finetune" and adapted.synthetic_size == 1007 and adapted.max_tokens == 256


def test_contamination_marker(board_dir: Path) -> None:
    board = _board(board_dir)
    flags = {m.key: (m.zero_shot, m.contamination) for m in board.models}
    assert flags["minilm-l6-medical"][0] is False and "trained on medical data" in flags["minilm-l6-medical"][1]
    assert all(z for k, (z, _) in flags.items() if k != "minilm-l6-medical")
    # mteb's training_datasets naming an evaluated task
    assert contamination({"training_datasets": ["MedRetA", "MSMARCO"]}, "medical", ["MedRetA", "MedSTS"]) == "trained on MedRetA"
    assert contamination({"domain": "finance", "labels": ["adapted"]}, "medical", ["MedRetA"]) == ""


def test_ceiling_row_only_where_there_is_retrieval(board_dir: Path, tmp_path: Path) -> None:
    board = _board(board_dir)
    ceiling = next(m for m in board.models if m.key == "bm25-ce-rerank")
    assert ceiling.kind == "reference" and board.counts["bm25-ce-rerank"]["all"] == 2
    from board_factory import MODELS
    from domainteb.core.results import make_result, write_result

    for model in ("bm25-ce-rerank", "minilm-l6"):
        write_result(tmp_path / "sts", make_result(task_name="OnlySTS", task_type="STS", domain="medical", dataset_revision="r",
                                                   scores={"test": {"main_score": 0.5}}, evaluation_time=0.1, model=MODELS[model]))
    only_sts = _board(tmp_path / "sts")
    assert [m.key for m in only_sts.models] == ["minilm-l6"]


def test_type_from_score_keys() -> None:
    assert type_from_score_keys(["ndcg_at_10", "map_at_1000", "main_score"]) == "Retrieval"
    assert type_from_score_keys(["cosine_spearman", "pearson", "main_score"]) == "STS"
    assert type_from_score_keys(["v_measure", "main_score"]) == "Clustering"
    assert type_from_score_keys(["max_ap", "cosine_accuracy"]) == "PairClassification"
    assert type_from_score_keys(["accuracy", "f1", "f1_weighted", "scores_per_experiment"]) == "Classification"
    assert type_from_score_keys(["precision", "recall", "f1", "accuracy"]) == "BitextMining"
    assert type_from_score_keys(["main_score", "hf_subset"]) is None


def test_plots_are_svg_files_in_the_site(board_dir: Path, tmp_path: Path) -> None:
    site = build_site(board_dir, tmp_path / "site", n_boot=300).parent
    data = json.loads((site / "data" / "medical.json").read_text())
    assert set(data["plots"]) == {"score_vs_params", "type_profile", "gain_over_base"}
    texts = {k: (site / rel).read_text() for k, rel in data["plots"].items()}
    assert all(t.lstrip().startswith("<?xml") and "<svg" in t for t in texts.values())
    assert "total parameters (log scale)" in texts["score_vs_params"]
    assert "minilm-l6-medical vs minilm-l6" in texts["gain_over_base"]
    assert "#1 minilm-l6-medical" in texts["type_profile"]
    csv = (site / "data" / "medical.csv").read_text().splitlines()
    assert csv[0].startswith("model,borda_rank,borda_points,rank_interval_low,rank_interval_high,tied_with_leader,mean_task,mean_task_type")
    assert csv[1].startswith("minilm-l6-medical,1,")


@pytest.mark.slow
def test_board_from_domainteb_and_mteb_written_results(board_dir: Path, mteb_results: Path, tmp_path: Path) -> None:
    """Two folders at once: ours and one written by mteb.evaluate (with its prediction_folder
    inside it, which is not mistaken for results). Types come from mteb's registry (ChatDoctorRetrieval,
    also placed in the medical domain by mteb's metadata) or from the score keys (mock tasks)."""
    from board_factory import MINILM_L3

    assert list((mteb_results / "predictions").glob("*_predictions.json"))
    results = load_results(mteb_results)
    assert results.warnings == []
    site = build_site([board_dir, mteb_results], tmp_path / "site", n_boot=300).parent
    other = json.loads((site / "data" / "other.json").read_text())
    types = {t["name"]: (t["type"], t["type_source"]) for t in other["tasks"]}
    assert types == {"MockRetrievalTask": ("Retrieval", "score keys"), "MockSTSTask": ("STS", "score keys")}
    medical = json.loads((site / "data" / "medical.json").read_text())
    scifact = next(t for t in medical["tasks"] if t["name"] == "ChatDoctorRetrieval")
    assert (scifact["type"], scifact["type_source"]) == ("Retrieval", "mteb registry")
    l3 = next(m for m in medical["models"] if m["key"] == MINILM_L3)
    assert l3["max_tokens"] == 128 and l3["embed_dim"] == 384 and l3["n_parameters"] == 17_389_824
    assert MINILM_L3 in medical["borda"] and MINILM_L3 not in medical["rank_interval"]  # one task only: incomplete
