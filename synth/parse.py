"""Strict parser for the model's answer: one JSON object ``{"queries": [str, ...]}``.

It accepts the object alone, inside a Markdown code fence, or as the first JSON object in
the text (for servers without structured output); anything else raises :class:`ParseError`,
and only that, whatever the input.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


class ParseError(ValueError):
    """The model's answer is not a valid queries object."""


class QueriesAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queries: list[str]

    @field_validator("queries")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        out = [" ".join(q.split()) for q in value]
        if any(not q for q in out):
            raise ValueError("empty query string")
        return out


def _candidates(text: str) -> list[str]:
    cands = [text.strip()]
    cands += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        cands.append(text[start:])
    return cands


def parse_queries(text: str, n_expected: int) -> list[str]:
    """The list of queries in ``text``; raises :class:`ParseError` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty answer")
    obj = None
    for cand in _candidates(text):
        try:
            obj, _ = json.JSONDecoder().raw_decode(cand)
        except (json.JSONDecodeError, RecursionError, ValueError):
            continue
        if isinstance(obj, dict):
            break
        obj = None
    if obj is None:
        raise ParseError("no JSON object found")
    try:
        answer = QueriesAnswer.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ParseError(f"schema mismatch at {'.'.join(map(str, err['loc'])) or 'root'}: {err['msg']}") from None
    except RecursionError:
        raise ParseError("answer nested too deeply") from None
    if len(answer.queries) != n_expected:
        raise ParseError(f"expected {n_expected} queries, got {len(answer.queries)}")
    return answer.queries
