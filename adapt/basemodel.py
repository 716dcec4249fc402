"""Resolve ``base=`` (a model registry name or a sentence-transformers folder) to a trainable
:class:`~sentence_transformers.SentenceTransformer`.

Registry names go through ``domainteb.eval.models.load_model`` (the same models the benchmark
evaluates); the underlying SentenceTransformer is taken from the returned encoder. Folders are
loaded directly, with ``trust_remote_code=False``; a folder that is not a sentence-transformers
model (no ``modules.json``) is refused before anything heavy happens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domainteb.core.assets import check_weights_format, st_model_kwargs
from domainteb.core.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: attribute names under which an encoder may keep its SentenceTransformer.
_ST_ATTRS = ("model", "st", "sentence_transformer", "st_model", "_model", "_st", "inner", "encoder")


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Run the block with ``model`` in eval mode (no dropout), then restore its train/eval mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def resolve_device(device: str | None) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device={device!r} but no CUDA device is visible; use device=cpu or device=auto")
    return device


def check_st_folder(path: Path, allow_pickle: bool = False) -> None:
    """Raise unless ``path`` is a sentence-transformers model folder."""
    if not path.is_dir():
        raise ModelLoadError(f"{path}: model folder not found; pass a model registry name or an existing folder")
    if not (path / "modules.json").is_file():
        raise ModelLoadError(
            f"{path}: not a sentence-transformers model (no modules.json); pass a registry name or a folder "
            "saved with SentenceTransformer.save()"
        )
    check_weights_format(path, allow_pickle=allow_pickle)  # safetensors only unless opted in


def _unwrap(obj: Any, depth: int = 0) -> SentenceTransformer | None:
    from sentence_transformers import SentenceTransformer

    if isinstance(obj, SentenceTransformer):
        return obj
    if depth > 2:
        return None
    for attr in _ST_ATTRS:
        inner = getattr(obj, attr, None)
        if inner is not None and inner is not obj:
            found = _unwrap(inner, depth + 1)
            if found is not None:
                return found
    return None


def _looks_like_path(name: str) -> bool:
    return "/" in name or name.startswith(".") or name.startswith("~") or Path(name).expanduser().is_dir()


def load_sentence_transformer(name: str, device: str | None = "auto", allow_pickle: bool = False) -> SentenceTransformer:
    """A trainable SentenceTransformer for a registry name or a model folder."""
    from sentence_transformers import SentenceTransformer

    dev = resolve_device(device)
    if _looks_like_path(str(name)):
        path = Path(str(name)).expanduser().resolve()
        check_st_folder(path, allow_pickle=allow_pickle)
        try:
            return SentenceTransformer(str(path), device=dev, trust_remote_code=False, local_files_only=True,
                                       model_kwargs=st_model_kwargs(allow_pickle))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"{path}: cannot load the sentence-transformers model ({str(exc).splitlines()[0]})") from None
    try:
        from domainteb.eval.models import load_model
    except ImportError:
        raise ModelLoadError(
            f"base={name!r}: the model registry (domainteb.eval.models) is not installed; pass a model folder"
        ) from None
    encoder = load_model(str(name), device=dev, cache=False)
    model = _unwrap(encoder)
    if model is None:
        raise ModelLoadError(
            f"base={name!r} is not a sentence-transformers model ({type(encoder).__name__}); "
            "fine-tuning and pruning need an embedding model such as minilm-l6"
        )
    # the registry spec's prompts (bge's query instruction, e5's "query: "/"passage: ") become the
    # model's own: trained with, saved into the adapted folder and evaluated with.
    spec_prompts = {str(k): str(v) for k, v in (getattr(encoder, "prompts", None) or {}).items()}
    if spec_prompts:
        model.prompts = {**(model.prompts or {}), **spec_prompts}
    return model


#: dataset columns that hold queries (everything else textual is a passage).
QUERY_COLUMNS = ("anchor", "query", "question")
#: dataset columns that are labels, never encoded.
LABEL_COLUMNS = ("label", "labels", "score", "scores")


def prompt_text(model: Any, prompt_type: str) -> str:
    """The prompt ``model`` is evaluated with for ``query`` or ``document`` texts ("" when none)."""
    from domainteb.eval.models.sentence_transformer import pick_prompt

    return pick_prompt(dict(getattr(model, "prompts", None) or {}), prompt_type, None) or ""


def column_prompts(model: Any, columns: list[str]) -> dict[str, str]:
    """Training prompts per dataset column: the query prompt on query columns, the document
    prompt on passage columns (only non-empty ones), so training sees what evaluation sees."""
    out: dict[str, str] = {}
    for column in columns:
        if column in LABEL_COLUMNS:
            continue
        text = prompt_text(model, "query" if column in QUERY_COLUMNS else "document")
        if text:
            out[column] = text
    return out


def describe_base(name: str) -> str:
    """A short human-readable identity of the base model for cards and tags."""
    return str(Path(name).name) if _looks_like_path(str(name)) else str(name)
