"""Masks from scores: one global ranking with an exact count, applying/keeping masks, and
sparsity/overlap statistics. A mask is ``{module path: bool tensor}`` with True = keep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from domainteb.adapt.gaprune.targets import Target
from domainteb.core.io import atomic_path

Mask = dict[str, Tensor]


def global_mask(scores: Mapping[str, Tensor], sparsity: float) -> Mask:
    """Prune exactly ``round(sparsity·N)`` weights with the lowest scores across all tensors.

    The threshold is the k-th smallest score (``torch.kthvalue``); weights tied with it are
    pruned in a fixed order (tensor order, then row-major position), so the count is exact and
    the result deterministic.
    """
    names = list(scores)
    # masks live on the CPU whatever device the scores were computed on (apply_mask moves them)
    flat = torch.cat([scores[n].detach().reshape(-1).float().cpu() for n in names])
    k = int(round(sparsity * flat.numel()))
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if k > 0:
        thr = torch.kthvalue(flat, k).values
        below = flat < thr
        keep &= ~below
        need = k - int(below.sum())
        if need > 0:
            tied = torch.nonzero(flat == thr, as_tuple=False).reshape(-1)[:need]
            keep[tied] = False
    out: Mask = {}
    offset = 0
    for n in names:
        size = scores[n].numel()
        out[n] = keep[offset : offset + size].reshape(scores[n].shape).clone()
        offset += size
    return out


@torch.no_grad()
def apply_mask(targets: Sequence[Target], mask: Mapping[str, Tensor]) -> None:
    """Zero the pruned weights in place."""
    for t in targets:
        m = mask[t.name].to(t.module.weight.device)
        t.module.weight.mul_(m.to(t.module.weight.dtype))


def sparsity_stats(mask: Mapping[str, Tensor]) -> tuple[float, dict[str, float]]:
    """Overall and per-tensor fraction of pruned weights."""
    per = {k: 1.0 - float(m.float().mean()) for k, m in mask.items()}
    total = sum(m.numel() for m in mask.values())
    pruned = sum(int((~m).sum()) for m in mask.values())
    return pruned / max(total, 1), per


def measured_sparsity(targets: Sequence[Target]) -> float:
    """Fraction of exact zeros in the target weights (checks what was actually applied)."""
    zeros = sum(int((t.module.weight == 0).sum()) for t in targets)
    total = sum(t.module.weight.numel() for t in targets)
    return zeros / max(total, 1)


def jaccard_pruned(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> float:
    """Jaccard overlap of the sets of *pruned* weights of two masks."""
    inter = sum(int((~a[k] & ~b[k]).sum()) for k in a)
    union = sum(int((~a[k] | ~b[k]).sum()) for k in a)
    return inter / union if union else 1.0


def save_mask(path: str | Path, mask: Mapping[str, Tensor]) -> None:
    """Write the mask as ``mask.safetensors`` (uint8, 1 = kept), atomically."""
    from safetensors.torch import save_file

    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file({k: v.to(torch.uint8).contiguous() for k, v in mask.items()}, str(tmp))


def load_mask(path: str | Path) -> Mask:
    from safetensors.torch import load_file

    return {k: v.bool() for k, v in load_file(str(path)).items()}
