"""Pruning that makes a model faster, not only sparser.

1. **Structured FFN-neuron removal**: neuron j of a block is row j of ``intermediate.dense`` (or
   ``gate_proj``/``up_proj``) plus column j of ``output.dense`` (``down_proj``). Neurons are ranked
   *within each layer* by their aggregated weight score (sum of the per-weight scores — DAI or any
   other criterion — over the neuron's row and column) and the same number is removed in every
   layer, so ``config.intermediate_size`` stays a single number and the result is a standard
   checkpoint that ``SentenceTransformer(path)`` loads without remote code.
2. **2:4 semi-structured sparsity** on CUDA (``torch.sparse.to_sparse_semi_structured``, fp16):
   in every group of 4 consecutive input weights the 2 lowest-scoring are zeroed and the weight is
   stored in the compressed format the sparse tensor cores use. Refused on CPU with a clear error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from domainteb.core.errors import DomainTebError

log = logging.getLogger(__name__)

_IN = re.compile(r"^(?P<block>.*(?:layer|layers)\.\d+)\.(?:intermediate\.dense|mlp\.gate_proj|mlp\.up_proj)$")
_OUT = re.compile(r"^(?P<block>.*(?:layer|layers)\.\d+)\.(?:output\.dense|mlp\.down_proj)$")


@dataclass
class FFNBlock:
    """One transformer block's FFN: the input projection(s) and the output projection."""

    name: str
    inputs: dict[str, nn.Linear]
    output_name: str
    output: nn.Linear

    @property
    def width(self) -> int:
        return self.output.in_features


def ffn_blocks(model: nn.Module) -> list[FFNBlock]:
    """The FFN of every block, found by module path (``attention.output.dense`` is excluded)."""
    ins: dict[str, dict[str, nn.Linear]] = {}
    outs: dict[str, tuple[str, nn.Linear]] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if (m := _IN.match(name)) is not None:
            ins.setdefault(m["block"], {})[name] = module
        elif (m := _OUT.match(name)) is not None and ".attention." not in name[len(m["block"]) :]:
            outs[m["block"]] = (name, module)
    blocks = [FFNBlock(b, ins[b], *outs[b]) for b in ins if b in outs]
    if not blocks:
        raise DomainTebError("no FFN blocks (intermediate.dense/output.dense or mlp.*_proj) found; structured pruning supports BERT- and Llama-style models")
    return blocks


def neuron_scores(blocks: list[FFNBlock], weight_scores: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Per-neuron score of each block: sum of the weight scores over its rows and its column.

    ``weight_scores`` maps module paths to per-weight scores (e.g. DAI); missing → |w|.
    """
    def ws(name: str, lin: nn.Linear) -> Tensor:
        if weight_scores is not None and name in weight_scores:
            return weight_scores[name].detach().float()
        return lin.weight.detach().abs().float()

    out = {}
    for b in blocks:
        score = ws(b.output_name, b.output).sum(dim=0)
        for name, lin in b.inputs.items():
            score = score + ws(name, lin).sum(dim=1)
        out[b.name] = score
    return out


def select_neurons(scores: Mapping[str, Tensor], neuron_sparsity: float) -> dict[str, Tensor]:
    """Indices (sorted) of the neurons each block keeps; the same count in every block."""
    if not 0.0 <= neuron_sparsity < 1.0:
        raise DomainTebError(f"neuron_sparsity={neuron_sparsity} must be in [0, 1)")
    keep: dict[str, Tensor] = {}
    for name, s in scores.items():
        n_keep = s.numel() - int(round(neuron_sparsity * s.numel()))
        order = torch.argsort(-s, stable=True)[:n_keep]
        keep[name] = torch.sort(order).values
    return keep


@torch.no_grad()
def zero_neurons(blocks: list[FFNBlock], keep: Mapping[str, Tensor]) -> None:
    """Masked equivalent of removal: zero the removed neurons' rows, biases and columns in place."""
    for b in blocks:
        drop = torch.ones(b.width, dtype=torch.bool)
        drop[keep[b.name]] = False
        for lin in b.inputs.values():
            lin.weight[drop.to(lin.weight.device)] = 0
            if lin.bias is not None:
                lin.bias[drop.to(lin.bias.device)] = 0
        b.output.weight[:, drop.to(b.output.weight.device)] = 0


def _slice_linear(lin: nn.Linear, idx: Tensor, dim: int) -> nn.Linear:
    idx = idx.to(lin.weight.device)
    w = lin.weight.detach().index_select(dim, idx)
    new = nn.Linear(w.shape[1], w.shape[0], bias=lin.bias is not None, device=w.device, dtype=w.dtype)
    new.weight.data.copy_(w)
    if lin.bias is not None:
        new.bias.data.copy_(lin.bias.detach().index_select(0, idx) if dim == 0 else lin.bias.detach())
    return new


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, attr, module)


@torch.no_grad()
def remove_neurons(model: nn.Module, blocks: list[FFNBlock], keep: Mapping[str, Tensor]) -> int:
    """Replace every FFN by a narrower one holding only the kept neurons; returns the new width.

    Updates ``intermediate_size`` in the HF config so the saved folder is a standard checkpoint.
    """
    widths = {int(k.numel()) for k in keep.values()}
    if len(widths) != 1:
        raise DomainTebError("structured export needs the same number of kept neurons in every layer")
    width = widths.pop()
    for b in blocks:
        for name, lin in b.inputs.items():
            _set_module(model, name, _slice_linear(lin, keep[b.name], 0))
        _set_module(model, b.output_name, _slice_linear(b.output, keep[b.name], 1))
    configs = [m.config for m in model.modules() if hasattr(m, "config") and hasattr(m.config, "intermediate_size")]
    if not configs:
        raise DomainTebError("the model has no HF config with intermediate_size; cannot export a standard checkpoint")
    for cfg in configs:
        cfg.intermediate_size = width
    return width


def export_structured(
    model: Any, output_dir: str | Path, neuron_sparsity: float, weight_scores: Mapping[str, Tensor] | None = None
) -> dict[str, Any]:
    """Remove ``neuron_sparsity`` of the FFN neurons of ``model`` (in place) and save it to ``output_dir``."""
    blocks = ffn_blocks(model)
    before = sum(p.numel() for p in model.parameters())
    keep = select_neurons(neuron_scores(blocks, weight_scores), neuron_sparsity)
    width = remove_neurons(model, blocks, keep)
    after = sum(p.numel() for p in model.parameters())
    model.save(str(output_dir), safe_serialization=True)
    log.info("structured export: FFN width %d, %d → %d parameters", width, before, after)
    return {"intermediate_size": width, "params_before": before, "params_after": after, "path": str(output_dir)}


def semi_structured_available() -> str | None:
    """None when 2:4 sparse kernels can run here, else the reason they can't."""
    if not torch.cuda.is_available():
        return "2:4 semi-structured sparsity needs a CUDA GPU (compute capability >= 8.0); this machine has none"
    major, _ = torch.cuda.get_device_capability()
    if major < 8:
        return f"2:4 semi-structured sparsity needs compute capability >= 8.0 (this GPU is {major}.x)"
    return None


def two_four_mask(scores: Tensor) -> Tensor:
    """Keep the 2 highest-scoring of every 4 consecutive weights along the input dimension."""
    out_f, in_f = scores.shape
    if in_f % 4:
        raise DomainTebError(f"2:4 sparsity needs in_features divisible by 4, got {in_f}")
    groups = scores.reshape(out_f, in_f // 4, 4)
    top = groups.topk(2, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True)
    return mask.reshape(out_f, in_f)


@torch.no_grad()
def apply_semi_structured(model: nn.Module, module_names: list[str], weight_scores: Mapping[str, Tensor] | None = None) -> int:
    """Turn the named Linear layers (fp16, on CUDA) into 2:4 sparse ones; returns how many."""
    reason = semi_structured_available()
    if reason:
        raise DomainTebError(reason + "; run on a GPU or leave 2:4 off")
    from torch.sparse import to_sparse_semi_structured

    n = 0
    for name in module_names:
        lin = model.get_submodule(name)
        assert isinstance(lin, nn.Linear)
        s = weight_scores[name].to(lin.weight.device) if weight_scores and name in weight_scores else lin.weight.abs()
        w = (lin.weight * two_four_mask(s.float())).half().contiguous()
        lin.weight = nn.Parameter(to_sparse_semi_structured(w), requires_grad=False)
        n += 1
    return n
