"""File I/O shared by every stage: atomic writes (the one writer: with ``root=`` it proves the
target stays inside its output folder), JSONL with line-precise errors, hashing, and the local
cache location."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from domainteb.core.errors import TaskDataError
from domainteb.core.paths import ensure_under


def cache_root() -> Path:
    """Root of domainteb's local caches (built tasks, converted models, embeddings).

    ``DOMAINTEB_CACHE`` overrides it; the default is ``~/.cache/domainteb``.
    """
    root = os.environ.get("DOMAINTEB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "domainteb"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def current_umask() -> int:
    """The process umask (read from /proc where possible, so no thread sees a changed umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(base: int = 0o777) -> int:
    """``base`` with the user's umask applied (0o777 for folders, 0o666 for files)."""
    return base & ~current_umask()


def _tmp_file_next_to(target: Path, suffix: str) -> Path:
    """Create an empty temporary file next to ``target`` with the mode the user's umask gives.

    (``tempfile.mkstemp`` would force 0600, so finished outputs would not be readable by the
    group/others the user's umask allows.)
    """
    for _ in range(100):
        tmp = target.parent / f".{target.name[:150]}.{secrets.token_hex(4)}{suffix or '.tmp'}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{target.parent}: cannot create a temporary file")


def ensure_dir(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Path:
    """``mkdir -p path``; with ``root``, first prove it stays under ``root`` (symlinks followed)."""
    folder = Path(path)
    if root is not None:
        ensure_under(root, folder)
    folder.mkdir(parents=True, exist_ok=True)
    if root is not None:
        ensure_under(root, folder)  # a symlink raced in while creating it
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "", *, root: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` only on success.

    With ``root`` (the output folder the write belongs to), the target must resolve inside it:
    ``..``, absolute paths and symlinks that lead elsewhere raise
    :class:`~domainteb.core.paths.UnsafePathError` before anything is written.
    """
    target = Path(path)
    if root is not None:
        target = ensure_under(root, target)
    ensure_dir(target.parent, root=root)
    tmp_path = _tmp_file_next_to(target, suffix)
    try:
        yield tmp_path
        if root is not None:
            ensure_under(root, target)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, root: str | os.PathLike[str] | None = None) -> None:
    with atomic_path(path, root=root) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str, *, root: str | os.PathLike[str] | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), root=root)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2, *, root: str | os.PathLike[str] | None = None) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default) + "\n", root=root)


def atomic_write_jsonl(path: str | os.PathLike[str], records: Iterable[Any], *, root: str | os.PathLike[str] | None = None) -> int:
    """Write records as JSONL atomically; returns the number written."""
    n = 0
    with atomic_path(path, root=root) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n")
                n += 1
    return n


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise TaskDataError(f"{p}: file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskDataError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg}); fix or regenerate the file") from None
    except UnicodeDecodeError:
        raise TaskDataError(f"{p}: not UTF-8 text; re-save it as UTF-8") from None


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line; errors name file and line."""
    p = Path(path)
    if not p.is_file():
        raise TaskDataError(f"{p}: file not found")
    for lineno, line in iter_text_lines(p):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskDataError(
                f"{p}:{lineno}: malformed JSON line ({exc.msg} at column {exc.colno}); fix or delete that line"
            ) from None
        if not isinstance(rec, dict):
            raise TaskDataError(f"{p}:{lineno}: expected a JSON object per line, got {type(rec).__name__}")
        yield lineno, rec


def read_jsonl_records(path: str | os.PathLike[str], model: type[Any], fix: str) -> list[Any]:
    """Every line of a JSONL file validated as the pydantic ``model``; an invalid line raises one
    error naming file, line and field, followed by ``fix``."""
    from pydantic import ValidationError

    out = []
    for lineno, rec in iter_jsonl(path):
        try:
            out.append(model.model_validate(rec))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise TaskDataError(f"{path}:{lineno}: field {'.'.join(map(str, err['loc']))!r}: {err['msg']}; {fix}") from None
    return out


def iter_text_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 file (a leading BOM is dropped); bytes that are not
    UTF-8 raise one :class:`TaskDataError` naming the file, line and byte column."""
    p = Path(path)
    with open(p, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TaskDataError(
                    f"{p}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    f"re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                ) from None
            yield lineno, (line.removeprefix("\ufeff") if lineno == 1 else line)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return [rec for _, rec in iter_jsonl(path)]


def require_field(rec: dict[str, Any], field: str, path: str | os.PathLike[str], lineno: int, kind: type | tuple[type, ...] = str) -> Any:
    """Return ``rec[field]`` or raise a one-line error naming file, line and field."""
    if field not in rec:
        raise TaskDataError(f"{path}:{lineno}: missing field {field!r}; every record needs it")
    value = rec[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TaskDataError(f"{path}:{lineno}: field {field!r} must be {names}, got {type(value).__name__}")
    return value


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_hash(obj: Any) -> str:
    """sha256 of an object's canonical JSON form (sorted keys); for content addressing."""
    return sha256_text(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=_json_default))


def find_package_dir(dist_module: str) -> Path | None:
    """Folder of an installed package, found without importing it (``None`` if absent)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(dist_module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    if spec.origin:
        return Path(spec.origin).parent
    return None
