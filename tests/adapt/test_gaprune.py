"""GAPrune: targets, exact global masks, DAI formula, per-sample Fisher, non-degeneracy,
mask-fixed retraining, the stage's outputs and its one-line bad-input errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from domainteb.adapt.gaprune.calibration import Triplet, representative_sample, to_triplets
from domainteb.adapt.gaprune.fisher import embed_triplets, grad_stats, per_sample_infonce
from domainteb.adapt.gaprune.masks import apply_mask, global_mask, jaccard_pruned, load_mask, measured_sparsity
from domainteb.adapt.gaprune.prune import PruneSettings, collect_stats, make_mask
from domainteb.adapt.gaprune.scoring import SCORERS, alignment_scores, dai_score
from domainteb.adapt.gaprune.targets import prunable_targets
from domainteb.core.errors import ConfigError, DomainTebError, ModelLoadError

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def tiny_model():  # type: ignore[no-untyped-def]
    """The 3-layer paraphrase-MiniLM-L3-v2 from the model registry (converted once, cached)."""
    from domainteb.adapt.basemodel import load_sentence_transformer

    torch.manual_seed(0)
    return load_sentence_transformer("minilm-l3", device="cpu")


@pytest.fixture(scope="module")
def general_set() -> list[Triplet]:
    from domainteb.domains import general_triplets

    return to_triplets(general_triplets(48, 0), "wordnet")


@pytest.fixture(scope="module")
def domain_set() -> list[Triplet]:
    from domainteb.domains import train_pairs

    return to_triplets(train_pairs("chemistry", 48), "chemistry")


# --- targets and masks ---------------------------------------------------------------------


def test_targets_are_ffn_only_unless_attention_is_asked(tiny_model) -> None:  # type: ignore[no-untyped-def]
    names = [t.name for t in prunable_targets(tiny_model)]
    assert len(names) == 6  # 3 layers × (intermediate.dense, output.dense)
    assert all(n.endswith(("intermediate.dense", "output.dense")) and ".attention." not in n for n in names)
    with_attn = [t.name for t in prunable_targets(tiny_model, prune_attention=True)]
    assert len(with_attn) == 6 + 3 * 4
    assert sum(".attention.output.dense" in n for n in with_attn) == 3


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    sparsity=st.floats(0.01, 0.99),
    levels=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_global_mask_hits_exact_count_even_with_ties(sizes: list[int], sparsity: float, levels: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    scores = {f"t{i}": torch.randint(0, levels, (n, 3), generator=gen).float() for i, n in enumerate(sizes)}
    mask = global_mask(scores, sparsity)
    total = sum(s.numel() for s in scores.values())
    pruned = sum(int((~m).sum()) for m in mask.values())
    assert pruned == int(round(sparsity * total))
    # every pruned score <= every kept score (a global ranking) and the result is deterministic
    flat_s = torch.cat([scores[k].reshape(-1) for k in scores])
    flat_m = torch.cat([mask[k].reshape(-1) for k in scores])
    if 0 < pruned < total:
        assert flat_s[~flat_m].max() <= flat_s[flat_m].min()
    again = global_mask(scores, sparsity)
    assert all(torch.equal(mask[k], again[k]) for k in mask)


def test_mask_never_touches_embeddings_layernorm_or_attention(tiny_model) -> None:  # type: ignore[no-untyped-def]
    model = copy.deepcopy(tiny_model)
    targets = prunable_targets(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mask, _ = make_mask(targets, PruneSettings(criterion="magnitude", sparsity=0.5))
    apply_mask(targets, mask)
    assert measured_sparsity(targets) == pytest.approx(0.5, abs=1e-6)
    target_params = {f"{t.name}.weight" for t in targets}
    for key, value in model.state_dict().items():
        if key not in target_params:
            assert torch.equal(value, before[key]), key
    per_layer = [float((t.module.weight == 0).float().mean()) for t in targets]
    assert min(per_layer) < 0.5 < max(per_layer)  # global ranking: layers differ


# --- DAI and alignment ---------------------------------------------------------------------


def test_dai_matches_the_formula_on_a_hand_checked_tensor() -> None:
    w = torch.tensor([[0.04, -0.01], [0.09, -0.16]])
    f_dom = torch.tensor([[2.0, 0.0], [1.0, 4.0]])
    f_gen = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    s = torch.tensor([[0.5]])
    got = dai_score(w, f_dom, f_gen, s, alpha=0.2, beta=1.0, gamma=0.5)
    # [(F_dom − F_gen)·|w| + 0.5·√|w|]·(1 + 0.2·0.5), by hand:
    want = torch.tensor([[(1 * 0.04 + 0.5 * 0.2) * 1.1, (-1 * 0.01 + 0.5 * 0.1) * 1.1],
                         [(1 * 0.09 + 0.5 * 0.3) * 1.1, (2 * 0.16 + 0.5 * 0.4) * 1.1]])
    assert torch.allclose(got, want, atol=1e-7)
    # normalisation: F / f_ref and |w| / w_ref
    got_n = dai_score(w, f_dom, f_gen, s, alpha=0.2, beta=1.0, gamma=0.5, f_ref=2.0, w_ref=0.01)
    mag = w.abs() / 0.01
    assert torch.allclose(got_n, ((f_dom - f_gen) / 2.0 * mag + 0.5 * mag.sqrt()) * 1.1)


def test_alignment_tensor_and_row() -> None:
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    h = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    assert float(alignment_scores(g, h, "tensor")) == pytest.approx(0.0, abs=1e-6)
    assert alignment_scores(g, h, "row").reshape(-1).tolist() == pytest.approx([1.0, -1.0])


def test_unknown_criterion_is_one_line() -> None:
    with pytest.raises(DomainTebError, match="unknown pruning criterion 'magnitud'.*magnitude"):
        SCORERS.get("magnitud")


# --- per-sample Fisher ---------------------------------------------------------------------


def test_per_sample_fisher_equals_a_plain_loop(tiny_model, general_set) -> None:  # type: ignore[no-untyped-def]
    model = tiny_model
    targets = prunable_targets(model)
    triplets = general_set[:6]
    stats = grad_stats(model, targets, triplets, batch_size=3, chunk=2)
    model.eval()
    weights = [t.module.weight for t in targets]
    fisher = [torch.zeros_like(w) for w in weights]
    mean = [torch.zeros_like(w) for w in weights]
    for start in (0, 3):
        batch = triplets[start : start + 3]
        for i in range(3):
            q, p, n = embed_triplets(model, batch)
            grads = torch.autograd.grad(per_sample_infonce(q, p, n)[i], weights)
            for k, g in enumerate(grads):
                fisher[k] += g * g / 6
                mean[k] += g / 6
    for k, t in enumerate(targets):
        assert torch.allclose(stats.fisher[t.name], fisher[k], rtol=1e-3, atol=1e-6 * float(fisher[k].abs().max()))
        assert torch.allclose(stats.mean_grad[t.name], mean[k], rtol=1e-3, atol=1e-5 * float(mean[k].abs().max()))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_gaprune_is_not_magnitude_pruning(tiny_model, general_set, domain_set) -> None:  # type: ignore[no-untyped-def]
    targets = prunable_targets(tiny_model)
    stats = collect_stats(tiny_model, targets, {"domain": domain_set[:32], "general": general_set[:32]},
                          {"domain", "general"}, batch_size=16)
    masks = {}
    for crit in ("gaprune", "magnitude", "random", "fisher_domain", "fisher_general"):
        masks[crit], terms = make_mask(targets, PruneSettings(criterion=crit, sparsity=0.5), stats)
        if crit == "gaprune":
            assert set(terms) >= {"fisher_domain", "fisher_general", "magnitude", "alignment"}
            # the Fisher term is on the same scale as the magnitude term (no collapse)
            assert terms["fisher_domain"] > 0.1 * terms["magnitude"]
    j = jaccard_pruned(masks["gaprune"], masks["magnitude"])
    assert j < 0.95
    assert jaccard_pruned(masks["random"], masks["magnitude"]) < j  # but far from random
    assert jaccard_pruned(masks["fisher_domain"], masks["fisher_general"]) < 1.0


def test_representative_sample_is_exact_and_distinct(general_set) -> None:  # type: ignore[no-untyped-def]
    pool = general_set[:40]
    gen = torch.Generator().manual_seed(0)
    vecs = torch.nn.functional.normalize(torch.randn(40, 8, generator=gen), dim=1).numpy()
    lookup = {t.query: v for t, v in zip(pool, vecs)}
    chosen = representative_sample(pool, 10, lambda texts: [lookup[x] for x in texts], iters=5)
    assert len(chosen) == 10 and len(set(chosen)) == 10
    with pytest.raises(ConfigError, match="n_calibration=50"):
        representative_sample(pool, 50, lambda texts: texts)


# --- retraining keeps the mask -------------------------------------------------------------


@pytest.mark.slow
def test_mask_stays_fixed_through_retraining(tiny_model, domain_set, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from domainteb.adapt.gaprune.retrain import retrain

    model = copy.deepcopy(tiny_model)
    targets = prunable_targets(model)
    mask, _ = make_mask(targets, PruneSettings(criterion="random", sparsity=0.5, seed=1))
    apply_mask(targets, mask)
    before = {t.name: t.module.weight.detach().clone() for t in targets}
    retrain(model, domain_set[:24], targets=targets, mask=mask, steps=3, output_dir=tmp_path / "rt", lr=1e-3, batch_size=8)
    for t in targets:
        w = t.module.weight.detach()
        assert torch.all(w[~mask[t.name]] == 0), t.name
        assert not torch.equal(w[mask[t.name]], before[t.name][mask[t.name]]), f"{t.name} did not train"


def test_scores_are_taken_in_eval_mode_and_the_mode_is_restored(tiny_model, domain_set, general_set) -> None:  # type: ignore[no-untyped-def]
    """A model fresh from retraining is in train mode: dropout must not leak into its scores."""
    from domainteb.adapt.gaprune.evaluation import EvalTargets, score_model

    model = copy.deepcopy(tiny_model)
    targets = EvalTargets(domain_task=None, general_task=None, domain_held_out=domain_set[:32],
                          general_held_out=general_set[:32])
    model.eval()
    reference = score_model(model, targets)
    model.train()
    for _ in range(3):
        assert score_model(model, targets) == reference
    assert model.training


# --- the stage ------------------------------------------------------------------------------


def _compose(overrides: list[str]):  # type: ignore[no-untyped-def]
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from omegaconf import open_dict

    # ``domain`` is set after composing: conf/domain/ is a config group, which Hydra would
    # otherwise take ``domain=...`` for.
    domain = next((o.split("=", 1)[1] for o in overrides if o.startswith("domain=")), None)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("adapt", overrides=["adapt=gaprune", *(o for o in overrides if not o.startswith("domain="))])
    with open_dict(cfg):
        cfg.domain = domain
    return cfg


def _write_jsonl(path: Path, rows: list[Triplet]) -> Path:
    path.write_text("".join(json.dumps({"anchor": t.query, "positive": t.positive, "negative": t.negative}) + "\n" for t in rows))
    return path


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ("sparsity=1.5", ConfigError, r"sparsity=1.5 must be strictly between 0 and 1"),
        ("sparsity=0", ConfigError, r"sparsity=0.0 must be strictly between 0 and 1"),
        ("adapt.criterion=magnitud", DomainTebError, r"unknown pruning criterion 'magnitud'"),
        ("adapt.alignment=col", ConfigError, r"adapt.alignment='col'"),
        ("adapt.n_calibration=10", ConfigError, r"has 8 triplets but adapt.n_calibration=10"),
    ],
)
def test_bad_input_is_one_line_before_heavy_work(tmp_path, general_set, override, error, match) -> None:  # type: ignore[no-untyped-def]
    from domainteb.adapt.gaprune.stage import run_gaprune

    data = _write_jsonl(tmp_path / "dom.jsonl", general_set[:8])
    gen = _write_jsonl(tmp_path / "gen.jsonl", general_set[8:40])
    cfg = _compose([f"base={tmp_path}", "domain=finance", f"data={data}", f"adapt.general_data={gen}",
                    f"output_dir={tmp_path / 'out'}", "adapt.n_calibration=4", override])
    (tmp_path / "modules.json").write_text("[]")  # a folder that passes the ST check but is never loaded
    with pytest.raises(error, match=match) as exc:
        run_gaprune(cfg)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_base_that_is_not_a_sentence_transformer_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from domainteb.adapt.gaprune.stage import run_gaprune

    (tmp_path / "config.json").write_text("{}")
    cfg = _compose([f"base={tmp_path}", "domain=finance", f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model"):
        run_gaprune(cfg)


@pytest.mark.slow
def test_stage_writes_model_mask_report_and_resumes(tmp_path, tiny_model, general_set, domain_set) -> None:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    from domainteb.adapt.gaprune.stage import run_gaprune
    from domainteb.adapt.stage import METHODS

    assert "gaprune" in METHODS
    base = tmp_path / "base"
    tiny_model.save(str(base))
    data = _write_jsonl(tmp_path / "dom.jsonl", domain_set[:40])
    gen = _write_jsonl(tmp_path / "gen.jsonl", general_set[:40])
    out = tmp_path / "out"
    cfg = _compose([f"base={base}", "domain=chemistry", f"data={data}", f"adapt.general_data={gen}", f"output_dir={out}",
                    "adapt.n_calibration=8", "adapt.held_out=8", "adapt.pool_factor=2", "adapt.per_sample_batch=4",
                    "adapt.eval_task=null", "adapt.general_eval_task=null", "retrain_steps=2",
                    "adapt.retrain_batch_size=4", "device=cpu", "sparsity=0.4",
                    "adapt.structured.enabled=true", "adapt.structured.neuron_sparsity=0.25"])
    summary = run_gaprune(cfg)
    report = json.loads((out / "prune_report.json").read_text())
    assert report["sparsity_achieved"] == pytest.approx(0.4, abs=1e-6)
    assert report["sparsity_measured"] == pytest.approx(0.4, abs=1e-4)
    assert set(report["scores"]) == {"dense", "one_shot", "retrained", "structured"}
    assert 0.0 < report["jaccard_vs_magnitude"] < 1.0
    assert report["term_magnitudes"]["fisher_domain"] > 0
    mask = load_mask(out / "mask.safetensors")
    reloaded = SentenceTransformer(str(out / "model"), device="cpu")
    for t in prunable_targets(reloaded):
        assert torch.all(t.module.weight.detach()[~mask[t.name]] == 0)
    small = SentenceTransformer(str(out / "model_structured"), device="cpu")
    assert report["structured"]["intermediate_size"] == 1152 == small[0].model.config.intermediate_size
    assert "structured" in report["scores"]
    again = run_gaprune(cfg)
    assert again.get("skipped") is True and again["mlflow_run_id"] == summary["mlflow_run_id"]
