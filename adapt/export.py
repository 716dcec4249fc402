"""The output every adapt method writes: ``<output_dir>/model`` (a sentence-transformers
folder, safetensors only, with a README model card) and ``<output_dir>/done.json``.

The folder is saved into a temporary sibling and renamed into place, so ``model/`` is either
complete or absent. ``done.json`` records the config hash: a rerun with the same config finds
it and skips the work; a different config redoes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_write_json, atomic_write_text, read_json, umask_mode

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_DIR = "model"
DONE_FILE = "done.json"
#: weight files that must never appear in an output folder (pickle-based formats).
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def unsafe_weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in UNSAFE_SUFFIXES)


def save_model_folder(model: SentenceTransformer, dest: Path, readme: str) -> Path:
    """Save ``model`` to ``dest`` atomically as safetensors with ``readme`` as README.md."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    os.chmod(tmp, umask_mode(0o777))  # mkdtemp makes it 0700: the saved model follows the user's umask
    try:
        model.save(str(tmp), create_model_card=False, safe_serialization=True)
        atomic_write_text(tmp / "README.md", readme)
        bad = unsafe_weight_files(tmp)
        if bad:
            raise DomainTebError(f"{dest}: refusing to write pickle weight files ({', '.join(p.name for p in bad)})")
        if not list(tmp.rglob("*.safetensors")):
            raise DomainTebError(f"{dest}: the saved model has no safetensors weights")
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def read_done(output_dir: Path, config_hash: str) -> dict[str, Any] | None:
    """The finished run's summary when ``done.json`` matches ``config_hash`` and the model exists."""
    marker = Path(output_dir) / DONE_FILE
    if not marker.is_file() or not (Path(output_dir) / MODEL_DIR / "modules.json").is_file():
        return None
    try:
        done = read_json(marker)
    except DomainTebError:
        return None
    if not isinstance(done, dict) or done.get("config_hash") != config_hash:
        return None
    return done


def write_done(output_dir: Path, config_hash: str, summary: dict[str, Any]) -> None:
    atomic_write_json(Path(output_dir) / DONE_FILE, {"config_hash": config_hash, **summary})
