"""Weight-importance scorers (higher = keep) behind one interface, and the DAI score.

Registry ``SCORERS``: ``random``, ``magnitude``, ``fisher_general``, ``fisher_domain``, ``gaprune``.
Every scorer maps a :class:`ScoringInputs` to one score tensor per prunable weight; the mask is
then chosen by one global ranking (:mod:`domainteb.adapt.gaprune.masks`).

DAI (GAPrune, Tang & Yang 2025):
``DAI = [(F̂_dom − β·F̂_gen)·|θ̂| + γ·√|θ̂|]·(1 + α·s)``, with α=0.2, β=1.0, γ=0.5 by default.

Sign handling (documented deviation, ``sign_aware=True``, the default): the paper's factor
``(1 + α·s)`` is meant to reward aligned weights (s > 0) and penalise conflicting ones (s < 0). When
general Fisher is subtracted the bracket ``B`` is often negative, and then ``B·(1 + α·s)`` does the
opposite: a positively aligned weight gets a *more negative* score and is pruned first. The
sign-aware form ``B + α·s·|B|`` equals the paper's for ``B >= 0`` and moves every score in the
direction the alignment says for ``B < 0``. ``sign_aware=False`` keeps the literal formula (for
reproduction and the ablation in ``benchmarks/gaprune_corpus.py``).

Normalisation (documented deviation that keeps the Fisher term from vanishing next to the
magnitude term): ``F̂ = F / mean(F_dom)`` for both Fisher estimates (one common statistic over all
prunable weights, so their difference keeps its meaning) and ``|θ̂| = |θ| / mean(|θ|)``. Without it
raw Fisher values (~1e-8) make DAI a monotone function of |θ| — i.e. magnitude pruning.

Fisher baselines use the diagonal-Fisher saliency ``F·θ²`` (the classic second-order estimate of
the loss increase when a weight is zeroed) on general or on domain data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from domainteb.adapt.gaprune.fisher import GradStats
from domainteb.core.registry import Registry


@dataclass
class ScoringInputs:
    """What a scorer may use. ``domain``/``general`` are None for scorers that don't need them."""

    weights: dict[str, Tensor]
    domain: GradStats | None = None
    general: GradStats | None = None
    alpha: float = 0.2
    beta: float = 1.0
    gamma: float = 0.5
    alignment: str = "tensor"
    sign_aware: bool = True
    seed: int = 0
    #: filled by the gaprune scorer: mean absolute size of each DAI term (for the report).
    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorer:
    """A named scoring rule and the gradient statistics it needs."""

    fn: Callable[[ScoringInputs], dict[str, Tensor]]
    needs: frozenset[str] = frozenset()


SCORERS: Registry[Scorer] = Registry("pruning criterion")


def alignment_scores(g_gen: Tensor, g_dom: Tensor, mode: str = "tensor", eps: float = 1e-12) -> Tensor:
    """Cosine between averaged general and domain gradients: one per tensor or one per output row."""
    if mode == "tensor":
        num = (g_gen * g_dom).sum()
        return (num / (g_gen.norm() * g_dom.norm() + eps)).reshape(1, 1)
    if mode == "row":
        num = (g_gen * g_dom).sum(dim=1, keepdim=True)
        return num / (g_gen.norm(dim=1, keepdim=True) * g_dom.norm(dim=1, keepdim=True) + eps)
    raise ValueError(f"alignment must be 'tensor' or 'row', got {mode!r}")


def dai_score(
    weight: Tensor,
    f_dom: Tensor,
    f_gen: Tensor,
    align: Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    f_ref: float = 1.0,
    w_ref: float = 1.0,
    sign_aware: bool = True,
) -> Tensor:
    """The DAI formula on one tensor, with Fisher divided by ``f_ref`` and |θ| by ``w_ref``.

    ``sign_aware``: alignment modulates the bracket ``B`` as ``B + α·s·|B|`` (aligned weights always
    gain, conflicting ones always lose); ``False``: the literal ``B·(1 + α·s)``.
    """
    mag = weight.detach().abs().float() / w_ref
    fisher_term = (f_dom / f_ref - beta * f_gen / f_ref) * mag
    bracket = fisher_term + gamma * mag.sqrt()
    if sign_aware:
        return bracket + alpha * align * bracket.abs()
    return bracket * (1.0 + alpha * align)


def _global_mean(tensors: dict[str, Tensor]) -> float:
    total = sum(float(t.double().sum()) for t in tensors.values())
    count = sum(t.numel() for t in tensors.values())
    return total / max(count, 1)


def _magnitude(inp: ScoringInputs) -> dict[str, Tensor]:
    return {k: w.detach().abs().float() for k, w in inp.weights.items()}



def _random(inp: ScoringInputs) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(inp.seed)
    return {k: torch.rand(w.shape, generator=gen) for k, w in sorted(inp.weights.items())}


def _fisher(stats_attr: str) -> Callable[[ScoringInputs], dict[str, Tensor]]:
    def fn(inp: ScoringInputs) -> dict[str, Tensor]:
        stats: GradStats = getattr(inp, stats_attr)
        return {k: stats.fisher[k] * w.detach().float().square() for k, w in inp.weights.items()}

    return fn


def _gaprune(inp: ScoringInputs) -> dict[str, Tensor]:
    assert inp.domain is not None and inp.general is not None
    f_ref = _global_mean(inp.domain.fisher)
    if not math.isfinite(f_ref) or f_ref <= 0:
        f_ref = 1.0
    w_ref = _global_mean({k: w.detach().abs() for k, w in inp.weights.items()})
    out: dict[str, Tensor] = {}
    sums = {"fisher_domain": 0.0, "fisher_general": 0.0, "magnitude": 0.0, "alignment": 0.0}
    negative = 0
    count = 0
    for k, w in inp.weights.items():
        f_dom, f_gen = inp.domain.fisher[k], inp.general.fisher[k]
        s = alignment_scores(inp.general.mean_grad[k], inp.domain.mean_grad[k], inp.alignment)
        out[k] = dai_score(w, f_dom, f_gen, s, alpha=inp.alpha, beta=inp.beta, gamma=inp.gamma, f_ref=f_ref, w_ref=w_ref,
                           sign_aware=inp.sign_aware)
        mag = w.detach().abs().float() / w_ref
        sums["fisher_domain"] += float((f_dom / f_ref * mag).double().sum())
        sums["fisher_general"] += float((inp.beta * f_gen / f_ref * mag).double().sum())
        sums["magnitude"] += float((inp.gamma * mag.sqrt()).double().sum())
        sums["alignment"] += float((inp.alpha * s.abs()).expand_as(w).double().sum())
        bracket = (f_dom - inp.beta * f_gen) / f_ref * mag + inp.gamma * mag.sqrt()
        negative += int((bracket < 0).sum())
        count += w.numel()
    inp.terms.update({k: v / max(count, 1) for k, v in sums.items()})
    #: share of weights whose bracket is negative (where the sign handling of the alignment matters)
    inp.terms["negative_bracket_fraction"] = negative / max(count, 1)
    inp.terms.update({"f_ref": f_ref, "w_ref": w_ref})
    return out


SCORERS.register("random", Scorer(_random))
SCORERS.register("magnitude", Scorer(_magnitude))
SCORERS.register("fisher_general", Scorer(_fisher("general"), frozenset({"general"})))
SCORERS.register("fisher_domain", Scorer(_fisher("domain"), frozenset({"domain"})))
SCORERS.register("gaprune", Scorer(_gaprune, frozenset({"domain", "general"})))
