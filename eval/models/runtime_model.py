"""The stand-in for a Hugging Face model inside sentence-transformers' ``Transformer`` module.

:class:`RuntimeTransformerModel` runs an exported ONNX graph (see
:mod:`~domainteb.eval.models.onnx_export`) on a runtime from
:data:`~domainteb.eval.models.backends.RUNTIMES` and returns ``last_hidden_state`` like the torch
model did, so the modules after it (pooling, normalisation) are untouched. It pickles as its
graph and runtime names (sentence-transformers' multi-process pool pickles the model) and
reopens the session in the receiving process. Imported lazily: it needs torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from domainteb.core.errors import ModelLoadError


def _num_threads() -> int:
    return max(1, int(torch.get_num_threads()))  # follows OMP_NUM_THREADS / torch.set_num_threads, like torch


class RuntimeTransformerModel(torch.nn.Module):
    """``forward(**features) → BaseModelOutput(last_hidden_state)`` on ONNX Runtime or OpenVINO."""

    def __init__(self, graph: Any, runtime: str, config: Any) -> None:
        super().__init__()
        self.config = config
        self.graph = graph  # onnx_export.ExportedGraph
        self.runtime = runtime
        self._session: Any = None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def session(self) -> Any:
        if self._session is None:
            from domainteb.eval.models.backends import RUNTIMES

            self._session = RUNTIMES.get(self.runtime).open(self.graph.path, _num_threads())
        return self._session

    def forward(self, **features: Any) -> BaseModelOutput:
        missing = [n for n in self.graph.inputs if n not in features]
        if missing:
            raise ModelLoadError(f"{self.graph.path}: the exported graph needs {', '.join(missing)}, which the "
                                 f"tokenizer did not produce; delete {self.graph.path.parent} and reload")
        feeds = {n: features[n].detach().cpu().numpy().astype(np.int64, copy=False) for n in self.graph.inputs}
        hidden = self.session().run(feeds)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(np.ascontiguousarray(hidden, dtype=np.float32)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state["_session"] = None  # sessions do not pickle; reopened on first use
        return state
