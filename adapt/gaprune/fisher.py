"""Per-sample gradients of the InfoNCE loss → diagonal Fisher and mean gradient per weight.

The loss is MultipleNegativesRankingLoss with (anchor, positive, negative) columns and scale 20:
for a batch of B triplets, query i is scored (cosine × 20) against the B positives and the B
negatives of the batch (2B candidates) and its target is its own positive.

*Per-sample* loss and gradient (the definition used throughout):
``L_i = CE(20·cos(q_i, [P; N]), i)`` where the gradient of ``L_i`` flows through triplet i's
own texts (q_i, p_i, n_i) only; the other 2B−2 candidates are in-batch negatives treated as
constants. Without that convention every ``L_i`` would depend on all 3B texts and a per-sample
gradient would need B backward passes per batch.

With it, the gradient of ``Σ_i L_i`` reaching the tokens of triplet i comes from ``L_i`` alone,
so ONE forward + ONE backward per batch gives every per-sample gradient of a linear weight:
``∂L_i/∂W = Σ_{t ∈ texts of i} δ_tᵀ a_t`` (output gradients × inputs, summed over tokens), taken
from module hooks and computed with a batched matmul in chunks of ``chunk`` samples (bounded
memory). Parameters do not get ``.grad`` (weight gradients are never materialised by autograd).

Outputs, accumulated in float32:
``fisher[W] = (1/N) Σ_i (∂L_i/∂W)²`` (empirical diagonal Fisher) and
``mean_grad[W] = (1/N) Σ_i ∂L_i/∂W`` (for gradient alignment).
The model runs in eval mode (no dropout), so the estimate is deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from domainteb.adapt.basemodel import eval_mode
from domainteb.adapt.gaprune.calibration import TextPrompts, Triplet
from domainteb.adapt.gaprune.targets import Target
from domainteb.core.errors import DomainTebError

log = logging.getLogger(__name__)


@dataclass
class GradStats:
    """Per-weight statistics of one calibration set (keys: module paths of the targets)."""

    fisher: dict[str, Tensor]
    mean_grad: dict[str, Tensor]
    n_samples: int


def per_sample_infonce(q: Tensor, p: Tensor, n: Tensor, scale: float = 20.0) -> Tensor:
    """Per-sample losses ``[B]`` with other triplets' candidates detached (see module doc)."""
    qn, pn, nn_ = F.normalize(q, dim=-1), F.normalize(p, dim=-1), F.normalize(n, dim=-1)
    b = qn.shape[0]
    cand = torch.cat([pn, nn_], dim=0).detach()
    logits = scale * qn @ cand.T
    idx = torch.arange(b, device=q.device)
    logits = logits.clone()
    logits[idx, idx] = scale * (qn * pn).sum(-1)
    logits[idx, b + idx] = scale * (qn * nn_).sum(-1)
    return F.cross_entropy(logits, idx, reduction="none")


def _check_prompt_pooling(model: torch.nn.Module, prompts: TextPrompts) -> None:
    """Prompts are prefixed to the texts; a pooling that must skip prompt tokens can't take that."""
    if not (prompts.query or prompts.document):
        return
    for module in model.modules() if hasattr(model, "modules") else ():
        if getattr(module, "include_prompt", True) is False:
            raise DomainTebError(
                "the model's Pooling excludes prompt tokens (include_prompt=False, Instructor-style); the per-sample "
                "Fisher pass embeds query and passage texts in one batch and supports prompts only when they are pooled; "
                "use a model whose pooling includes the prompt"
            )


def embed_triplets(
    model: torch.nn.Module, batch: Sequence[Triplet], prompts: TextPrompts | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Sentence embeddings of queries, positives and negatives through the full ST forward.

    ``prompts`` (default: the model's own evaluation prompts, :meth:`TextPrompts.of`) are prefixed
    exactly as ``SentenceTransformer.encode`` does for a pooling that includes the prompt.
    """
    p = prompts if prompts is not None else TextPrompts.of(model)
    _check_prompt_pooling(model, p)
    texts = ([p.query + t.query for t in batch] + [p.document + t.positive for t in batch]
             + [p.document + t.negative for t in batch])
    device = next(model.parameters()).device
    prep = model.preprocess if hasattr(model, "preprocess") else model.tokenize
    features = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in prep(texts).items()}
    emb = model(features)["sentence_embedding"]
    b = len(batch)
    return emb[:b], emb[b : 2 * b], emb[2 * b :]


class _PerSampleHooks:
    """Hooks that turn one backward pass into per-sample weight gradients of the targets."""

    def __init__(self, targets: Sequence[Target], chunk: int) -> None:
        self.targets = targets
        self.chunk = chunk
        self.batch_size = 0
        self.fisher = {t.name: torch.zeros_like(t.module.weight, dtype=torch.float32) for t in targets}
        self.grad_sum = {t.name: torch.zeros_like(t.module.weight, dtype=torch.float32) for t in targets}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> _PerSampleHooks:
        for t in self.targets:
            self._handles.append(t.module.register_forward_pre_hook(self._pre_hook))
            self._handles.append(t.module.register_forward_hook(self._make_fwd_hook(t.name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @staticmethod
    def _pre_hook(module: torch.nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...] | None:
        x = args[0]
        if torch.is_grad_enabled() and not x.requires_grad:  # first prunable layer: start the graph here
            return (x.detach().requires_grad_(True), *args[1:])
        return None

    def _make_fwd_hook(self, name: str):  # noqa: ANN202
        def hook(module: torch.nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
            if not output.requires_grad:
                return
            act = args[0].detach()

            def on_grad(grad: Tensor) -> None:
                self._accumulate(name, act, grad.detach())

            output.register_hook(on_grad)

        return hook

    def _accumulate(self, name: str, act: Tensor, grad: Tensor) -> None:
        b = self.batch_size
        # texts are ordered [queries; positives; negatives]: text k belongs to sample k % b
        a = act.reshape(3, b, -1, act.shape[-1]).permute(1, 0, 2, 3).reshape(b, -1, act.shape[-1]).float()
        g = grad.reshape(3, b, -1, grad.shape[-1]).permute(1, 0, 2, 3).reshape(b, -1, grad.shape[-1]).float()
        fisher, gsum = self.fisher[name], self.grad_sum[name]
        for s in range(0, b, self.chunk):
            per_sample = torch.bmm(g[s : s + self.chunk].transpose(1, 2), a[s : s + self.chunk])  # [c, out, in]
            gsum.add_(per_sample.sum(0))
            fisher.add_(per_sample.square_().sum(0))


def grad_stats(
    model: torch.nn.Module,
    targets: Sequence[Target],
    triplets: Sequence[Triplet],
    *,
    batch_size: int = 32,
    chunk: int = 16,
    scale: float = 20.0,
    show_progress: bool = False,
    prompts: TextPrompts | None = None,
) -> GradStats:
    """Diagonal Fisher and mean per-sample gradient of every target weight over ``triplets``,
    with the texts embedded under ``prompts`` (default: the model's own, :meth:`TextPrompts.of`)."""
    from tqdm.auto import tqdm

    flags = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    hooks = _PerSampleHooks(targets, chunk)
    prompts = prompts if prompts is not None else TextPrompts.of(model)
    try:
        with eval_mode(model), hooks:
            batches = range(0, len(triplets), batch_size)
            for start in tqdm(batches, desc="per-sample grads", disable=not show_progress):
                batch = triplets[start : start + batch_size]
                hooks.batch_size = len(batch)
                q, p, n = embed_triplets(model, batch, prompts)
                per_sample_infonce(q, p, n, scale).sum().backward()
    finally:
        for p in model.parameters():
            p.requires_grad_(flags[id(p)])
    n = max(len(triplets), 1)
    return GradStats(
        fisher={k: v.div_(n) for k, v in hooks.fisher.items()},
        mean_grad={k: v.div_(n) for k, v in hooks.grad_sum.items()},
        n_samples=len(triplets),
    )
