"""`domainteb eval` end to end: a real task folder, the 3-layer MiniLM and BM25, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from domainteb.cli import main
from domainteb.core.results import read_result
from domainteb.core.tasks import get_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def beir_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain BEIR folder (nothing added) made from a real medical task at tiny size."""
    task = get_task("MedICD10SynonymRetrieval", size="tiny")
    src = Path(task.metadata.model_extra.get("folder", "")) if task.metadata.model_extra else None
    out = tmp_path_factory.mktemp("beir") / "icd10-synonyms"
    out.mkdir()
    data = task.split("test")
    (out / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, **v}) + "\n" for k, v in data.corpus.items()))
    (out / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in data.queries.items()))
    (out / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{r}" for q, rels in data.qrels.items() for d, r in rels.items()]
    (out / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    del src
    return out


def run_cli(*args: str) -> int:
    return main(["eval", *args, "mlflow.enabled=false"])


def test_eval_beir_folder_writes_results_and_summary(beir_folder: Path, tmp_path: Path, capsys) -> None:
    status = run_cli(f"task={beir_folder}", "model=[minilm-l3,bm25]", f"output_dir={tmp_path}")
    assert status == 0
    files = sorted(tmp_path.glob("*/icd10-synonyms.json"))
    assert len(files) == 2
    scores = {read_result(f).domainteb["model"]["name"]: read_result(f).main_score() for f in files}
    assert all(0.2 < s <= 1.0 for s in scores.values()), scores
    res = read_result(files[0])
    assert "ndcg_at_10" in res.scores["test"][0].model_extra
    assert res.domainteb["items"]["test"]
    out = capsys.readouterr().out
    assert "icd10-synonyms" in out and (tmp_path / "summary").is_dir()
    # a rerun keeps the result files (resumable) and reports them as reused
    assert run_cli(f"task={beir_folder}", "model=minilm-l3", f"output_dir={tmp_path}") == 0
    assert "1 reused" in capsys.readouterr().out


def test_bad_inputs_fail_alone_with_one_line_errors(beir_folder: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(beir_folder, broken)
    with open(broken / "queries.jsonl", "a") as fh:
        fh.write('{"_id": "qx", "text": \n')
    missing = tmp_path / "does-not-exist"
    status = run_cli(f"task=[{beir_folder},{broken},{missing}]", "model=bm25", f"output_dir={tmp_path / 'out'}")
    assert status == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert any("queries.jsonl:" in line and "malformed JSON" in line for line in lines), err
    assert any("task folder not found" in line for line in lines), err
    assert (tmp_path / "out" / "bm25" / "icd10-synonyms.json").is_file()  # the good task still completed
    assert not (tmp_path / "out" / "bm25" / "broken.json").exists()  # no partial result


def test_unknown_model_and_unreadable_folder(beir_folder: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    status = run_cli(f"task={beir_folder}", f"model=[minilm-l66,{empty}]", f"output_dir={tmp_path / 'o'}")
    assert status == 2  # nothing could run and every failure is bad input
    err = capsys.readouterr().err
    assert "minilm-l66" in err and "not-a-model" in err
    assert not any((tmp_path / "o").rglob("*.json"))


def test_config_errors_exit_2(capsys) -> None:
    assert run_cli("model=bm25") == 2
    assert "set domain=" in capsys.readouterr().err
    assert main(["nosuchstage"]) == 2
