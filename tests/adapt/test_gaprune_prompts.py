"""GAPrune uses the model's evaluation prompts everywhere it embeds text (Fisher pass, k-means
sampling, held-out recall, retraining), and the DAI alignment factor respects the bracket's sign."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from domainteb.adapt.gaprune.calibration import TextPrompts, Triplet, to_triplets
from domainteb.adapt.gaprune.fisher import grad_stats
from domainteb.adapt.gaprune.scoring import dai_score
from domainteb.adapt.gaprune.targets import prunable_targets
from domainteb.core.errors import DomainTebError

E5_STYLE = {"query": "query: ", "document": "passage: "}


@pytest.fixture(scope="module")
def prompted_model():  # type: ignore[no-untyped-def]
    """The 3-layer MiniLM with e5-style query/passage prompts, as a registry spec would give it."""
    from domainteb.adapt.basemodel import load_sentence_transformer

    model = load_sentence_transformer("minilm-l3", device="cpu")
    model.prompts = dict(E5_STYLE)
    return model


@pytest.fixture(scope="module")
def triplets() -> list[Triplet]:
    from domainteb.domains import train_pairs

    return to_triplets(train_pairs("chemistry", 8), "chemistry")


def test_prompts_are_resolved_like_the_evaluators_do(prompted_model) -> None:  # type: ignore[no-untyped-def]
    assert TextPrompts.of(prompted_model) == TextPrompts("query: ", "passage: ")
    m = copy.copy(prompted_model)
    m.prompts = {"query": "Represent this: ", "passage": "doc: "}  # "passage" is an alias of "document"
    assert TextPrompts.of(m) == TextPrompts("Represent this: ", "doc: ")
    m.prompts = {}
    assert TextPrompts.of(m) == TextPrompts() and TextPrompts().columns() == {}
    assert TextPrompts("q: ", "p: ").columns() == {"anchor": "q: ", "positive": "p: ", "negative": "p: "}


def test_fisher_pass_embeds_texts_with_the_models_prompts(prompted_model, triplets) -> None:  # type: ignore[no-untyped-def]
    targets = prunable_targets(prompted_model)
    with_prompts = grad_stats(prompted_model, targets, triplets[:4], batch_size=4)  # default: the model's prompts
    prefixed = [Triplet("query: " + t.query, "passage: " + t.positive, "passage: " + t.negative) for t in triplets[:4]]
    by_hand = grad_stats(prompted_model, targets, prefixed, batch_size=4, prompts=TextPrompts())
    bare = grad_stats(prompted_model, targets, triplets[:4], batch_size=4, prompts=TextPrompts())
    for t in targets:
        assert torch.allclose(with_prompts.fisher[t.name], by_hand.fisher[t.name], rtol=1e-4, atol=1e-12)
        assert torch.allclose(with_prompts.mean_grad[t.name], by_hand.mean_grad[t.name], rtol=1e-4, atol=1e-10)
    assert any(not torch.allclose(with_prompts.fisher[t.name], bare.fisher[t.name], rtol=1e-3) for t in targets)


def test_pooling_that_skips_prompt_tokens_is_refused_in_one_line(prompted_model, triplets) -> None:  # type: ignore[no-untyped-def]
    model = copy.deepcopy(prompted_model)
    model.set_pooling_include_prompt(False)
    with pytest.raises(DomainTebError, match="include_prompt=False") as exc:
        grad_stats(model, prunable_targets(model), triplets[:2], batch_size=2)
    assert "\n" not in str(exc.value)


def _spy_encode(model: Any, calls: list[dict[str, Any]]) -> None:
    original = model.encode

    def encode(texts: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append({"n": len(texts), "prompt": kwargs.get("prompt")})
        return original(texts, *args, **kwargs)

    model.encode = encode


def test_held_out_recall_and_kmeans_embedder_use_the_prompts(prompted_model, triplets) -> None:  # type: ignore[no-untyped-def]
    from domainteb.adapt.gaprune.evaluation import held_out_recall
    from domainteb.adapt.gaprune.stage import _embedder

    model = copy.copy(prompted_model)
    calls: list[dict[str, Any]] = []
    _spy_encode(model, calls)
    held_out_recall(model, triplets[:4])
    assert [c["prompt"] for c in calls] == ["query: ", "passage: "]
    calls.clear()
    _embedder(model)(["a query"])
    assert calls == [{"n": 1, "prompt": "query: "}]


@pytest.mark.slow
def test_retraining_feeds_the_trainer_the_prompts(prompted_model, triplets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from domainteb.adapt.gaprune.retrain import retrain

    model = copy.deepcopy(prompted_model)
    seen: list[tuple[str, str | None]] = []
    original = model.preprocess

    def preprocess(inputs: Any, prompt: str | None = None, **kwargs: Any) -> Any:
        seen.extend((str(x), prompt) for x in inputs)
        return original(inputs, prompt=prompt, **kwargs)

    model.preprocess = preprocess
    targets = prunable_targets(model)
    keep = {t.name: torch.ones_like(t.module.weight, dtype=torch.bool) for t in targets}
    retrain(model, triplets[:8], targets=targets, mask=keep, steps=1, output_dir=tmp_path / "rt", batch_size=4)
    prompt_of = dict(seen)
    queries = {t.query for t in triplets[:8]}
    passages = {t.positive for t in triplets[:8]} | {t.negative for t in triplets[:8]}
    trained = [x for x in prompt_of if x in queries | passages]
    assert trained, "the trainer embedded none of the triplets"
    for text in trained:
        assert prompt_of[text] == ("query: " if text in queries else "passage: "), text


# --- the alignment factor respects the sign of the bracket --------------------------------------


def test_alignment_never_pushes_an_aligned_weight_toward_pruning() -> None:
    w = torch.tensor([[0.04, 0.09]])
    f_dom = torch.tensor([[0.0, 4.0]])
    f_gen = torch.tensor([[30.0, 0.0]])  # weight 0: general-only → negative bracket; weight 1: positive
    kw = {"alpha": 0.2, "beta": 1.0, "gamma": 0.5}
    bracket = dai_score(w, f_dom, f_gen, torch.tensor([[0.0]]), **kw)
    assert bracket[0, 0] < 0 < bracket[0, 1]
    aligned = dai_score(w, f_dom, f_gen, torch.tensor([[0.5]]), **kw)
    conflicting = dai_score(w, f_dom, f_gen, torch.tensor([[-0.5]]), **kw)
    assert torch.all(aligned > bracket) and torch.all(conflicting < bracket)
    assert torch.allclose(aligned, bracket + 0.2 * 0.5 * bracket.abs())
    # the literal paper form inverts the effect on the negative bracket (the fixed bug) only
    literal = dai_score(w, f_dom, f_gen, torch.tensor([[0.5]]), sign_aware=False, **kw)
    assert literal[0, 0] < bracket[0, 0] and literal[0, 1] == pytest.approx(float(aligned[0, 1]))


def test_stage_reads_sign_aware_and_defaults_to_it() -> None:
    from omegaconf import OmegaConf

    from domainteb.adapt.gaprune.stage import settings_from_config

    conf = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/adapt/gaprune.yaml")
    assert settings_from_config(OmegaConf.create({"adapt": conf})).sign_aware is True
    conf.sign_aware = False
    assert settings_from_config(OmegaConf.create({"adapt": conf})).sign_aware is False


# --- calibration from the user's own corpus ------------------------------------------------------


def test_corpus_calibration_uses_passages_never_the_eval_queries(tmp_path: Path) -> None:
    import json

    from domainteb.adapt.gaprune.calibration import corpus_triplets

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    passages = [
        {"_id": f"d{i}", "title": f"Virus {i}", "text": f"The strain number {i} binds the ACE2 receptor in lung cells. "
                                                         f"Its incubation period was about {i + 3} days in the cohort. "
                                                         f"Patients with strain {i} recovered after supportive care and rest."}
        for i in range(6)
    ]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(p) + "\n" for p in passages))
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "SECRET EVAL QUERY"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    got = corpus_triplets(beir, limit=4, seed=3)
    assert len(got) == 4 and got == corpus_triplets(beir, limit=4, seed=3)  # seeded
    texts = " ".join(passage["text"] for passage in passages)
    for t in got:
        assert t.query in texts and t.query not in t.positive  # inverse cloze: the sentence left the passage
        assert "SECRET" not in t.query + t.positive + t.negative
