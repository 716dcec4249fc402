"""Structured FFN-neuron removal gives a smaller standard checkpoint equal to the masked model;
2:4 masks are valid and 2:4 kernels are refused without a GPU."""

from __future__ import annotations

import copy

import pytest
import torch

from domainteb.adapt.structured import (
    apply_semi_structured,
    export_structured,
    ffn_blocks,
    neuron_scores,
    select_neurons,
    semi_structured_available,
    two_four_mask,
    zero_neurons,
)
from domainteb.core.errors import DomainTebError

TEXTS = [
    "Net cash provided by operating activities",
    "2,3-dihydroxybenzoic acid is a catechol",
    "Hand, foot and mouth disease",
    "a short sentence",
]


@pytest.fixture(scope="module")
def tiny_model():  # type: ignore[no-untyped-def]
    from domainteb.adapt.basemodel import load_sentence_transformer

    return load_sentence_transformer("minilm-l3", device="cpu")


def test_ffn_blocks_exclude_attention_output(tiny_model) -> None:  # type: ignore[no-untyped-def]
    blocks = ffn_blocks(tiny_model)
    assert len(blocks) == 3
    for b in blocks:
        assert b.output_name.endswith(".output.dense") and ".attention." not in b.output_name
        assert b.width == 1536


def test_structured_export_matches_masked_model(tiny_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    masked, pruned = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    keep = select_neurons(neuron_scores(ffn_blocks(masked)), 0.5)
    assert {int(k.numel()) for k in keep.values()} == {768}
    zero_neurons(ffn_blocks(masked), keep)
    info = export_structured(pruned, tmp_path / "small", 0.5)
    assert info["intermediate_size"] == 768 and info["params_after"] < info["params_before"]

    loaded = SentenceTransformer(str(tmp_path / "small"), device="cpu")
    assert all(b.width == 768 for b in ffn_blocks(loaded))
    a = masked.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=False)
    b = loaded.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=False)
    assert torch.allclose(a, b, atol=1e-5)
    dense = tiny_model.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=False)
    assert not torch.allclose(a, dense, atol=1e-3)  # the removal did change the model


def test_neuron_ranking_uses_given_weight_scores(tiny_model) -> None:  # type: ignore[no-untyped-def]
    blocks = ffn_blocks(tiny_model)
    scores = {}
    for b in blocks:
        for name, lin in b.inputs.items():
            scores[name] = torch.zeros_like(lin.weight)
            scores[name][:10] = 1.0  # neurons 0..9 are the important ones
        scores[b.output_name] = torch.zeros_like(b.output.weight)
    keep = select_neurons(neuron_scores(blocks, scores), 1 - 10 / 1536)
    assert all(k.tolist() == list(range(10)) for k in keep.values())
    with pytest.raises(DomainTebError, match="neuron_sparsity"):
        select_neurons(neuron_scores(blocks), 1.0)


def test_two_four_mask_keeps_two_of_every_four() -> None:
    scores = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    mask = two_four_mask(scores)
    groups = mask.reshape(8, 4, 4)
    assert torch.all(groups.sum(-1) == 2)
    kept_min = torch.where(groups, scores.reshape(8, 4, 4), torch.inf).min(-1).values
    dropped_max = torch.where(~groups, scores.reshape(8, 4, 4), -torch.inf).max(-1).values
    assert torch.all(kept_min >= dropped_max)
    with pytest.raises(DomainTebError, match="divisible by 4"):
        two_four_mask(torch.randn(2, 6))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_semi_structured_is_refused_on_cpu(tiny_model) -> None:  # type: ignore[no-untyped-def]
    assert "CUDA" in (semi_structured_available() or "")
    with pytest.raises(DomainTebError, match="needs a CUDA GPU"):
        apply_semi_structured(tiny_model, [ffn_blocks(tiny_model)[0].output_name])
