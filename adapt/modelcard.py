"""The README.md model card of an adapted model, rendered from a template.

It says what the model was trained from (base model), on what (pairs: count, personas and
query types, synth filters), how (method and hyper-parameters) and how well (eval scores).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from string import Template
from typing import Any

from domainteb import __version__

TEMPLATE = Template(
    """---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- domainteb
- $domain
- $method
base_model: $base
---

# $title

A `$method` adaptation of **$base** to the **$domain** domain, made by domainteb $version
on $date.

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("path/to/this/folder")
```

## Training data

$data

## Method and hyper-parameters

$params

## Evaluation

$evaluation

## Reproduce

```
$command
```
"""
)


@dataclass
class CardInfo:
    """Everything the card shows; filled by the adapt method that produced the model."""

    method: str
    base: str
    domain: str
    data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    eval_history: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    command: str = ""


def _table(rows: list[tuple[str, str]], header: tuple[str, str]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return "`" + json.dumps(value, ensure_ascii=False) + "`"
    return "" if value is None else str(value).replace("|", "\\|")


def _counts(counts: dict[str, int], what: str) -> str:
    if not counts:
        return f"- {what}: not recorded in the pairs"
    shown = ", ".join(f"{k} ({v})" for k, v in list(counts.items())[:12])
    more = f", … {len(counts) - 12} more" if len(counts) > 12 else ""
    return f"- {what} ({len(counts)}): {shown}{more}"


def _data_section(data: dict[str, Any]) -> str:
    lines = [
        f"- source: `{data.get('source', 'unknown')}`",
        f"- pairs: {data.get('n_pairs', 'unknown')}",
        f"- hard negatives per pair: {data.get('n_negatives', 0)}",
        _counts(data.get("personas") or {}, "personas"),
        _counts(data.get("query_types") or {}, "query types"),
    ]
    filters = data.get("filters") or {}
    if filters:
        lines.append("- synth filters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in filters.items()))
    return "\n".join(lines)


def _eval_section(info: CardInfo) -> str:
    if not info.scores and not info.eval_history:
        return "No evaluation ran during adaptation; evaluate with `domainteb eval model=<this folder>`."
    parts = []
    if info.scores:
        parts.append(_table([(k, _fmt(v)) for k, v in info.scores.items()], ("metric", "value")))
    if info.eval_history:
        keys = [k for k in info.eval_history[0] if k != "step"]
        rows = [(str(int(e.get("step", 0))), ", ".join(_fmt(e[k]) for k in keys if k in e)) for e in info.eval_history]
        parts.append("Learning curve (" + ", ".join(keys) + "):\n\n" + _table(rows, ("step", "score")))
    return "\n\n".join(parts)


def render_card(info: CardInfo) -> str:
    """The README.md text for ``info``."""
    params = _table([(k, _fmt(v)) for k, v in info.params.items()], ("setting", "value"))
    if info.notes:
        params += "\n\n" + "\n".join(f"- {n}" for n in info.notes)
    return TEMPLATE.substitute(
        title=f"{info.base} adapted to {info.domain} ({info.method})",
        method=info.method,
        base=info.base,
        domain=info.domain,
        version=__version__,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        data=_data_section(info.data),
        params=params,
        evaluation=_eval_section(info),
        command=info.command or f"domainteb adapt method={info.method} base={info.base} domain={info.domain}",
    )
