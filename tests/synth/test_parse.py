"""The strict output parser: valid shapes accepted, everything else a ParseError (and only that)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainteb.synth.parse import ParseError, parse_queries


def test_plain_fenced_and_prefixed_objects_parse() -> None:
    assert parse_queries('{"queries": ["a b", "c  d"]}', 2) == ["a b", "c d"]
    assert parse_queries('```json\n{"queries": ["x"]}\n```', 1) == ["x"]
    assert parse_queries('Here you go: {"queries": ["iron alloys"]} hope it helps', 1) == ["iron alloys"]


@pytest.mark.parametrize(
    ("text", "n", "msg"),
    [
        ("", 1, "empty answer"),
        ("Sure! Here are some queries: iron, steel", 2, "no JSON object"),
        ('{"queries": ["only one"]}', 2, "expected 2 queries, got 1"),
        ('{"queries": "not a list"}', 1, "schema mismatch"),
        ('{"queries": ["ok"], "extra": 1}', 1, "schema mismatch"),
        ('{"queries": ["  "]}', 1, "schema mismatch"),
        ('{"queries": ["a", 3]}', 2, "schema mismatch"),
        ('["a", "b"]', 2, "no JSON object"),
        ('{"queries": ["a", "b"', 2, "no JSON object"),
    ],
)
def test_invalid_answers_name_the_problem(text: str, n: int, msg: str) -> None:
    with pytest.raises(ParseError, match=msg):
        parse_queries(text, n)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=4))
def test_arbitrary_text_only_raises_parse_error(text: str, n: int) -> None:
    try:
        out = parse_queries(text, n)
    except ParseError:
        return
    assert len(out) == n and all(isinstance(q, str) and q for q in out)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()), min_size=1, max_size=4))
def test_valid_objects_round_trip(queries: list[str]) -> None:
    import json

    out = parse_queries(json.dumps({"queries": queries}), len(queries))
    assert out == [" ".join(q.split()) for q in queries]
