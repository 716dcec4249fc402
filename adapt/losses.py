"""Training losses by name (``adapt.loss``), built on sentence-transformers' losses.

* ``mnrl``: :class:`MultipleNegativesRankingLoss` (in-batch negatives plus hard-negative columns);
* ``cached_mnrl``: :class:`CachedMultipleNegativesRankingLoss` (GradCache; large batches in
  ``mini_batch_size`` chunks);
* ``gist``: :class:`GISTEmbedLoss` with a guide model that filters false in-batch negatives.

``matryoshka: [384, 256, ...]`` wraps any of them in :class:`MatryoshkaLoss`. The in-batch losses
pass ``cfg.gather_across_devices`` on (sentence-transformers gathers the other ranks' embeddings
with gradients, so under torchrun every query sees ``batch_size × world_size`` candidates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domainteb.core.errors import ConfigError
from domainteb.core.registry import Registry

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import nn

#: a builder gets the model being trained, the finetune config and a guide-model loader.
LossBuilder = Callable[["SentenceTransformer", Any, Callable[[], "SentenceTransformer"]], "nn.Module"]
LOSSES: Registry[LossBuilder] = Registry("loss")


def _gather(cfg: Any) -> bool:
    """The resolved ``gather_across_devices`` (train_model resolves the ``None`` default by world size)."""
    return bool(getattr(cfg, "gather_across_devices", False))


@LOSSES.register("mnrl")
def _mnrl(model: SentenceTransformer, cfg: Any, guide: Callable[[], SentenceTransformer]) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, gather_across_devices=_gather(cfg))


@LOSSES.register("cached_mnrl")
def _cached_mnrl(model: SentenceTransformer, cfg: Any, guide: Callable[[], SentenceTransformer]) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    return CachedMultipleNegativesRankingLoss(model, mini_batch_size=int(cfg.mini_batch_size),
                                              gather_across_devices=_gather(cfg))


@LOSSES.register("gist")
def _gist(model: SentenceTransformer, cfg: Any, guide: Callable[[], SentenceTransformer]) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import GISTEmbedLoss

    return GISTEmbedLoss(model, guide=guide(), gather_across_devices=_gather(cfg))


def scaled_pairwise_cos(a: Any, b: Any, *, scale: float) -> Any:
    """Pairwise cosine × ``scale``: the student score MarginMSE matches to cross-encoder margins
    (CE logits span about [-10, 10], a cosine [-1, 1]; ranking by cosine is unchanged)."""
    from sentence_transformers.util import pairwise_cos_sim

    return pairwise_cos_sim(a, b) * scale


@LOSSES.register("margin_mse")
def _margin_mse(model: SentenceTransformer, cfg: Any, guide: Callable[[], SentenceTransformer]) -> nn.Module:
    """GPL's loss: MSE between the student's margin sim(q,pos) − sim(q,neg) and the teacher's (column ``label``)."""
    import functools

    from sentence_transformers.sentence_transformer.losses import MarginMSELoss

    scale = float(getattr(cfg, "similarity_scale", 1.0))
    return MarginMSELoss(model, similarity_fct=functools.partial(scaled_pairwise_cos, scale=scale))


#: losses that use the other pairs of a batch as negatives (batches must not repeat a text).
IN_BATCH_LOSSES = frozenset({"mnrl", "cached_mnrl", "gist"})


def check_loss(name: str, matryoshka: list[int] | None, embed_dim: int | None = None) -> None:
    """Raise a one-line error for an unknown loss or impossible Matryoshka dimensions."""
    if name not in LOSSES:
        raise ConfigError(f"adapt.loss={name!r} is unknown; use one of {', '.join(LOSSES.names())}")
    if matryoshka:
        if any(int(d) <= 0 for d in matryoshka):
            raise ConfigError(f"adapt.matryoshka={list(matryoshka)}: dimensions must be positive")
        if embed_dim is not None and max(int(d) for d in matryoshka) > embed_dim:
            raise ConfigError(
                f"adapt.matryoshka={list(matryoshka)}: the model embeds into {embed_dim} dimensions; "
                f"use dimensions <= {embed_dim}"
            )


def build_loss(
    model: SentenceTransformer, cfg: Any, guide: Callable[[], SentenceTransformer]
) -> nn.Module:
    """The configured loss for ``model``, wrapped in MatryoshkaLoss when ``cfg.matryoshka`` lists dims."""
    check_loss(cfg.loss, cfg.matryoshka, model.get_embedding_dimension())
    loss = LOSSES.get(cfg.loss)(model, cfg, guide)
    if cfg.matryoshka:
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

        dims = sorted({int(d) for d in cfg.matryoshka}, reverse=True)
        loss = MatryoshkaLoss(model, loss, matryoshka_dims=dims)
    return loss
