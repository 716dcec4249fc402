"""Registry sentence-transformers models load offline, embed sensibly and apply prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from domainteb.core.encoder import Encoder
from domainteb.eval.models import load_model

TRIPLETS = [
    ("The company recorded a goodwill impairment charge in the fourth quarter.",
     "A non-cash write-down of goodwill was booked in Q4.",
     "The patient was given aspirin for the fever."),
    ("Empagliflozin reduced hospitalization for heart failure.",
     "The SGLT2 inhibitor lowered heart failure admissions.",
     "Palladium catalyses the Suzuki coupling of aryl halides."),
    ("The Suzuki-Miyaura coupling formed the biaryl product.",
     "A palladium-catalysed cross-coupling gave the biaryl.",
     "Quarterly revenue grew by ten percent."),
]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def assert_related_beats_unrelated(model: Encoder) -> None:
    for anchor, related, unrelated in TRIPLETS:
        q = _unit(model.encode([anchor], prompt_type="query"))[0]
        d = _unit(model.encode([related, unrelated], prompt_type="document"))
        assert d[0] @ q > d[1] @ q + 0.1, (model.name, anchor)


def test_tiny_model_embeds_unnormalised(tiny_model) -> None:
    out = tiny_model.encode(["one text", "another, longer text about interest rates"], prompt_type="query")
    assert out.dtype == np.float32 and out.shape == (2, 384)
    assert not np.allclose(np.linalg.norm(out, axis=1), 1.0)  # L3 has no Normalize module
    info = tiny_model.model_info()
    assert info["revision"].startswith("4d59d802") and info["n_parameters"] > 17_000_000
    assert (info["embed_dim"], info["max_seq_length"], info["normalized"]) == (384, 128, False)
    assert tiny_model.encode([]).shape == (0, 384)
    assert_related_beats_unrelated(tiny_model)


def test_minilm_l6_exact_weights() -> None:
    model = load_model("minilm-l6", device="cpu", cache=False)
    info = model.model_info()
    assert info["revision"].startswith("53aa5117") and info["n_parameters"] == 22_713_216
    out = model.encode(["hello world"])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert_related_beats_unrelated(model)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "revision", "query_prompt"),
    [("bge-small", "aa9c4295", "Represent this sentence for searching relevant passages: "),
     ("e5-small", "715a4630", "query: ")],
)
def test_dequantized_models(name: str, revision: str, query_prompt: str) -> None:
    model = load_model(name, device="cpu", cache=False)
    info = model.model_info()
    assert info["labels"] == ["int8-dequantized"] and "(int8-dequantized)" in info["display_name"]
    assert info["revision"].startswith(revision) and info["embed_dim"] == 384
    assert model.prompt_for("query") == query_prompt
    text = ["what is a goodwill impairment"]
    assert not np.allclose(model.encode(text, prompt_type="query"), model.encode(text, prompt_type="document"))
    assert_related_beats_unrelated(model)


@pytest.mark.slow
def test_mpnet_from_split_wheels() -> None:
    model = load_model("mpnet", device="cpu", cache=False)
    info = model.model_info()
    assert info["revision"].startswith("78c0197b") and info["embed_dim"] == 768
    assert info["n_parameters"] == 109_486_464
    assert_related_beats_unrelated(model)


def test_local_folder_round_trip(tiny_model, tmp_path: Path) -> None:
    folder = tmp_path / "my-adapted-model"
    tiny_model.model.save(str(folder))
    loaded = load_model(str(folder), device="cpu", cache=False)
    assert loaded.name == "my-adapted-model" and len(loaded.revision) == 64
    texts = ["interest rate swap", "heart failure"]
    np.testing.assert_allclose(loaded.encode(texts), tiny_model.encode(texts), atol=1e-5)


@pytest.mark.slow
def test_cross_encoder_reranks_candidates() -> None:
    from domainteb.core.encoder import SearchModel
    from domainteb.core.errors import DomainTebError

    model = load_model("ms-marco-reranker", device="cpu")
    assert isinstance(model, SearchModel) and not hasattr(model, "encode")
    info = model.model_info()
    assert info["revision"].startswith("fbc74b1e") and info["labels"] == ["int8-dequantized", "reranker"]
    corpus = {
        "fever": {"title": "", "text": "Aspirin reduces fever and mild pain."},
        "rates": {"title": "", "text": "Interest rates rose at the central bank."},
        "suzuki": {"title": "Coupling", "text": "The Suzuki coupling uses a palladium catalyst."},
    }
    hits = model.search(corpus, {"q": "what lowers a fever"}, top_k=10, candidates={"q": ["rates", "fever", "suzuki"]})
    assert set(hits["q"]) == {"rates", "fever", "suzuki"}
    assert max(hits["q"], key=hits["q"].get) == "fever"
    with pytest.raises(DomainTebError, match="reranker"):
        model.search(corpus, {"q": "x"}, top_k=10)


def test_low_precision_is_part_of_the_identity(tmp_path: Path) -> None:
    from domainteb.core.errors import ConfigError

    full = load_model("minilm-l3", device="cpu", cache_dir=tmp_path)
    half = load_model("minilm-l3", device="cpu", precision="bfloat16", cache_dir=tmp_path)
    assert half.revision == full.revision + "+bfloat16" and "bfloat16" in half.model_info()["labels"]
    texts = ["interest rate swap", "heart failure"]
    a, b = full.encode(texts), half.encode(texts)
    assert b.dtype == np.float32 and half.stats.misses == 2  # not served from the float32 entries
    cos = (_unit(a) * _unit(b)).sum(axis=1)
    assert (cos > 0.99).all()
    with pytest.raises(ConfigError, match="precision"):
        load_model("minilm-l3", device="cpu", precision="int4")
    with pytest.raises(ConfigError, match="sentence-transformers models only"):
        load_model("bm25", precision="float16")
