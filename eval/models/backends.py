"""Encoding backends: run a sentence-transformers model's transformer on ONNX Runtime or OpenVINO.

sentence-transformers' own ``backend="onnx"|"openvino"`` goes through ``optimum``, whose
releases conflict with domainteb's torch/transformers pins, so the runtimes are used directly:
the ``Transformer`` module's Hugging Face model is exported once to ONNX
(:mod:`~domainteb.eval.models.onnx_export`) and replaced by
:class:`~domainteb.eval.models.runtime_model.RuntimeTransformerModel`,
which returns ``last_hidden_state`` from an ONNX Runtime session or an OpenVINO compiled model.
Everything else stays sentence-transformers': tokenizer, prompts, ``encode`` (length sorting,
batching), pooling and normalisation, and the multi-process pool (the runtime model pickles as
its graph path and reopens the session in each worker).

Backends (:data:`BACKENDS`): ``torch`` (default), ``onnx`` and ``openvino`` (fp32, the same
embeddings as torch to ~1e-6), ``onnx-int8`` and ``openvino-int8`` (onnxruntime's dynamic int8
quantisation; different embeddings, labelled ``int8-quantized``). A non-torch backend is part
of the model's identity: name ``<model>+<backend>``, revision ``<revision>+<backend>``, a label,
and so its own result files and embedding-cache entries. They run on the CPU.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.registry import Registry

log = logging.getLogger(__name__)

SEPARATOR = "+"
INSTALL_HINT = "pip install 'domainteb[onnx]'"
#: fp32 runtimes must reproduce torch's last_hidden_state to this (max abs, unpadded tokens)
PARITY_ATOL = 1e-3


@dataclass(frozen=True)
class EncodeBackend:
    """One ``encode_backend`` choice: the runtime that runs the graph and its quantisation."""

    name: str
    runtime: str | None  # None: torch (the model as loaded)
    quantize: str = "none"
    labels: tuple[str, ...] = ()

    @property
    def is_torch(self) -> bool:
        return self.runtime is None


BACKENDS: Registry[EncodeBackend] = Registry("encode backend")
for _b in (
    EncodeBackend("torch", None),
    EncodeBackend("onnx", "onnxruntime", labels=("onnx",)),
    EncodeBackend("onnx-int8", "onnxruntime", "int8", labels=("onnx", "int8-quantized")),
    EncodeBackend("openvino", "openvino", labels=("openvino",)),
    EncodeBackend("openvino-int8", "openvino", "int8", labels=("openvino", "int8-quantized")),
):
    BACKENDS.register(_b.name, _b)


class Session(Protocol):
    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class Runtime:
    """How to open a graph, and which import must be present (for the one-line install hint)."""

    module: str
    #: the value set as sentence-transformers' ``backend`` attribute
    st_backend: str
    open: Callable[[Path, int], Session]


RUNTIMES: Registry[Runtime] = Registry("runtime")


class _OrtSession:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, feeds)[0]


class _OpenVinoSession:
    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov
        import openvino.properties as props
        import openvino.properties.hint as hints

        core = ov.Core()
        # f32 explicitly: OpenVINO's CPU plugin otherwise runs bf16 on CPUs that have it
        config = {hints.inference_precision: ov.Type.f32, props.inference_num_threads: threads}
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._output = self._compiled.output(0)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._compiled(feeds)[self._output])


RUNTIMES.register("onnxruntime", Runtime("onnxruntime", "onnx", _OrtSession))
RUNTIMES.register("openvino", Runtime("openvino", "openvino", _OpenVinoSession))


def get_backend(name: str | None) -> EncodeBackend:
    """The backend called ``name`` (``None``/"" → torch), its runtime checked to be importable."""
    name = str(name or "torch").strip()
    if name not in BACKENDS:
        raise ConfigError(f"encode_backend={name!r} is unknown; use one of {', '.join(BACKENDS)}")
    backend = BACKENDS.get(name)
    if backend.runtime is not None and importlib.util.find_spec(RUNTIMES.get(backend.runtime).module) is None:
        raise ConfigError(f"encode_backend={name} needs {RUNTIMES.get(backend.runtime).module}, which is not installed; "
                          f"run {INSTALL_HINT} or use encode_backend=torch")
    return backend


def split_backend(name: str) -> tuple[str, str | None]:
    """``minilm-l6+onnx-int8`` → (``minilm-l6``, ``onnx-int8``); names without a known suffix pass through."""
    base, sep, suffix = name.rpartition(SEPARATOR)
    if sep and base and suffix in BACKENDS:
        return base, suffix
    return name, None


def load_name(model_name: str, model: Any) -> str:
    """The name that reloads ``model`` with its backend elsewhere (e.g. in a Ray actor):
    ``model_name`` plus ``+<backend>`` when the loaded model runs on a non-torch backend."""
    backend = getattr(getattr(model, "encoder", model), "encode_backend", "torch")
    if backend == "torch" or split_backend(model_name)[1] is not None:
        return model_name
    return f"{model_name}{SEPARATOR}{backend}"


def _text_transformer(st: Any, where: str) -> Any:
    from sentence_transformers.base.modules.transformer import Transformer

    first = next(iter(st.children()), None)
    modality = getattr(first, "modality_config", None) or {}
    if not isinstance(first, Transformer) or set(modality) != {"text"} or \
            modality["text"].get("method") != "forward" or modality["text"].get("method_output_name") != "last_hidden_state":
        raise ConfigError(f"{where}: encode_backend needs a text model whose first module is a sentence-transformers "
                          "Transformer returning last_hidden_state; use encode_backend=torch")
    return first


def _check_parity(transformer: Any, runtime_model: Any, where: str) -> float:
    """Max abs difference of ``last_hidden_state`` (real tokens) between torch and the runtime."""
    import torch

    texts = ["parity probe", "a second, longer parity probe with more tokens in it", "x " * 40]
    features = transformer.preprocess(texts)
    feeds = {n: features[n] for n in runtime_model.graph.inputs}
    with torch.no_grad():
        ref = transformer.auto_model(**feeds, return_dict=True).last_hidden_state.float().numpy()
    got = runtime_model(**feeds).last_hidden_state.numpy()
    mask = features["attention_mask"].numpy().astype(bool) if "attention_mask" in features else np.ones(ref.shape[:2], bool)
    diff = float(np.abs(got - ref)[mask].max())
    if diff > PARITY_ATOL:
        raise ModelLoadError(f"{where}: the {runtime_model.runtime} graph differs from torch by {diff:.2e} "
                             f"(> {PARITY_ATOL:g}); delete {runtime_model.graph.path.parent} and reload, or use encode_backend=torch")
    return diff


def apply_backend(encoder: Any, name: str | None) -> Any:
    """Switch a :class:`SentenceTransformerEncoder` to backend ``name`` in place (torch: unchanged)."""
    backend = get_backend(name)
    if backend.is_torch:
        return encoder
    where = f"model {encoder.name!r} with encode_backend={backend.name}"
    if getattr(encoder, "encode_backend", "torch") != "torch":
        raise ConfigError(f"{where}: the model already runs on {encoder.encode_backend}; set the backend once")
    st = encoder.model
    device = str(getattr(st, "device", "cpu"))
    if not device.startswith("cpu"):
        raise ConfigError(f"{where}: the ONNX Runtime/OpenVINO backends run on the CPU, not {device}; "
                          "set device=cpu or use encode_backend=torch")
    transformer = _text_transformer(st, where)
    from domainteb.eval.models.onnx_export import export_transformer

    n_parameters = int(sum(p.numel() for p in st.parameters()))
    graph = export_transformer(transformer, name=encoder.name, revision=str(encoder.revision), quantize=backend.quantize)
    runtime = RUNTIMES.get(backend.runtime)  # type: ignore[arg-type]
    from domainteb.eval.models.runtime_model import RuntimeTransformerModel

    runtime_model = RuntimeTransformerModel(graph, backend.runtime, transformer.auto_model.config)
    if backend.quantize == "none":
        diff = _check_parity(transformer, runtime_model, where)
        log.info("%s: %s reproduces torch to %.1e", encoder.name, backend.name, diff)
    transformer.model = runtime_model  # the torch weights are released
    transformer.backend = runtime.st_backend
    st.backend = runtime.st_backend
    encoder.mark_backend(backend.name, labels=backend.labels, n_parameters=n_parameters,
                         graph_sha256=graph.sha256)
    return encoder


__all__ = ["BACKENDS", "RUNTIMES", "EncodeBackend", "apply_backend", "get_backend", "load_name", "split_backend"]
