"""``load_model``: registry names, local folders, hub ids and ``openai:<model>`` → an encoder.

Resolution order: ``openai:`` prefix → registry name (``conf/model(s)/<name>.yaml``) → existing
local folder → ``org/name`` hub id (only when a hub is reachable) → one-line error listing
the registry. Dense encoders are wrapped in the embedding cache unless ``cache=False``; the
lexical model is not (its TF-IDF state depends on call order).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from domainteb.core.assets import PickleWeightsError as PickleWeightsError  # re-exported for callers
from domainteb.core.assets import check_weights_format, st_model_kwargs
from domainteb.core.encoder import Encoder, SearchModel
from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.registry import Registry
from domainteb.eval.models.backends import SEPARATOR, apply_backend, get_backend, split_backend
from domainteb.eval.models.build import folder_revision, materialize
from domainteb.eval.models.cross_encoder import CrossEncoderReranker
from domainteb.eval.models.lexical import LexicalModel
from domainteb.eval.models.openai_api import OpenAIEmbeddingEncoder
from domainteb.eval.models.sentence_transformer import SentenceTransformerEncoder, load_st_folder, resolve_device
from domainteb.eval.models.spec import ModelSpec, get_spec, registry_names, spec_location

log = logging.getLogger(__name__)

Loader = Callable[[ModelSpec, str], Any]
LOADERS: Registry[Loader] = Registry("model loader")

OPENAI_PREFIX = "openai:"
RRF_PREFIX = "rrf:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
PRECISIONS = ("float32", "float16", "bfloat16")


@LOADERS.register("sentence_transformers")
def _load_registry_st(spec: ModelSpec, device: str) -> SentenceTransformerEncoder:
    folder = materialize(spec)
    model = load_st_folder(folder, device=device)
    return SentenceTransformerEncoder(
        model, name=spec.name, revision=folder_revision(folder), display_name=spec.display_name,
        labels=spec.labels, license=spec.license, prompts=spec.prompts, source=spec.reference or None,
    )


@LOADERS.register("cross_encoder")
def _load_registry_cross_encoder(spec: ModelSpec, device: str) -> CrossEncoderReranker:
    from sentence_transformers import CrossEncoder

    folder = materialize(spec)
    model = CrossEncoder(str(folder), device=resolve_device(device), trust_remote_code=False,
                         local_files_only=True, max_length=spec.max_seq_length)
    return CrossEncoderReranker(model, name=spec.name, revision=folder_revision(folder),
                                display_name=spec.display_name, labels=spec.labels, license=spec.license,
                                source=spec.reference or None)


@LOADERS.register("bm25")
def _load_lexical(spec: ModelSpec, device: str) -> LexicalModel:
    try:
        return LexicalModel(name=spec.name, display_name=spec.display_name, license=spec.license,
                            labels=spec.labels, **spec.options)
    except TypeError as exc:
        raise ModelLoadError(f"{spec_location(spec.name)}: bad 'options' ({exc}); see LexicalModel's arguments") from None


@LOADERS.register("bm25_rerank")
def _load_bm25_rerank(spec: ModelSpec, device: str) -> Any:
    """``options``: ``reranker`` (a registry cross-encoder), ``depth`` (BM25 candidates, default 100)."""
    from domainteb.eval.models.rerank import BM25CrossEncoderRerank

    opts = dict(spec.options)
    reranker = load_model(str(opts.get("reranker", "ms-marco-reranker")), device=device, cache=False)
    return BM25CrossEncoderRerank(load_model("bm25", cache=False), reranker, depth=int(opts.get("depth", 100)),
                                  name=spec.name, display_name=spec.display_name)


@LOADERS.register("rrf")
def _load_rrf(spec: ModelSpec, device: str) -> Any:
    """``options``: ``dense`` (any model name), ``k`` (default 60), ``depth`` (default 100)."""
    opts = dict(spec.options)
    if not opts.get("dense"):
        raise ModelLoadError(f"{spec_location(spec.name)}: options.dense must name the dense model to fuse with BM25")
    return load_rrf(str(opts["dense"]), device=device, k=int(opts.get("k", 60)), depth=int(opts.get("depth", 100)),
                    name=spec.name)


def load_rrf(dense: str, *, device: str = "auto", k: int = 60, depth: int = 100, name: str | None = None,
             backend: str | None = None) -> Any:
    """Reciprocal-rank fusion of ``dense`` (cached embeddings) with BM25; ``backend`` applies to ``dense``."""
    from domainteb.eval.models.fusion import RRFHybrid

    model = load_model(dense, device=device, backend=backend)
    if not callable(getattr(model, "encode", None)) or callable(getattr(model, "search", None)):
        raise ModelLoadError(f"{RRF_PREFIX}{dense}: {dense!r} is not a dense embedding model; fuse BM25 with one")
    return RRFHybrid(model, load_model("bm25", cache=False), k=k, depth=depth, name=name)


def check_st_folder(folder: Path, *, allow_pickle: bool = False) -> None:
    """One-line error naming what a sentence-transformers folder lacks (or why its weights are refused)."""
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: not a folder; pass a sentence-transformers model folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ModelLoadError(f"{folder}: folder is not readable; fix its permissions")
    if not (folder / "modules.json").is_file():
        hint = " (it looks like a plain transformers model; save it with SentenceTransformer(...).save(path))" if (folder / "config.json").is_file() else ""
        raise ModelLoadError(f"{folder}: no modules.json, so not a sentence-transformers folder{hint}")
    if not any(next(folder.rglob(w), None) is not None for w in _WEIGHTS):
        raise ModelLoadError(f"{folder}: no weights file ({' or '.join(_WEIGHTS)}); copy the complete model folder")
    check_weights_format(folder, allow_pickle=allow_pickle)


def load_folder(folder: Path, *, device: str = "auto", allow_pickle: bool = False) -> SentenceTransformerEncoder:
    """A local sentence-transformers folder (e.g. a fine-tuned or pruned model); safetensors only unless ``allow_pickle``."""
    folder = folder.expanduser().resolve()
    check_st_folder(folder, allow_pickle=allow_pickle)
    try:
        model = load_st_folder(folder, device=device, model_kwargs=st_model_kwargs(allow_pickle))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{folder}: cannot load as a sentence-transformers model ({str(exc).splitlines()[0]})") from None
    extra: dict[str, Any] = {}
    # adapt's output is <run>/model: name it after the run folder unless the manifest names it
    name = folder.parent.name if folder.name == "model" else folder.name
    manifest = folder / "domainteb_model.json"
    if manifest.is_file():
        from domainteb.core.io import read_json

        record = read_json(manifest)  # one-line error for malformed JSON
        if not isinstance(record, dict):
            raise ModelLoadError(f"{manifest}: expected a JSON object with a 'name'; fix or delete the file")
        # the name becomes a folder name through core.results.model_dir_name (slugged), never raw
        name = str(record.get("name") or name)
        extra = {k: v for k, v in record.items() if k not in ("name", "revision")}
    return SentenceTransformerEncoder(model, name=name, revision=folder_revision(folder),
                                      source=str(folder), extra_info=extra)


def load_hub(repo_id: str, *, device: str = "auto", allow_pickle: bool = False) -> SentenceTransformerEncoder:
    """A hub model, fetched (or found in the local HF cache) at a pinned commit."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    repo, _, rev = repo_id.partition("@")
    try:
        path = Path(snapshot_download(repo, revision=rev or None))
    except (LocalEntryNotFoundError, OSError) as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")
        why = "HF_HUB_OFFLINE is set" if offline else f"the hub is unreachable ({type(exc).__name__})"
        raise ModelLoadError(
            f"cannot fetch {repo!r}: {why} and it is not in the local HF cache; pass a local "
            f"sentence-transformers folder instead (model=/path/to/folder) or a registry name ({', '.join(registry_names())})"
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(f"{repo!r} is not a model on the hub; check the id or pass a local folder") from None
    check_st_folder(path, allow_pickle=allow_pickle)
    model = load_st_folder(path, device=device, model_kwargs=st_model_kwargs(allow_pickle))
    return SentenceTransformerEncoder(model, name=repo, revision=path.name, source=f"hf:{repo}@{path.name}")


def _name_of(model: str | Mapping[str, Any]) -> str:
    if isinstance(model, Mapping):  # a composed Hydra group entry, e.g. cfg.model from conf/model(s)/x.yaml
        if "name" not in model:
            raise ModelLoadError("model config has no 'name'; use model=<registry name|folder|hub id|openai:model>")
        return str(model["name"])
    return str(model).strip()


def load_model(
    name: str | Mapping[str, Any],
    *,
    device: str = "auto",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    precision: str = "float32",
    allow_pickle: bool = False,
    backend: str | None = None,
) -> Encoder | SearchModel:
    """Resolve ``name`` to a ready encoder (or the BM25 search model); see the module doc.

    ``device``: auto | cpu | cuda[:N]. ``precision``: float32 (default) | float16 | bfloat16 for
    sentence-transformers models (mainly for GPUs; recorded in the revision and labels).
    ``allow_pickle``: also load folders whose weights are pickles (``pytorch_model.bin``); off by
    default because unpickling can run code (:class:`PickleWeightsError` says so).
    ``backend``: torch (default) | onnx | onnx-int8 | openvino | openvino-int8 (see
    :mod:`~domainteb.eval.models.backends`), applied to sentence-transformers models; other models
    (BM25, API models) ignore it. A ``<name>+<backend>`` suffix selects it too, but only for a
    sentence-transformers model.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is not supported; use {', '.join(PRECISIONS)}")
    name = _name_of(name)
    if not name:
        raise ModelLoadError(f"empty model name; known: {', '.join(registry_names())}")
    suffixed = None if Path(name).expanduser().exists() else split_backend(name)[1]
    if suffixed is not None:
        if backend not in (None, "", "torch", suffixed):
            raise ConfigError(f"model={name!r} names encode backend {suffixed} but encode_backend={backend}; set one of them")
        name, backend = split_backend(name)[0], suffixed
    wanted = get_backend(backend)  # unknown / not installed: one-line error before anything loads
    if not wanted.is_torch:  # the ONNX Runtime / OpenVINO backends run on the CPU
        if device not in ("auto", "cpu"):
            raise ConfigError(f"encode_backend={wanted.name} runs on the CPU, not device={device}; "
                              "set device=cpu (or auto) or use encode_backend=torch")
        device = "cpu"
    model: Any
    if name.startswith(OPENAI_PREFIX):
        model = OpenAIEmbeddingEncoder(name[len(OPENAI_PREFIX):])
    elif name.startswith(RRF_PREFIX):
        model = load_rrf(name[len(RRF_PREFIX):], device=device, backend=backend)
    elif name in registry_names():
        spec = get_spec(name)
        model = LOADERS.get(spec.loader)(spec, device)
    elif Path(name).expanduser().exists():
        model = load_folder(Path(name), device=device, allow_pickle=allow_pickle)
    elif name.startswith((".", "/", "~")) or os.sep in name.strip("/") and name.count("/") > 1:
        raise ModelLoadError(f"{name}: folder does not exist; pass an existing sentence-transformers folder")
    elif _HUB_ID.match(name.split("@")[0]):
        model = load_hub(name, device=device, allow_pickle=allow_pickle)
    else:
        import difflib

        close = difflib.get_close_matches(name, registry_names(), n=2)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(
            f"unknown model {name!r}; known: {', '.join(registry_names())}, a local folder, an org/name hub id, "
            f"or openai:<model>.{hint}"
        )
    if not wanted.is_torch and not name.startswith(RRF_PREFIX):  # (rrf: passed it to its dense model)
        if isinstance(model, SentenceTransformerEncoder):
            apply_backend(model, wanted.name)
        elif suffixed is not None:
            raise ConfigError(f"model={name}{SEPARATOR}{suffixed}: encode backends apply to sentence-transformers models only, "
                              f"not {getattr(model, 'name', name)}; drop the {SEPARATOR}{suffixed} suffix")
        else:
            log.info("encode_backend=%s does not apply to %s; it runs as usual", wanted.name, getattr(model, "name", name))
    if precision != "float32":
        if not isinstance(model, SentenceTransformerEncoder):
            raise ConfigError(f"precision={precision} applies to sentence-transformers models only, not {model.name}")
        model.set_precision(precision)
    if cache and getattr(model, "cacheable", True) and hasattr(model, "encode"):
        from domainteb.eval.cache import CachedEncoder

        model = CachedEncoder(model, cache_dir)
    log.info("loaded model %s (revision %s)", model.name, str(model.revision)[:16])
    return model


def list_models() -> list[dict[str, Any]]:
    """Registry models with their identity facts (no weights are loaded)."""
    rows = []
    for name in registry_names():
        spec = get_spec(name)
        rows.append({"name": spec.name, "display_name": spec.display_name, "loader": spec.loader,
                     "labels": spec.labels, "license": spec.license, "n_parameters": spec.n_parameters,
                     "embed_dim": spec.embed_dim, "reference": spec.reference})
    return rows
