"""Which weights a pruner may touch: selected by module path, never by substring.

BERT/MPNet-style encoders: the FFN matrices ``layer.N.intermediate.dense`` and the block output
``layer.N.output.dense`` (NOT ``layer.N.attention.output.dense``). Llama/Qwen/Mistral-style
decoders: ``mlp.gate_proj``, ``mlp.up_proj``, ``mlp.down_proj``. Attention projections are only
included with ``prune_attention=True``. Embeddings, LayerNorms and biases are never prunable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from domainteb.core.errors import DomainTebError

_FFN = re.compile(r"(?:^|\.)(?:layer|layers)\.\d+\.(?:intermediate\.dense|output\.dense|mlp\.(?:gate_proj|up_proj|down_proj))$")
_ATTN = re.compile(
    r"(?:^|\.)(?:layer|layers)\.\d+\.(?:attention\.self\.(?:query|key|value)|attention\.output\.dense"
    r"|attention\.attn\.(?:q|k|v|o)|self_attn\.(?:q_proj|k_proj|v_proj|o_proj))$"
)


@dataclass(frozen=True)
class Target:
    """One prunable weight matrix: its module path (in the ST model) and the module itself."""

    name: str
    module: nn.Linear

    @property
    def param_name(self) -> str:
        return f"{self.name}.weight"


def is_ffn(path: str) -> bool:
    return bool(_FFN.search(path))


def is_attention(path: str) -> bool:
    return bool(_ATTN.search(path))


def prunable_targets(model: nn.Module, prune_attention: bool = False) -> list[Target]:
    """The prunable ``nn.Linear`` modules of ``model`` in module order."""
    out = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        if is_ffn(name) or (prune_attention and is_attention(name)):
            out.append(Target(name, module))
    if not out:
        raise DomainTebError(
            "no prunable FFN layers found in the model (expected BERT 'layer.N.intermediate.dense' / "
            "'layer.N.output.dense' or decoder 'mlp.*_proj' modules); use a BERT/MPNet/Llama-style encoder"
        )
    return out
