"""Append-only logs: per-record durability, torn tails detected and cut, cache lookups by content key."""

from __future__ import annotations

import json
from pathlib import Path

from domainteb.synth.cache import AppendLog, ResponseCache, request_key
from domainteb.synth.records import CachedResponse


def test_torn_last_line_is_ignored_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AppendLog(path) as log:
        log.append({"a": 1})
        log.append({"a": 2})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"a": 3, "b": "cut sh')  # a write interrupted by kill -9
    log = AppendLog(path)
    assert [r["a"] for r in log.records] == [1, 2]
    assert log.torn_lines == 1
    log.append({"a": 4})
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["a"] for x in lines] == [1, 2, 4]


def test_complete_record_without_newline_counts_as_torn(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}', encoding="utf-8")
    log = AppendLog(path)
    assert [r["a"] for r in log.records] == [1]
    log.append({"a": 3})
    log.close()
    assert [json.loads(x)["a"] for x in path.read_text().splitlines()] == [1, 3]


def test_response_cache_keys_on_content_not_on_secrets(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    k1 = request_key(msgs, "m", {"temperature": 0.7, "seed": 1})
    assert k1 == request_key(list(msgs), "m", {"seed": 1, "temperature": 0.7})
    assert k1 != request_key(msgs, "m", {"temperature": 0.7, "seed": 2})
    assert k1 != request_key(msgs, "other", {"temperature": 0.7, "seed": 1})
    cache = ResponseCache(tmp_path / "responses.jsonl")
    cache.put(CachedResponse(key=k1, model="m", content='{"queries": ["x"]}'))
    cache.put(CachedResponse(key=k1, model="m", content="duplicate ignored"))
    cache.close()
    again = ResponseCache(tmp_path / "responses.jsonl")
    assert len(again) == 1 and again.get(k1).content == '{"queries": ["x"]}'
    assert len((tmp_path / "responses.jsonl").read_text().splitlines()) == 1
