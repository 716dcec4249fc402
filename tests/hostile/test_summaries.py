"""summary/<domain>.{md,csv} is rebuilt from every result file under the output folder, so two
concurrent processes, a ``-m`` multirun and runs one after another all end with every model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from domainteb.cli import main

from ._robust import CONSOLE_SCRIPT, _env, make_beir


def _summary_models(out: Path, domain: str = "general") -> set[str]:
    md = (out / "summary" / f"{domain}.md").read_text()
    csv = pd.read_csv(out / "summary" / f"{domain}.csv", index_col=0)
    models = set(csv.index)
    assert all(m in md for m in models)
    return models


def test_two_concurrent_processes_keep_both_models(tmp_path: Path) -> None:
    make_beir(tmp_path / "t1")
    make_beir(tmp_path / "t2")
    procs = [
        subprocess.Popen([str(CONSOLE_SCRIPT), "eval", "task=[t1,t2]", f"model={model}", "output_dir=out",
                          "mlflow.enabled=false"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for model in ("bm25", "minilm-l3")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert _summary_models(tmp_path / "out") == {"bm25", "minilm-l3"}
    csv = pd.read_csv(tmp_path / "out" / "summary" / "general.csv", index_col=0)
    assert csv[["t1", "t2"]].notna().all().all()


def test_multirun_keeps_every_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    task = make_beir(tmp_path / "task")
    status = main(["eval", "-m", f"task={task}", "model=bm25,minilm-l3", f"output_dir={tmp_path / 'out'}",
                   "mlflow.enabled=false", f"hydra.sweep.dir={tmp_path / 'multirun'}"])
    assert status == 0
    out = tmp_path / "out"
    assert _summary_models(out) == {"bm25", "minilm-l3"}
    # a later run of one model keeps the other; a JSON file that is not a result is skipped, not fatal
    (out / "bm25" / "notes.json").write_text('{"hello": 1}')
    assert main(["eval", f"task={task}", "model=bm25", f"output_dir={out}", "mlflow.enabled=false"]) == 0
    assert _summary_models(out) == {"bm25", "minilm-l3"}
