"""Path safety: the one place where names read from data become file names.

Names come from files a user may not control: ``name``/``domain`` in a task folder's
``domainteb.json``, task/model/domain names inside result files given to ``leaderboard`` or
``report``, ``name`` in a model folder's ``domainteb_model.json``. None of them may choose
where a file is written.

* :func:`check_name` validates a name that must be kept as it is (task and domain names):
  it refuses, with one line naming the field and file, anything that is not one plain path
  component (separators, ``.``/``..``, absolute paths, NUL and other control characters,
  unicode look-alikes of ``/`` and ``.``, overlong names).
* :func:`slug` maps any text (model names such as ``openai:text-embedding-3-small`` or
  ``org/name`` hub ids) onto one safe component, deterministically.
* :func:`ensure_under` proves that a path resolves (symlinks followed) inside an output root;
  :func:`join_under` joins checked names under a root. The atomic writers in
  :mod:`domainteb.core.io` call :func:`ensure_under` whenever they are given ``root=``.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

from domainteb.core.errors import TaskDataError

#: longest name accepted as a path component (characters); file systems allow 255 bytes and
#: the atomic writers add a prefix and suffix to the temporary file's name.
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200
#: ASCII punctuation allowed in a kept name besides letters, marks and digits (no separators,
#: no Windows-reserved ``<>:"|?*``, no quotes or backslash).
_NAME_PUNCT = frozenset(" ._-+=@,()[]{}&!#%~'")
_SLUG_DROP = re.compile(r"[^A-Za-z0-9._-]+")
_SLUG_MAX = 100


class UnsafePathError(TaskDataError):
    """A name or path would leave its output root (or is not a valid file name)."""


def _why_unsafe(value: str) -> str | None:
    if not value:
        return "it is empty"
    if value != value.strip():
        return "it starts or ends with whitespace"
    if len(value) > MAX_NAME_CHARS or len(value.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_CHARS} characters"
    for ch in value:
        cat = unicodedata.category(ch)
        if ch == "\x00":
            return "it contains a NUL byte"
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            return f"it contains the control/format character U+{ord(ch):04X}"
        if ch in "/\\":
            return "it contains a path separator"
        if ch.isascii():
            if not (ch.isalnum() or ch in _NAME_PUNCT):
                return f"it contains {ch!r}"
        elif cat[0] not in "LMN":
            return f"it contains the non-letter character U+{ord(ch):04X} ({unicodedata.name(ch, '?').lower()})"
    folded = unicodedata.normalize("NFKC", value)
    if "/" in folded or "\\" in folded or folded.startswith(".") or value.startswith("."):
        return "it starts with '.' or reads as a path once unicode is normalised"
    if re.match(r"^[A-Za-z]:", folded) or folded.startswith("~"):
        return "it reads as an absolute path"
    return None


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and _why_unsafe(value) is None


def check_name(value: object, *, field: str, where: str | os.PathLike[str] | None = None) -> str:
    """Return ``value`` unchanged if it can be used as one file-name component, else a one-line error."""
    at = f"{where}: " if where else ""
    if not isinstance(value, str):
        raise UnsafePathError(f"{at}field {field!r} must be a string, got {type(value).__name__}")
    why = _why_unsafe(value)
    if why is not None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise UnsafePathError(
            f"{at}field {field!r} = {shown!r} cannot be used as a file name ({why}); "
            f"use letters, digits and ' ._-+=@,()' only, at most {MAX_NAME_CHARS} characters"
        )
    return value


def slug(value: str, default: str = "model") -> str:
    """Any text → one safe path component (``openai:x`` → ``openai__x``, ``org/name`` → ``org__name``).

    Characters outside ``[A-Za-z0-9._-]`` become ``__``; leading dots/underscores are dropped
    (so ``.``/``..`` cannot survive); names longer than 100 characters keep a prefix and a
    sha256 suffix so distinct long names stay distinct.
    """
    text = str(value)
    out = _SLUG_DROP.sub("__", text).strip("_").lstrip(".-_") or default
    if len(out) > _SLUG_MAX:
        out = out[: _SLUG_MAX - 13].rstrip("._-") + "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return out


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def ensure_under(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """``path`` if it resolves inside ``root``, else an error (both taken as given: relative
    paths are relative to the working directory, like every other path).

    Symlinks anywhere in the path — including the final component — are followed, so a link
    inside the output folder that points elsewhere is refused.
    """
    root_real = _resolved(Path(root))
    target = Path(path)
    if "\x00" in str(target):
        raise UnsafePathError(f"{root}: refusing to write {str(target)!r} (NUL byte in path)")
    real = _resolved(target)
    if real != root_real and root_real not in real.parents:
        raise UnsafePathError(
            f"{target}: refusing to write outside the output folder {root} (it resolves to {real}); "
            f"remove the symlink or '..' that leads there"
        )
    return target


def join_under(root: str | os.PathLike[str], *names: str, field: str = "name", where: str | os.PathLike[str] | None = None) -> Path:
    """``root / name1 / name2 …`` with each name checked by :func:`check_name` and the result by :func:`ensure_under`."""
    for name in names:
        check_name(name, field=field, where=where)
    return ensure_under(root, Path(root).joinpath(*names))
