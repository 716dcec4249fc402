"""ONNX → safetensors conversion: deterministic, complete, cached atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from domainteb.core.io import sha256_file
from domainteb.eval.models.assets import installed_path
from domainteb.eval.models.build import MANIFEST, materialize
from domainteb.eval.models.onnx_convert import convert_onnx, save_safetensors
from domainteb.eval.models.spec import get_spec

#: sha256 of the converted paraphrase-MiniLM-L3-v2 weights (see /work/shared/offline_assets.md)
L3_SHA_PREFIX = "4d59d802"


@pytest.mark.slow
def test_l3_conversion_is_deterministic_and_complete(tmp_path: Path) -> None:
    source = get_spec("minilm-l3").source
    onnx_file = installed_path(source.onnx)
    first = convert_onnx(onnx_file, strip_prefix=source.strip_prefix)
    second = convert_onnx(onnx_file, strip_prefix=source.strip_prefix)
    assert first.unmapped == [] and list(first.tensors) == list(second.tensors)
    assert all(np.array_equal(first.tensors[k], second.tensors[k]) for k in first.tensors)
    assert first.tensors["encoder.layer.2.intermediate.dense.weight"].shape == (1536, 384)  # [out, in]
    assert first.tensors["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert not any(k.startswith("model.0.") for k in first.tensors)
    assert first.n_parameters == 17_241_984  # BertModel without the (unused) pooler
    save_safetensors(first, tmp_path / "a.safetensors")
    save_safetensors(second, tmp_path / "b.safetensors")
    assert sha256_file(tmp_path / "a.safetensors") == sha256_file(tmp_path / "b.safetensors")
    assert sha256_file(tmp_path / "a.safetensors").startswith(L3_SHA_PREFIX)


@pytest.mark.slow
def test_materialize_builds_once_into_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOMAINTEB_CACHE", str(tmp_path))
    folder = materialize(get_spec("minilm-l3"))
    assert folder.parent == tmp_path / "models" and folder.name.startswith("minilm-l3-")
    assert (folder / MANIFEST).is_file() and (folder / "modules.json").is_file()
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no temp leftovers
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert materialize(get_spec("minilm-l3")) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
