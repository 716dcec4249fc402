"""An MLflow server that is down or hangs never costs a result, a traceback or the exit status.

Real loopback endpoints only: a closed port (connection refused) and a TCP server that accepts
and never answers. Results are written first; the tracker fails ONE time, prints ONE warning
line after a short timeout (``mlflow.timeout_s``) and is off for the rest of the process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from domainteb.core import tracking
from domainteb.core.results import read_result
from domainteb.core.taskio import load_task_folder
from domainteb.core.tracking import Tracker
from domainteb.eval.runner import evaluate_task, load_model_for_eval

from ._robust import free_port, hanging_server, make_beir, run_cli


@pytest.fixture(autouse=True)
def _fresh_tracker_state() -> None:
    tracking._FAILED.clear()
    yield
    tracking._FAILED.clear()


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning: MLflow")]


def test_closed_port_results_written_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = [load_task_folder(make_beir(tmp_path / f"task{i}")) for i in range(2)]
    model = load_model_for_eval("bm25", device="cpu", use_cache=False)
    tracker = Tracker(tracking_uri=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    start = time.monotonic()
    written = [evaluate_task(t, model, output_dir=tmp_path / "out", tracker=tracker, overwrite=True)[1] for t in tasks]
    elapsed = time.monotonic() - start
    assert [p.name for p in written] == ["task0.json", "task1.json"]
    assert all(read_result(p).main_score() > 0.5 for p in written)
    err = capsys.readouterr().err
    assert len(_warnings(err)) == 1, err
    assert "Traceback" not in err and "127.0.0.1" in _warnings(err)[0] and "mlflow.enabled=false" in err
    assert not tracker.enabled and tracker.failure
    assert elapsed < 30, f"a refused connection must fail fast, took {elapsed:.1f}s"


def test_hanging_server_times_out_once(capsys: pytest.CaptureFixture[str]) -> None:
    with hanging_server() as port:
        tracker = Tracker(tracking_uri=f"http://127.0.0.1:{port}", timeout_s=1)
        start = time.monotonic()
        with tracker.run("eval-x") as run_id:
            tracker.log_params({"a": 1})
            tracker.log_metrics({"m": 1.0})
        with tracker.run("eval-y"):  # off now: no second wait
            tracker.log_metrics({"m": 2.0})
        elapsed = time.monotonic() - start
    assert run_id is None
    assert elapsed < 20, f"the tracker must give up after mlflow.timeout_s, not MLflow's ~4 minutes ({elapsed:.1f}s)"
    err = capsys.readouterr().err
    assert len(_warnings(err)) == 1 and "no answer within 1 s" in err, err


def test_errors_of_the_stage_still_propagate_through_a_failed_tracker() -> None:
    tracker = Tracker(tracking_uri=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(ZeroDivisionError):
        with tracker.run("boom"):
            1 / 0


def test_cli_with_hanging_tracker_writes_results_and_exits_0(tmp_path: Path) -> None:
    make_beir(tmp_path / "t1")
    make_beir(tmp_path / "t2")
    with hanging_server() as port:
        run = run_cli("eval", "task=[t1,t2]", "model=bm25", "output_dir=out",
                      f"mlflow.tracking_uri=http://127.0.0.1:{port}", "mlflow.timeout_s=2", cwd=tmp_path, timeout=150)
    assert run.rc == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert len(_warnings(run.stderr)) == 1, run.stderr
    for name in ("t1", "t2"):
        record = json.loads((tmp_path / "out" / "bm25" / f"{name}.json").read_text())
        assert record["scores"]["test"][0]["main_score"] > 0.5
    assert (tmp_path / "out" / "summary" / "general.md").is_file()
