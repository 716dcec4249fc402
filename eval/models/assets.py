"""Resolve a spec's :class:`AssetRef` to bytes or a file path, without importing the asset package.

Wheels are checked against their sha256 pins (:func:`domainteb.core.assets.ensure_wheel`),
installed distributions against their pinned version, member paths against ``..``/absolute
paths, and archives assembled from several parts against the spec's ``sha256``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from domainteb.core.assets import AssetIntegrityError, check_member, ensure_wheel
from domainteb.core.errors import ModelLoadError
from domainteb.eval.models.spec import AssetRef

_CHUNK = 1 << 22


def _relative(ref: AssetRef) -> str:
    """``ref.path`` if it is a plain relative path (no ``..``, not absolute)."""
    check_member(zipfile.ZipInfo(ref.path), ref.wheel or ref.installed or "asset")
    return ref.path


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
    path = Path(str(dist.locate_file(_relative(ref))))
    if not path.exists():
        raise ModelLoadError(f"{ref.installed}: has no {ref.path!r} ({path}); reinstall it with 'pip install --force-reinstall {ref.installed}'")
    return path


def _open_wheel_member(ref: AssetRef) -> tuple[zipfile.ZipFile, zipfile.ZipInfo, Path]:
    assert ref.wheel is not None
    wheel = ensure_wheel(ref.wheel)
    zf = zipfile.ZipFile(wheel)
    try:
        info = zf.getinfo(_relative(ref))
    except KeyError:
        zf.close()
        raise ModelLoadError(f"{wheel.name}: has no member {ref.path!r}; the pinned asset changed") from None
    check_member(info, wheel.name)
    return zf, info, wheel


def copy_asset(ref: AssetRef, dest: Path) -> Path:
    """Copy the file ``ref`` points at to ``dest`` (streamed; wheels are read as zips)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if ref.installed:
        shutil.copyfile(installed_path(ref), dest)
        return dest
    zf, info, _ = _open_wheel_member(ref)
    with zf, zf.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, length=_CHUNK)
    return dest


def append_asset(ref: AssetRef, out: IO[bytes]) -> None:
    """Stream the file ``ref`` points at onto the open binary file ``out``."""
    if ref.installed:
        with open(installed_path(ref), "rb") as src:
            shutil.copyfileobj(src, out, length=_CHUNK)
        return
    zf, info, _ = _open_wheel_member(ref)
    with zf, zf.open(info) as src:
        shutil.copyfileobj(src, out, length=_CHUNK)


class _HashingWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.fh.write(data)


def assemble_parts(parts: Sequence[AssetRef], dest: Path, *, sha256: str | None, where: str) -> Path:
    """Concatenate ``parts`` into ``dest`` and check the whole against the pinned ``sha256``."""
    if not sha256:
        raise AssetIntegrityError(f"{where}: an archive assembled from parts needs a 'sha256' pin; add it to the spec")
    with open(dest, "wb") as fh:
        writer = _HashingWriter(fh)
        for part in parts:
            append_asset(part, writer)  # type: ignore[arg-type]
    actual = writer.sha.hexdigest()
    if actual != sha256:
        dest.unlink(missing_ok=True)
        raise AssetIntegrityError(
            f"{where}: the {len(parts)} assembled parts have sha256 {actual[:16]}…, not the pinned {sha256[:16]}…; "
            f"the parts changed or are out of order"
        )
    return dest

