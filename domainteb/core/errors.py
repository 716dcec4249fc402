"""User-facing errors.

A :class:`DomainTebError` carries one line that names the file, line or field at fault and
says how to fix it. The CLI prints it without a traceback and exits non-zero.
"""

from __future__ import annotations


class DomainTebError(Exception):
    """An error caused by user input (a file, a config value, a model name)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class TaskDataError(DomainTebError):
    """A task's data on disk is missing or malformed."""


class ConfigError(DomainTebError):
    """A config value or CLI override is wrong."""


class ModelLoadError(DomainTebError):
    """A model name is unknown or a model folder cannot be read."""
