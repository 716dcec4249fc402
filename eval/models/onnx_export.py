"""Export a sentence-transformers ``Transformer`` module's Hugging Face model to ONNX (fp32 or int8).

The graph maps the tokenizer's tensors (``input_ids``, ``attention_mask``, ``token_type_ids``…)
to ``last_hidden_state`` with dynamic batch and sequence axes, so sentence-transformers keeps
tokenising, pooling and normalising exactly as with torch. torch 2.13's default (dynamo)
exporter needs ``onnxscript``, which is not a dependency; the TorchScript exporter
(``dynamo=False``) is used. int8 graphs come from ``onnxruntime.quantization.quantize_dynamic``
(int8 weights, activations quantised per batch) applied to the fp32 graph.

Exports live in ``cache_root()/models/onnx/<name>-<quantize>-<key>/`` where the key hashes
the weights revision, the transformer config, the inputs, the quantisation and the exporter
and runtime versions. Like :func:`~domainteb.eval.models.build.materialize` they are built in
a temporary sibling folder and renamed into place under a file lock; a manifest records the
graph's sha256 and size, checked on every load, so a damaged or truncated file is rebuilt.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, ValidationError

from domainteb.core.assets import installed_version
from domainteb.core.errors import ConfigError, DomainTebError, ModelLoadError
from domainteb.core.io import atomic_write_json, read_json, sha256_file, stable_hash
from domainteb.core.paths import slug
from domainteb.core.registry import Registry

log = logging.getLogger(__name__)

#: bump when the exported graph changes, so cached exports are rebuilt.
EXPORTER_VERSION = "1"
#: bump when a quantiser's settings change
QUANTIZER_VERSION = "1"
OPSET = 17
GRAPH_FILE = "model.onnx"
MANIFEST = "domainteb_onnx.json"
OUTPUT = "last_hidden_state"
#: two texts of different lengths: the traced graph must see padding (an all-ones mask can be
#: traced away by the attention-mask code), and a batch > 1
_TRACE_TEXTS = ("a short probe", "a longer probe sentence, traced with padding so the attention mask stays in the graph")

Quantizer = Callable[[Path, Path], None]
QUANTIZERS: Registry[Quantizer] = Registry("quantisation")


class ExportManifest(BaseModel):
    """``domainteb_onnx.json`` next to an exported graph."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    name: str
    source_revision: str
    quantize: str
    key: str
    inputs: list[str]
    output: str = OUTPUT
    sha256: str
    size: int


@dataclass(frozen=True)
class ExportedGraph:
    """A verified ONNX graph on disk and the feature names it takes, in order."""

    path: Path
    inputs: tuple[str, ...]
    quantize: str
    sha256: str


def onnx_dir() -> Path:
    from domainteb.eval.models.build import models_dir

    path = models_dir() / "onnx"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hf_config(transformer: Any) -> dict[str, Any]:
    config = transformer.auto_model.config.to_dict()
    for volatile in ("transformers_version", "_name_or_path", "_commit_hash"):
        config.pop(volatile, None)
    return config


def input_names(transformer: Any) -> tuple[str, ...]:
    """The tensor features the tokenizer produces that the model's forward takes, in signature order."""
    features = transformer.preprocess(list(_TRACE_TEXTS))
    params = list(inspect.signature(transformer.auto_model.forward).parameters)
    names = tuple(p for p in params if p in features and hasattr(features[p], "shape"))
    if "input_ids" not in names:
        raise ModelLoadError(f"{type(transformer.auto_model).__name__}: its forward takes no input_ids; "
                             "only text encoders run on encode_backend=onnx/openvino, use encode_backend=torch")
    return names


def export_key(transformer: Any, *, revision: str, quantize: str) -> str:
    """What the exported graph depends on (the cache folder's key)."""
    return stable_hash({
        "revision": revision, "config": _hf_config(transformer), "inputs": list(input_names(transformer)),
        "quantize": quantize, "exporter": EXPORTER_VERSION, "opset": OPSET,
        "torch": installed_version("torch"), "transformers": installed_version("transformers"),
        "onnxruntime": installed_version("onnxruntime") if quantize != "none" else None,
        "quantizer": QUANTIZER_VERSION if quantize != "none" else None,
    })


class _LastHidden:
    """Positional-tensor wrapper the TorchScript exporter can trace (built lazily: needs torch)."""

    @staticmethod
    def build(model: Any, names: tuple[str, ...]) -> Any:
        import torch

        class LastHidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors: Any) -> Any:
                return self.model(**dict(zip(names, tensors)), return_dict=True).last_hidden_state

        return LastHidden().eval()


def _export_fp32(transformer: Any, out: Path) -> tuple[str, ...]:
    import torch

    names = input_names(transformer)
    features = transformer.preprocess(list(_TRACE_TEXTS))
    model = transformer.auto_model
    if next(model.parameters()).device.type != "cpu" or next(model.parameters()).dtype != torch.float32:
        raise ModelLoadError("ONNX export needs the float32 model on the CPU; load it with device=cpu precision=float32")
    args = tuple(features[n] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in (*names, OUTPUT)}
    was_training = model.training
    model.eval()
    try:
        # TracerWarnings (python branches on shapes) are expected; the load-time parity check
        # (backends._check_parity) verifies the graph on other batch and sequence sizes
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_LastHidden.build(model, names), args, str(out), dynamo=False, input_names=list(names),
                              output_names=[OUTPUT], dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    finally:
        model.train(was_training)
    return names


class _DropOnnxRuntimeLogs(logging.Filter):
    """onnxruntime.quantization logs through the root logger (advice, per-tensor notes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname or record.levelno >= logging.ERROR


@QUANTIZERS.register("int8")
def _quantize_int8(src: Path, dest: Path) -> None:
    """onnxruntime's dynamic quantisation: int8 weights per output channel (MatMul, Gather),
    activations quantised per batch. Per-channel scales keep the pooled embeddings ~10x closer
    to fp32 than one scale per tensor (mean 1 - cosine 0.006 vs 0.057 on all-MiniLM-L6-v2)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ConfigError("int8 quantisation needs onnxruntime: pip install 'domainteb[onnx]'") from None
    root, quiet = logging.getLogger(), _DropOnnxRuntimeLogs()
    root.addFilter(quiet)
    try:
        quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(quiet)


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _load_valid(folder: Path) -> ExportedGraph | None:
    """The graph in ``folder`` if its manifest parses and the file's size and sha256 match it."""
    manifest_path, graph = folder / MANIFEST, folder / GRAPH_FILE
    if not manifest_path.is_file():
        return None
    try:
        manifest = ExportManifest(**read_json(manifest_path))
        stat = graph.stat()
    except (ValidationError, OSError, TypeError, ValueError, DomainTebError) as exc:
        log.warning("%s: unusable ONNX export (%s); rebuilding it", folder, type(exc).__name__)
        return None
    if stat.st_size != manifest.size or _file_sha256(str(graph), stat.st_size, stat.st_mtime_ns) != manifest.sha256:
        log.warning("%s: %s does not match its manifest (damaged or truncated); rebuilding it", folder, GRAPH_FILE)
        return None
    return ExportedGraph(path=graph, inputs=tuple(manifest.inputs), quantize=manifest.quantize, sha256=manifest.sha256)


def export_transformer(transformer: Any, *, name: str, revision: str, quantize: str = "none") -> ExportedGraph:
    """The ONNX graph of ``transformer`` (a sentence-transformers ``Transformer`` module), built once.

    ``quantize``: ``none`` (fp32) or a :data:`QUANTIZERS` name (applied to the fp32 export).
    """
    if quantize != "none" and quantize not in QUANTIZERS:
        raise ConfigError(f"quantize={quantize!r} is unknown; use none or one of {', '.join(QUANTIZERS)}")
    key = export_key(transformer, revision=revision, quantize=quantize)
    target = onnx_dir() / f"{slug(name)}-{quantize}-{key[:16]}"
    found = _load_valid(target)
    if found is not None:
        return found
    fp32 = export_transformer(transformer, name=name, revision=revision) if quantize != "none" else None
    with FileLock(str(target) + ".lock"):
        found = _load_valid(target)
        if found is not None:
            return found
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            graph = tmp / GRAPH_FILE
            log.info("exporting %s (%s) to %s", name, quantize, target)
            if fp32 is None:
                names = _export_fp32(transformer, graph)
            else:
                QUANTIZERS.get(quantize)(fp32.path, graph)
                names = fp32.inputs
            for leftover in tmp.iterdir():  # quantize_dynamic may leave *-inferred.onnx beside it
                if leftover.name != GRAPH_FILE:
                    leftover.unlink() if leftover.is_file() else shutil.rmtree(leftover)
            manifest = ExportManifest(name=name, source_revision=revision, quantize=quantize, key=key,
                                      inputs=list(names), sha256=sha256_file(graph), size=graph.stat().st_size)
            atomic_write_json(tmp / MANIFEST, manifest.model_dump(mode="json"))
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared
            if target.exists():  # a damaged earlier export
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    found = _load_valid(target)
    if found is None:
        raise ModelLoadError(f"{target}: the ONNX export just written does not verify; delete the folder and retry")
    return found
