"""The :class:`~domainteb.core.encoder.Encoder` over a sentence-transformers model folder.

Prompts come from the model's ``config_sentence_transformers.json`` (``query``/``document``,
with ``passage`` accepted for ``document``; ``<task>-<type>`` and ``<task>`` keys win when
present, as in mteb). ``SentenceTransformer.encode`` already sorts inputs by length and
restores the order, so texts are passed in one call (sorting them again would pay twice).
Embeddings are returned as the model produces them: models with a Normalize module are unit
length, others (paraphrase-MiniLM-L3) are not; evaluators compute cosine themselves.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.errors import ConfigError
from domainteb.core.io import stable_hash

log = logging.getLogger(__name__)

_PROMPT_ALIASES: dict[str, tuple[str, ...]] = {"query": ("query",), "document": ("document", "passage", "doc")}


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_prompt(prompts: dict[str, str], prompt_type: str | None, task_name: str | None) -> str | None:
    """The prompt text for a task/prompt type (``None`` when the model has none)."""
    names: list[str] = []
    for alias in _PROMPT_ALIASES.get(prompt_type or "", ()):
        if task_name:
            names.append(f"{task_name}-{alias}")
    if task_name:
        names.append(task_name)
    names.extend(_PROMPT_ALIASES.get(prompt_type or "", ()))
    for name in names:
        if name in prompts:
            return prompts[name] or None
    return None


def tokenizer_digest(tokenizer: Any) -> str | None:
    """sha256 of a tokenizer's complete definition (vocabulary, normaliser such as lower-casing,
    pre-tokeniser, special tokens) and the call-time settings that change its output."""
    if tokenizer is None:
        return None
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode("utf-8"))
    else:
        vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
        h.update(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode("utf-8"))
    settings = {k: getattr(tokenizer, k, None) for k in ("padding_side", "truncation_side", "model_max_length",
                                                          "do_lower_case", "all_special_tokens")}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()


class SentenceTransformerEncoder:
    """Embeds texts with a loaded ``SentenceTransformer``; identity = name + weights revision."""

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        revision: str,
        display_name: str | None = None,
        labels: Sequence[str] = (),
        license: str | None = None,
        prompts: dict[str, str] | None = None,
        source: str | None = None,
        extra_info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.name = name
        self.revision = revision
        self.display_name = display_name or name
        self.labels = list(labels)
        self.license = license
        self.source = source
        self.prompts = {**(getattr(model, "prompts", None) or {}), **(prompts or {})}
        self._extra = dict(extra_info or {})
        self._tokenizer_digest: str | None = None
        self._devices: list[str] = []
        self._pool: Any = None
        #: ``torch`` or an :data:`~domainteb.eval.models.backends.BACKENDS` name (see :meth:`mark_backend`)
        self.encode_backend = "torch"
        self._n_parameters: int | None = None

    def mark_backend(self, backend: str, *, labels: Sequence[str], n_parameters: int, graph_sha256: str) -> None:
        """Record that the transformer now runs on ``backend`` (see ``backends.apply_backend``): the
        backend joins the name, revision, labels and cache identity, so its results and cached
        embeddings never mix with torch's."""
        self.encode_backend = backend
        self.name = f"{self.name}+{backend}"
        self.revision = f"{self.revision}+{backend}"
        self.display_name = f"{self.display_name} ({backend})"
        self.labels.extend(label for label in labels if label not in self.labels)
        self._n_parameters = n_parameters
        self._extra["onnx_sha256"] = graph_sha256

    def set_precision(self, precision: str) -> None:
        """Run the model in ``float16``/``bfloat16`` (GPU speed-up); outputs stay float32.

        The precision becomes part of the revision (and so of the embedding-cache key) and a label.
        """
        import torch

        dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16}
        if precision == "float32":
            return
        if self.encode_backend != "torch":
            raise ConfigError(f"precision={precision} applies to encode_backend=torch only, not {self.encode_backend}; "
                              "use precision=float32 (or encode_backend=onnx-int8 for a smaller model)")
        if precision not in dtypes:
            raise ConfigError(f"precision={precision!r} is not supported; use float32, float16 or bfloat16")
        self.model.to(dtypes[precision])
        self.revision = f"{self.revision}+{precision}"
        self.labels.append(precision)

    def cache_identity(self) -> dict[str, Any]:
        """The model's full sentence-transformers configuration, for the embedding-cache key:
        every module with its settings (pooling, normalisation, dense layers…), max_seq_length,
        the transformer config, the tokenizer's complete definition, backend and precision.
        Re-read on each call (max_seq_length and modules may change); the tokenizer digest is memoised."""
        st = self.model
        if self._tokenizer_digest is None:
            self._tokenizer_digest = tokenizer_digest(getattr(st, "tokenizer", None))
        modules = []
        for name, module in st.named_children():
            get_config = getattr(module, "get_config_dict", None)
            config = get_config() if callable(get_config) else {}
            kind = f"{type(module).__module__}.{type(module).__qualname__}"
            modules.append([name, kind, json.loads(json.dumps(config, sort_keys=True, default=str))])
        first = next(iter(st.children()), None)
        hf_config = getattr(getattr(first, "auto_model", None), "config", None)
        config_dict = hf_config.to_dict() if hasattr(hf_config, "to_dict") else {}
        for volatile in ("transformers_version", "_name_or_path", "_commit_hash"):
            config_dict.pop(volatile, None)
        param = next(iter(st.parameters()), None)
        identity = {
            "modules": modules,
            "max_seq_length": self.max_seq_length,
            "transformer_config": json.loads(json.dumps(config_dict, sort_keys=True, default=str)),
            "tokenizer": self._tokenizer_digest,
            "backend": str(getattr(st, "backend", "torch")),
            "dtype": str(param.dtype) if param is not None else None,
        }
        if self.encode_backend != "torch":  # (torch identities stay as they were: existing caches stay valid)
            identity["encode_backend"] = self.encode_backend
        return identity

    def set_encode_devices(self, devices: Sequence[str]) -> None:
        """Encode with sentence-transformers' multi-process pool over ``devices`` (e.g.
        ``["cuda:0", "cuda:1"]`` or ``["cpu"] * N``); started on first use, stopped by :meth:`close`.
        Embeddings equal the single-process ones (the pool runs the same model per process)."""
        devices = [str(d) for d in devices]
        if len(devices) < 2:
            self.close()
            self._devices = []
            return
        for d in devices:
            if d != "cpu" and not d.startswith("cuda") and not d.startswith("mps"):
                raise ConfigError(f"encode_devices: {d!r} is not a device; use cpu, cuda:N or mps")
        self.close()
        self._devices = devices

    def _encode_pool(self) -> Any:
        if self._pool is None and self._devices:
            self._pool = self.model.start_multi_process_pool(self._devices)
        return self._pool

    def close(self) -> None:
        """Stop the multi-process encode pool, if one is running."""
        if getattr(self, "_pool", None) is not None:
            self.model.stop_multi_process_pool(self._pool)
            self._pool = None

    def prompt_for(self, prompt_type: PromptType | None, task_name: str | None = None) -> str | None:
        """The prompt text ``encode`` applies for these arguments (part of the cache key)."""
        return pick_prompt(self.prompts, prompt_type, task_name)

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: PromptType | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        prompt = self.prompt_for(prompt_type, task_name)
        out = self.model.encode(
            texts,
            prompt=prompt or "",  # "" (not None): never let a default_prompt_name apply unseen
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=False,
            **({"pool": self._encode_pool()} if self._devices and len(texts) > batch_size else {}),
        )
        if hasattr(out, "float"):  # a torch tensor (low-precision runs)
            out = out.float().cpu().numpy()
        return np.ascontiguousarray(out, dtype=np.float32)

    @property
    def embed_dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int | None:
        value = getattr(self.model, "max_seq_length", None)
        return int(value) if value is not None else None

    @property
    def normalizes(self) -> bool:
        return any(type(m).__name__ == "Normalize" for m in self.model.modules())

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "revision": self.revision,
            "n_parameters": self._n_parameters if self._n_parameters is not None
            else int(sum(p.numel() for p in self.model.parameters())),
            "embed_dim": self.embed_dim,
            "license": self.license,
            "labels": list(self.labels),
            "max_seq_length": self.max_seq_length,
            "prompts": dict(self.prompts),
            "normalized": self.normalizes,
            "source": self.source,
            #: digest of the sentence-transformers config that keys the embedding cache
            "config_hash": stable_hash(self.cache_identity())[:16],
            **({"encode_backend": self.encode_backend} if self.encode_backend != "torch" else {}),
            **self._extra,
        }


def load_st_folder(folder: Path, *, device: str = "auto", model_kwargs: dict[str, Any] | None = None) -> Any:
    """``SentenceTransformer`` from a local folder (no remote code, never the hub; safetensors only
    unless the caller passes other ``model_kwargs``, see ``loader.st_model_kwargs``)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device=resolve_device(device), trust_remote_code=False, local_files_only=True,
                               model_kwargs={"use_safetensors": True} if model_kwargs is None else model_kwargs)
