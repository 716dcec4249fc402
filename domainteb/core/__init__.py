"""Shared core: task and result types, registries, file I/O, user-facing errors."""
