"""Bundled personas validate; sampling is seeded and per-passage stable; bad files give one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainteb.core.errors import ConfigError
from domainteb.synth.personas import load_personas, plan_jobs


@pytest.mark.parametrize("domain", ["finance", "chemistry", "medical"])
def test_bundled_personas_have_at_least_eight(domain: str) -> None:
    personas = load_personas(domain)
    assert len(personas) >= 8
    assert all(p.role and p.goal and p.query_style and p.expertise for p in personas)


def test_plan_is_seeded_and_stable_when_passages_are_added() -> None:
    personas = load_personas("finance")
    a = plan_jobs(["p1", "p2"], personas, seed=3, queries_per_passage=3, personas_per_passage=2)
    b = plan_jobs(["p0", "p1", "p2", "p9"], personas, seed=3, queries_per_passage=3, personas_per_passage=2)
    assert a["p1"] == b["p1"] and a["p2"] == b["p2"]
    assert len(a["p1"]) == 2 and a["p1"][0].persona != a["p1"][1].persona
    c = plan_jobs(["p1", "p2"], personas, seed=4, queries_per_passage=3, personas_per_passage=2)
    assert a != c
    many = plan_jobs([f"p{i}" for i in range(200)], personas, seed=0, queries_per_passage=2)
    kinds = {s.query_type for plans in many.values() for s in plans[0].specs}
    assert kinds == {"keyword", "question", "long_form"}


def test_bad_persona_file_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("domain: x\npersonas:\n  - name: a\n    role: r\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p\.yaml: field 'personas\.0\.expertise'"):
        load_personas("x", bad)
    with pytest.raises(ConfigError, match="not found"):
        load_personas("astrology")
    with pytest.raises(ConfigError, match="unknown type"):
        plan_jobs(["p"], load_personas("medical"), seed=0, queries_per_passage=1, query_types=["poem"])
