"""ONNX → Hugging Face safetensors conversion for BERT-family encoders.

Handles plain fp32 exports (``MatMul`` against a weight initializer) and onnxruntime
``quantize_dynamic`` exports (int8 ``Gather``/``DequantizeLinear`` embeddings and
``DynamicQuantizeLinear → MatMulInteger → Cast → Mul → Add`` linear layers).

ONNX graphs lose the parameter names of linear weights (they become anonymous
``onnx::MatMul_*`` initializers) but keep the names of the biases. So each weight matrix is
named after the ``<module>.bias`` initializer added to its output, dequantized as
``(q - zero_point) * scale`` and transposed to torch's ``[out_features, in_features]`` layout.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: bump when the conversion output changes, so cached conversions are rebuilt.
CONVERTER_VERSION = "1"

_QUANT_SUFFIX = "_quantized"
_PASS_THROUGH_OPS = ("Cast", "Mul")
_MAX_HOPS = 4


@dataclass
class Conversion:
    """Tensors recovered from one ONNX file, with the matmuls that could not be named."""

    tensors: dict[str, np.ndarray]
    unmapped: list[str] = field(default_factory=list)

    @property
    def n_parameters(self) -> int:
        return int(sum(t.size for t in self.tensors.values()))


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None) -> np.ndarray:
    zp = np.float32(0) if zero_point is None else zero_point.astype(np.float32)
    return ((q.astype(np.float32) - zp) * scale.astype(np.float32)).astype(np.float32)


class _Graph:
    """Initializers and a consumer index of an ONNX graph."""

    def __init__(self, onnx_path: Path) -> None:
        import onnx
        from onnx import numpy_helper

        # never follow external-data references (file paths stored inside the graph): every pinned
        # export embeds its tensors, and a crafted one could point anywhere on disk
        graph = onnx.load(str(onnx_path), load_external_data=False).graph
        external = [t.name for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        if external:
            from domainteb.core.errors import ModelLoadError

            raise ModelLoadError(
                f"{onnx_path}: {len(external)} tensor(s) reference external data files (e.g. {external[0]!r}); "
                f"only self-contained ONNX exports are converted"
            )
        self.nodes = list(graph.node)
        self.init: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.consumers: dict[str, list] = defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                self.consumers[name].append(node)

    def bias_after(self, tensor: str, hops: int = 0) -> str | None:
        """Name of the ``*.bias`` initializer added to ``tensor`` (through Cast/Mul hops)."""
        if hops > _MAX_HOPS:
            return None
        for node in self.consumers.get(tensor, []):
            if node.op_type == "Add":
                biases = [i for i in node.input if i in self.init and i.endswith(".bias")]
                if biases:
                    return biases[0]
            if node.op_type in _PASS_THROUGH_OPS:
                found = self.bias_after(node.output[0], hops + 1)
                if found:
                    return found
        return None

    def matmul_weight(self, node) -> np.ndarray | None:
        """The ``[in, out]`` float weight a (quantized) matmul node multiplies by, if constant."""
        if len(node.input) < 2 or node.input[1] not in self.init:
            return None
        raw = self.init[node.input[1]]
        if node.op_type == "MatMul":
            return raw.astype(np.float32) if raw.ndim == 2 else None
        if node.op_type == "MatMulInteger":
            base = node.input[1].rsplit(_QUANT_SUFFIX, 1)[0]
            scale = self.init.get(base + "_scale")
            if scale is None:
                return None
            zp_name = node.input[3] if len(node.input) > 3 else ""
            return _dequantize(raw, scale, self.init.get(zp_name))
        return None


def convert_onnx(onnx_path: str | Path, strip_prefix: str = "") -> Conversion:
    """Recover named float32 tensors from a BERT-style ONNX export."""
    g = _Graph(Path(onnx_path))
    tensors: dict[str, np.ndarray] = {
        name: arr.astype(np.float32)
        for name, arr in g.init.items()
        if arr.dtype == np.float32 and name.endswith((".weight", ".bias"))
    }
    # int8 embedding tables: <name>.weight_quantized + <name>.weight_scale (+ _zero_point)
    for name, arr in g.init.items():
        if name.endswith(".weight" + _QUANT_SUFFIX):
            base = name[: -len(_QUANT_SUFFIX)]
            tensors[base] = _dequantize(arr, g.init[base + "_scale"], g.init.get(base + "_zero_point"))
    unmapped: list[str] = []
    for node in g.nodes:
        if node.op_type not in ("MatMul", "MatMulInteger"):
            continue
        weight = g.matmul_weight(node)
        if weight is None:
            continue
        bias = g.bias_after(node.output[0])
        if bias is None:
            unmapped.append(node.name)
            continue
        tensors[bias[: -len(".bias")] + ".weight"] = np.ascontiguousarray(weight.T)
    if strip_prefix:
        tensors = {(k[len(strip_prefix):] if k.startswith(strip_prefix) else k): v for k, v in tensors.items()}
    tensors = {k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}
    if unmapped:
        log.warning("%s: %d matmul(s) could not be named: %s", onnx_path, len(unmapped), ", ".join(unmapped[:5]))
    return Conversion(tensors=tensors, unmapped=unmapped)


def save_safetensors(conversion: Conversion, path: str | Path) -> None:
    """Write the tensors as a torch-flavoured safetensors file (deterministic bytes)."""
    from safetensors.numpy import save_file

    save_file(conversion.tensors, str(path), metadata={"format": "pt"})
