"""Exit status 2 for bad input (task folders, config values, Hydra overrides, broken models), 1 for
failed items, 0 for success, and never a traceback: each failure is ONE line naming the file or
field and the fix. ``synth`` exits 1 when every LLM call failed."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from ._robust import assert_one_line_error, free_port, make_beir, run_batch, run_cli


class _Payload:
    """Unpickling this writes a marker file: proof that a pickle payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "pwned"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from domainteb.eval.models.build import materialize
    from domainteb.eval.models.spec import get_spec

    root = tmp_path_factory.mktemp("exit-codes")
    make_beir(root / "good")
    make_beir(root / "latin1", corpus_bytes=(root / "good" / "corpus.jsonl").read_bytes().replace(b"pancreas", b"pancr\xe9as"))
    (root / "a-file").write_text("not a folder")
    corrupt = root / "corrupt-model"
    shutil.copytree(materialize(get_spec("minilm-l3")), corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage" + b"\x00" * 64)
    pickled = root / "pickle-model"
    shutil.copytree(corrupt, pickled)
    (pickled / "model.safetensors").unlink()
    with open(pickled / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"payload": _Payload(root / "PWNED")}, fh)
    (root / "passages.jsonl").write_text("".join(
        json.dumps({"id": f"p{i}", "text": f"Passage {i} about metformin, insulin and blood glucose control in diabetes care."}) + "\n"
        for i in range(3)))
    return root


EVAL = ["eval", "mlflow.enabled=false", "output_dir=out"]


def test_exit_statuses_and_one_line_errors(workdir: Path) -> None:
    import torch

    cases = {
        "ok": [*EVAL, "task=good", "model=bm25"],
        "non_utf8": [*EVAL, "task=latin1", "model=bm25"],
        "missing_task": [*EVAL, "task=./no-such-folder", "model=bm25"],
        "unknown_key": [*EVAL, "task=good", "model=bm25", "foo=1"],
        "unknown_append": [*EVAL, "task=good", "model=bm25", "+foo=1"],
        "typo_key": [*EVAL, "task=good", "model=bm25", "batch_sise=8"],
        "batch_abc": [*EVAL, "task=good", "model=bm25", "batch_size=abc"],
        "device_tpu": [*EVAL, "task=good", "model=bm25", "device=tpu"],
        "device_cuda": [*EVAL, "task=good", "model=bm25", "device=cuda"],
        "output_file": ["eval", "mlflow.enabled=false", "task=good", "model=bm25", "output_dir=a-file"],
        "corrupt_weights": [*EVAL, "task=good", f"model={workdir / 'corrupt-model'}"],
        "pickle_weights": [*EVAL, "task=good", f"model={workdir / 'pickle-model'}"],
        "bad_group": ["synth", "llm=nope", "mlflow.enabled=false"],
        "sweep_without_m": [*EVAL, "task=good", "model=bm25,minilm-l3"],
        "hydra_error": [*EVAL, "task=good", "model=bm25", "hydra.job.chdir=abc"],
        "bool_value": [*EVAL, "task=good", "model=bm25", "overwrite=yes"],
    }
    runs = dict(zip(cases, run_batch(list(cases.values()), cwd=workdir)))
    assert runs["ok"].rc == 0 and not runs["ok"].error_lines(), runs["ok"].stderr
    expected = {
        "non_utf8": ("latin1/corpus.jsonl:3", "not UTF-8", "re-save"),
        "missing_task": ("no-such-folder", "task folder not found"),
        "unknown_key": ("'foo'", "not a setting of 'domainteb eval'", "valid keys"),
        "unknown_append": ("'foo'", "not a setting of 'domainteb eval'"),
        "typo_key": ("batch_sise", "closest valid keys: batch_size"),
        "batch_abc": ("batch_size='abc'", "whole number"),
        "device_tpu": ("device='tpu'", "use device=auto, cpu"),
        "output_file": ("output_dir=a-file", "is a file"),
        "corrupt_weights": ("corrupt-model/model.safetensors", "corrupt or truncated", "re-download"),
        "pickle_weights": ("pickle-model", "pickle", "allow_pickle=true"),
        "bad_group": ("nope",),
        "sweep_without_m": ("model=bm25,minilm-l3", "-m"),
        "hydra_error": ("hydra.job.chdir=abc", "not a valid bool"),
        "bool_value": ("overwrite='yes'", "true or false"),
    }
    if not torch.cuda.is_available():
        expected["device_cuda"] = ("device=cuda", "CUDA is not available", "device=cpu")
    for name, needles in expected.items():
        run = runs[name]
        assert run.rc == 2, (name, run.rc, run.stderr)
        assert_one_line_error(run, *needles)
    assert not (workdir / "PWNED").exists(), "a pickle payload was executed"
    # config errors are caught before any model or task loads: nothing written for them
    assert not (workdir / "out" / "bm25" / "latin1.json").exists()


def test_synth_exits_1_when_every_llm_call_failed(workdir: Path) -> None:
    run = run_cli("synth", "passages=passages.jsonl", "n_passages=2", "llm=openai", "llm.api_key_env=ROBUST_KEY",
                  f"llm.base_url=http://127.0.0.1:{free_port()}/v1", "max_retries=0", "timeout_s=2",
                  "output_dir=synth-out", "mlflow.enabled=false", "min_passage_chars=20",
                  cwd=workdir, env={"ROBUST_KEY": "sk-test-not-a-key"})
    assert run.rc == 1, (run.rc, run.stdout[-2000:], run.stderr)
    assert "Traceback" not in run.stderr
    assert_one_line_error(run, "LLM job(s) failed", "failed.jsonl")
