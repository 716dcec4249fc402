"""Append-only, content-addressed JSONL logs that survive ``kill -9``.

:class:`AppendLog` appends one JSON record per line, flushed and fsync'd per record. On open
it reads what is there; a torn last line (a write cut short) is detected, logged and cut
off so the next append starts on a clean line. :class:`ResponseCache` keys LLM responses by
the hash of (messages, model, sampling params, seed): never the API key or base URL.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domainteb.core.io import stable_hash
from domainteb.synth.records import CachedResponse

log = logging.getLogger(__name__)


class AppendLog:
    """A JSONL file opened for appending with per-record fsync."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.torn_lines = 0
        self._records = list(self._load())
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")

    def _load(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        pos = 0
        bad_at: list[int] = []
        while pos < len(data):
            nl = data.find(b"\n", pos)
            line = data[pos:] if nl < 0 else data[pos:nl]
            end = len(data) if nl < 0 else nl + 1
            rec = None
            if line.strip():
                try:
                    rec = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    rec = None
                if not isinstance(rec, dict) or nl < 0:
                    bad_at.append(pos)
                    rec = None
            if rec is not None:
                yield rec
                good_end = end
            elif not line.strip():
                good_end = end
            pos = end
        if bad_at:
            self.torn_lines = len(bad_at)
            log.warning("%s: ignored %d torn/invalid line(s) (an interrupted write); truncating them", self.path, len(bad_at))
            if bad_at[-1] >= good_end:
                # torn tail: cut it so appends start on a fresh line
                with open(self.path, "r+b") as fh:
                    fh.truncate(good_end)
                    fh.flush()
                    os.fsync(fh.fileno())

    @property
    def records(self) -> list[dict[str, Any]]:
        return self._records

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._records.append(record)

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_key(messages: list[dict[str, str]], model: str, params: dict[str, Any]) -> str:
    """Content address of one request (sampling params include the seed)."""
    return stable_hash({"messages": messages, "model": model, "params": params})


class ResponseCache:
    """Responses by request key, backed by ``responses.jsonl``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._log = AppendLog(path)
        self._by_key: dict[str, CachedResponse] = {}
        for rec in self._log.records:
            try:
                resp = CachedResponse.model_validate(rec)
            except Exception:  # noqa: BLE001 - a foreign record is skipped, not fatal
                log.warning("%s: skipped a record that is not a cached response", path)
                continue
            self._by_key.setdefault(resp.key, resp)

    @property
    def path(self) -> Path:
        return self._log.path

    def get(self, key: str) -> CachedResponse | None:
        return self._by_key.get(key)

    def put(self, resp: CachedResponse) -> None:
        if resp.key in self._by_key:
            return
        self._by_key[resp.key] = resp
        self._log.append(resp.model_dump(mode="json"))

    def __len__(self) -> int:
        return len(self._by_key)

    def close(self) -> None:
        self._log.close()
