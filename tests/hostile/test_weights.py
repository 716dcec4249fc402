"""Weights: safetensors only unless the user opts in with ``allow_pickle=true`` (issue 12, "Security").

Uses the real 3-layer MiniLM, re-saved as a pickle-only folder (``pytorch_model.bin``), and a
``pytorch_model.bin`` whose unpickling would run code.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domainteb.core.errors import DomainTebError
from domainteb.eval.models.loader import PickleWeightsError, check_st_folder, load_model

from .conftest import run_cli

TEXTS = ["metformin lowers glucose", "bond yields rise"]


def _copy_without_weights(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.safetensors", "domainteb_model.json"))
    return dest


@pytest.fixture(scope="module")
def pickle_only_folder(minilm_l3_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """minilm-l3 with its weights saved only as ``pytorch_model.bin`` (a legitimate torch pickle)."""
    import torch
    from safetensors.torch import load_file

    folder = _copy_without_weights(minilm_l3_folder, tmp_path_factory.mktemp("w") / "pickle-minilm")
    torch.save(load_file(str(minilm_l3_folder / "model.safetensors")), folder / "pytorch_model.bin")
    return folder


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def _payload_folder(minilm_l3_folder: Path, dest: Path, marker: Path, keep_safetensors: bool) -> Path:
    if keep_safetensors:
        shutil.copytree(minilm_l3_folder, dest, ignore=shutil.ignore_patterns("domainteb_model.json"))
    else:
        _copy_without_weights(minilm_l3_folder, dest)
    (dest / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": Payload(marker)}))
    return dest


def test_pickle_only_folder_is_refused_by_default(pickle_only_folder: Path) -> None:
    with pytest.raises(PickleWeightsError) as err:
        load_model(str(pickle_only_folder), device="cpu", cache=False)
    message = str(err.value)
    assert str(pickle_only_folder) in message and "pytorch_model.bin" in message
    assert "can run arbitrary code" in message and "allow_pickle=true" in message and "\n" not in message


def test_allow_pickle_opts_in_and_gives_the_same_model(pickle_only_folder: Path, minilm_l3_folder: Path) -> None:
    opted = load_model(str(pickle_only_folder), device="cpu", cache=False, allow_pickle=True)
    reference = load_model(str(minilm_l3_folder), device="cpu", cache=False)
    np.testing.assert_allclose(opted.encode(TEXTS), reference.encode(TEXTS), atol=1e-6)


def test_eval_cli_refuses_pickle_weights_with_exit_2(pickle_only_folder: Path, task_folder, out_dir: Path, capsys) -> None:
    folder = task_folder(name="weights-task", domain="medical")
    status = run_cli("eval", f"task={folder}", f"model={pickle_only_folder}", f"output_dir={out_dir}")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "allow_pickle=true" in err and str(pickle_only_folder) in err and "Traceback" not in err
    assert not list(out_dir.rglob("*.json"))


@pytest.mark.parametrize("keep_safetensors", [False, True], ids=["pickle-only", "next-to-safetensors"])
def test_pickle_payload_in_weights_never_runs(minilm_l3_folder: Path, tmp_path: Path, keep_safetensors: bool) -> None:
    marker = tmp_path / "payload-ran"
    folder = _payload_folder(minilm_l3_folder, tmp_path / "evil-model", marker, keep_safetensors)
    if keep_safetensors:  # safetensors are loaded, the .bin is never opened
        model = load_model(str(folder), device="cpu", cache=False)
        assert model.encode(TEXTS).shape == (2, 384)
    else:
        with pytest.raises(PickleWeightsError):
            load_model(str(folder), device="cpu", cache=False)
    assert not marker.exists()


def test_module_folder_with_pickle_only_weights_is_refused(minilm_l3_folder: Path, tmp_path: Path) -> None:
    """A Dense (or other) module whose own folder holds only a pickle is refused too."""
    folder = tmp_path / "with-dense"
    shutil.copytree(minilm_l3_folder, folder, ignore=shutil.ignore_patterns("domainteb_model.json"))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [0.0]}))
    with pytest.raises(PickleWeightsError, match="2_Dense"):
        check_st_folder(folder)
    check_st_folder(folder, allow_pickle=True)


def test_training_leftovers_are_not_mistaken_for_weights(minilm_l3_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    shutil.copytree(minilm_l3_folder, folder, ignore=shutil.ignore_patterns("domainteb_model.json"))
    (folder / "training_args.bin").write_bytes(b"\x80\x04N.")
    check_st_folder(folder)


def test_adapt_base_model_folder_is_checked_too(pickle_only_folder: Path) -> None:
    from domainteb.adapt.basemodel import load_sentence_transformer

    with pytest.raises(DomainTebError, match="allow_pickle"):
        load_sentence_transformer(str(pickle_only_folder), device="cpu")


def _pairs(path: Path) -> Path:
    rows = [{"anchor": f"query {i} about metformin", "positive": f"metformin passage {i} lowers glucose"} for i in range(8)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_adapt_cli_refuses_pickle_base_then_opts_in(pickle_only_folder: Path, tmp_path: Path, capsys) -> None:
    """`domainteb adapt` follows the same rule as eval: exit 2 with the hint, and `allow_pickle=true` really opts in."""
    args = ["adapt", "adapt=finetune", f"base={pickle_only_folder}", f"data={_pairs(tmp_path / 'pairs.jsonl')}",
            "domain=medical", "device=cpu", "adapt.max_steps=1", "adapt.batch_size=4", "adapt.max_seq_length=16",
            "adapt.eval_task=null"]
    assert run_cli(*args, f"output_dir={tmp_path / 'refused'}") == 2
    err = capsys.readouterr().err
    assert "allow_pickle=true" in err and "Traceback" not in err
    assert run_cli(*args, f"output_dir={tmp_path / 'opted'}", "allow_pickle=true") == 0
    assert (tmp_path / "opted" / "model" / "model.safetensors").is_file()
