"""File I/O shared by every stage: atomic writes, JSONL with line-precise errors, hashing,
and the local cache location."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from domainteb.core.errors import TaskDataError


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default) + "\n")


def atomic_write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> int:
    """Write records as JSONL atomically; returns the number written."""
    n = 0
    with atomic_path(path) as tmp:
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
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskDataError(
                    f"{p}:{lineno}: malformed JSON line ({exc.msg} at column {exc.colno}); fix or delete that line"
                ) from None
            except UnicodeDecodeError:
                raise TaskDataError(f"{p}:{lineno}: not UTF-8 text; re-save the file as UTF-8") from None
            if not isinstance(rec, dict):
                raise TaskDataError(f"{p}:{lineno}: expected a JSON object per line, got {type(rec).__name__}")
            yield lineno, rec


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
