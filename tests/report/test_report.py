"""build_report and the ``report`` stage end to end on a small results folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from domainteb.core.errors import DomainTebError
from domainteb.eval.report import build_report
from domainteb.eval.report.compare import ReportData


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from results_factory import make_results_dir

    root = make_results_dir(tmp_path_factory.mktemp("r") / "results")
    return build_report(root, "ft-minilm", ["bm25", "minilm-l6", "pruned-50"], "finance", root.parent / "out", n_boot=500, seed=0)


def _row(report, baseline: str, task: str):  # type: ignore[no-untyped-def]
    return next(r for r in report.data.tasks if r.baseline == baseline and r.task_name == task)


def _group(report, group: str, name: str, baseline: str):  # type: ignore[no-untyped-def]
    return next(g for g in report.data.groups if g.group == group and g.name == name and g.baseline == baseline)


def test_gains_and_paired_cis_per_task(report) -> None:  # type: ignore[no-untyped-def]
    row = _row(report, "bm25", "FinQA")
    assert row.gain == pytest.approx(0.25, abs=1e-9)  # +0.25 on every query (no clipping in this data)
    assert row.significant and row.ci_low == pytest.approx(0.25) and row.n_items == 60
    close = _row(report, "minilm-l6", "FinQA")
    assert close.ci_low < 0 < close.ci_high and close.significant is False
    assert close.ci_low <= close.gain <= close.ci_high


def test_missing_results_are_blanks_never_zeros(report) -> None:  # type: ignore[no-untyped-def]
    row = _row(report, "minilm-l6", "FinFilings")
    assert row.baseline_score is None and row.gain is None and row.ci_low is None and row.note == "missing result"
    sts = _row(report, "bm25", "FinSTS")  # scores but no per-item data: gain, no CI
    assert sts.gain == pytest.approx(0.19) and sts.ci_low is None and sts.significant is None
    md = report.files["md"].read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("| FinFilings | Retrieval | minilm-l6"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[3:9] == ["61.84", "", "", "", "", ""]  # adapted score, then blanks (no 0.00)


def test_domain_and_type_averages(report) -> None:  # type: ignore[no-untyped-def]
    retrieval = _group(report, "type", "Retrieval", "bm25")
    assert retrieval.n_tasks == 3 and retrieval.gain == pytest.approx(0.25) and retrieval.significant
    domain = _group(report, "domain", "finance", "bm25")  # FinSTS lacks items: no CI for the average
    assert domain.n_tasks == 4 and domain.ci_low is None and "lack per-item data" in domain.note
    vs_pruned = _group(report, "domain", "finance", "pruned-50")
    assert vs_pruned.n_tasks == 3 and vs_pruned.ci_low == pytest.approx(0.15) and vs_pruned.significant


def test_profiles_sit_next_to_the_gains(report) -> None:  # type: ignore[no-untyped-def]
    assert _row(report, "bm25", "FinQA").profile["fragmentation_ratio"] == 1.31
    assert _row(report, "bm25", "FinNews").profile == {}
    assert "fragmentation_ratio" in report.files["md"].read_text()


def test_outputs_written(report) -> None:  # type: ignore[no-untyped-def]
    out = report.out_dir
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "report.html", "gains.png", "score_vs_size.png", "sparsity_vs_score.png"}
    for png in report.figures.values():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    data = ReportData(**json.loads((out / "report.json").read_text()))
    assert data == report.data
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "<table" in html
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_sparsity_plot_skipped_without_pruned_models(results_dir: Path, tmp_path: Path) -> None:
    rep = build_report(results_dir, "ft-minilm", ["bm25"], None, tmp_path / "out", n_boot=200)
    assert "sparsity_vs_score.png" not in rep.figures and "gains.png" in rep.figures
    assert {g.name for g in rep.data.groups if g.group == "domain"} == {"finance"}  # medical: adapted has none


def test_bad_input_errors(results_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(DomainTebError, match="adapted='nope' has no results.*models found: bm25"):
        build_report(results_dir, "nope", None, None, tmp_path)
    with pytest.raises(DomainTebError, match="domain='chemistry' has no results"):
        build_report(results_dir, "ft-minilm", None, "chemistry", tmp_path)
    with pytest.raises(DomainTebError, match="baselines='gpt' has no results"):
        build_report(results_dir, "ft-minilm", ["gpt"], None, tmp_path)
    with pytest.raises(DomainTebError, match="no readable result files"):
        build_report(tmp_path / "out", "ft-minilm", None, None, tmp_path / "o")


def test_report_stage_composes_and_runs(results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from domainteb.eval.report.stage import run

    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        cfg = compose("report", overrides=[f"results_dir={results_dir}", "adapted=ft-minilm", "baselines=[bm25]",
                                           "n_boot=200", "mlflow.enabled=false"])
    # set after composing: a `domain=` override currently clashes with the conf/domain/ group
    cfg.domain = "finance"
    assert cfg.output_dir == f"{results_dir}/report"
    assert run(cfg) == 0
    out = capsys.readouterr().out
    assert "ft-minilm vs baselines" in out and "+23.50" in out
    assert (results_dir / "report" / "report.html").is_file()
    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        missing = compose("report", overrides=[f"results_dir={results_dir}", "mlflow.enabled=false"])
    with pytest.raises(DomainTebError, match="adapted is required"):
        run(missing)
