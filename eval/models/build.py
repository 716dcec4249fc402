"""Materialise a registry model's files as a sentence-transformers folder in the cache.

Converted models live in ``cache_root()/models/<name>-<hash of the spec's source>/``. They are
built in a temporary sibling folder and renamed into place under a file lock, so concurrent
runs never see (or produce) a half-written model. A manifest records the weights' sha256,
which becomes the model's revision.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from domainteb.core.assets import extract_members
from domainteb.core.errors import ModelLoadError
from domainteb.core.io import atomic_write_json, cache_root, sha256_file, stable_hash
from domainteb.core.registry import Registry
from domainteb.eval.models.assets import assemble_parts, copy_asset, installed_path
from domainteb.eval.models.onnx_convert import CONVERTER_VERSION, convert_onnx, save_safetensors
from domainteb.eval.models.spec import InstalledFolderSource, ModelSpec, OnnxSource, SplitZipSource, spec_location

log = logging.getLogger(__name__)

MANIFEST = "domainteb_model.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")

Builder = Callable[[ModelSpec, Path], None]
BUILDERS: Registry[Builder] = Registry("model source kind")


def models_dir() -> Path:
    path = cache_root() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def materialize(spec: ModelSpec) -> Path:
    """Folder holding ``spec``'s sentence-transformers model, building it once if needed."""
    source = spec.source
    if source is None:
        raise ModelLoadError(f"model {spec.name!r} has no files to materialise")
    if isinstance(source, InstalledFolderSource):
        folder = installed_path(source.folder)
        if not (folder / "modules.json").is_file():
            raise ModelLoadError(f"{folder}: no modules.json; the package {source.folder.installed} changed layout")
        return folder
    key = stable_hash({"source": source.model_dump(mode="json", exclude_defaults=True), "prompts": spec.prompts, "converter": CONVERTER_VERSION})
    target = models_dir() / f"{spec.name}-{key[:16]}"
    if (target / MANIFEST).is_file():
        return target
    with FileLock(str(target) + ".lock"):
        if (target / MANIFEST).is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            log.info("building model %s into %s", spec.name, target)
            BUILDERS.get(source.kind)(spec, tmp)
            atomic_write_json(tmp / MANIFEST, {"name": spec.name, "source_hash": key, "revision": weights_digest(tmp)})
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared
            if target.exists():  # a leftover without manifest (interrupted manual copy)
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def weights_digest(folder: Path) -> str:
    """sha256 over every weights file below ``folder`` (relative path + file sha256)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        raise ModelLoadError(f"{folder}: no weights file (model.safetensors or pytorch_model.bin)")
    if len(files) == 1:
        return sha256_file(files[0])
    return stable_hash([[str(p.relative_to(folder)), sha256_file(p)] for p in files])


def folder_revision(folder: Path) -> str:
    """Revision of a model folder: its manifest's, else the weights digest (memoised by size/mtime)."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        revision = json.loads(manifest.read_text(encoding="utf-8")).get("revision")
        if revision:
            return str(revision)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    stamp = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    memo = cache_root() / "revisions" / f"{stable_hash(stamp)}.txt"
    if memo.is_file():
        return memo.read_text(encoding="utf-8").strip()
    digest = weights_digest(folder)
    memo.parent.mkdir(parents=True, exist_ok=True)
    from domainteb.core.io import atomic_write_text

    atomic_write_text(memo, digest + "\n")
    return digest


# ----------------------------------------------------------------------------- builders


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _check_bert_tensors(folder: Path, tensors: dict[str, Any], where: str, architecture: str) -> None:
    """Every parameter of the target BERT architecture must be recovered with the right shape
    (the bi-encoder's unused pooler aside)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    config = BertConfig.from_pretrained(str(folder))
    with torch.device("meta"):
        if architecture == "cross_encoder":
            reference = BertForSequenceClassification(config)
        else:
            reference = BertModel(config, add_pooling_layer=False)
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    wrong = sorted(k for k in expected if k in tensors and tuple(tensors[k].shape) != expected[k])
    if missing or wrong:
        bad = missing[:3] + [f"{k}{tuple(tensors[k].shape)}!={expected[k]}" for k in wrong[:3]]
        raise ModelLoadError(f"{where}: conversion incomplete ({len(missing)} missing, {len(wrong)} misshaped: {', '.join(bad)})")


def _write_st_config(folder: Path, *, dim: int, pooling: str, normalize: bool, max_seq_length: int,
                     do_lower_case: bool, prompts: dict[str, str]) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(folder / "modules.json", modules)
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": do_lower_case})
    _write_json(folder / "config_sentence_transformers.json", {"prompts": prompts, "default_prompt_name": None,
                                                              "similarity_fn_name": "cosine"})


@BUILDERS.register("onnx")
def build_onnx(spec: ModelSpec, out: Path) -> None:
    source = spec.source
    assert isinstance(source, OnnxSource)
    for name, ref in source.files.items():
        copy_asset(ref, out / name)
    config_path = out / "config.json"
    if source.bert_config is not None:
        arch = "BertForSequenceClassification" if source.architecture == "cross_encoder" else "BertModel"
        config = {"architectures": [arch], "model_type": "bert", **source.bert_config}
    else:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("_name_or_path", None)
    _write_json(config_path, config)
    onnx_file = out / ".source.onnx"
    copy_asset(source.onnx, onnx_file)
    try:
        conversion = convert_onnx(onnx_file, strip_prefix=source.strip_prefix)
    finally:
        onnx_file.unlink(missing_ok=True)
    where = f"{spec_location(spec.name)} ({source.onnx.wheel or source.onnx.installed}:{source.onnx.path})"
    if conversion.unmapped:
        raise ModelLoadError(f"{where}: {len(conversion.unmapped)} weight matrices could not be named")
    for key in [k for k in conversion.tensors if k.endswith("embeddings.position_ids")]:
        conversion.tensors.pop(key)
    _check_bert_tensors(out, conversion.tensors, where, source.architecture)
    save_safetensors(conversion, out / "model.safetensors")
    if source.architecture == "cross_encoder":  # a plain HF classifier folder is a CrossEncoder folder
        log.info("converted %s: %d tensors, %d parameters", spec.name, len(conversion.tensors), conversion.n_parameters)
        return
    assert source.pooling is not None
    _write_st_config(out, dim=int(config["hidden_size"]), pooling=source.pooling, normalize=source.normalize,
                     max_seq_length=source.max_seq_length, do_lower_case=source.do_lower_case, prompts=spec.prompts)
    log.info("converted %s: %d tensors, %d parameters", spec.name, len(conversion.tensors), conversion.n_parameters)


@BUILDERS.register("split_zip")
def build_split_zip(spec: ModelSpec, out: Path) -> None:
    source = spec.source
    assert isinstance(source, SplitZipSource)
    archive = out / ".joined.zip"
    # the joined archive is checked against the spec's sha256 pin, its members against zip slip
    assemble_parts(source.parts, archive, sha256=source.sha256, where=spec_location(spec.name))
    prefix = source.folder.rstrip("/") + "/"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            if not any(m.filename == prefix + "modules.json" for m in members):
                raise ModelLoadError(f"{spec_location(spec.name)}: the joined zip has no {prefix}modules.json; check 'folder'")
            extract_members(zf, out, prefix=prefix, where=spec_location(spec.name))
    except zipfile.BadZipFile:
        raise ModelLoadError(f"{spec_location(spec.name)}: the {len(source.parts)} parts do not form a zip; check their order") from None
    finally:
        archive.unlink(missing_ok=True)
    if spec.prompts:
        cfg_path = out / "config_sentence_transformers.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
        cfg["prompts"] = {**cfg.get("prompts", {}), **spec.prompts}
        _write_json(cfg_path, cfg)
