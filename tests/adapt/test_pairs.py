"""Loading and validating training pairs (JSONL, save_to_disk folders, domain pairs)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from domainteb.adapt.pairs import load_pairs, load_pairs_with_info
from domainteb.core.errors import TaskDataError


def _write(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


SYNTH = [
    {"query": "what is EBITDA margin", "positive": "EBITDA margin is EBITDA divided by revenue.",
     "negatives": ["Net margin is net income over revenue.", "Gross margin excludes operating costs."],
     "persona": "analyst", "query_type": "definition"},
    {"query": "how are convertible bonds priced", "positive": "A convertible bond is priced as a bond plus a call option.",
     "negatives": ["Callable bonds can be redeemed early."], "persona": "trader", "query_type": "how-to"},
    {"anchor": "duration of a zero coupon bond", "positive": "A zero-coupon bond's duration equals its maturity.",
     "negative": "Coupon bonds have shorter duration than maturity.", "persona": "analyst", "query_type": "definition"},
]


def test_jsonl_pairs_become_anchor_positive_negative(tmp_path: Path) -> None:
    ds, info = load_pairs_with_info(_write(tmp_path / "pairs.jsonl", SYNTH))
    assert ds.column_names == ["anchor", "positive", "negative"]
    assert ds[0]["anchor"] == "what is EBITDA margin"
    assert ds[2]["negative"] == "Coupon bonds have shorter duration than maturity."
    assert info.n_pairs == 3 and info.n_negatives == 1
    assert info.personas == {"analyst": 2, "trader": 1}
    assert info.query_types == {"definition": 2, "how-to": 1}


def test_several_negatives_become_numbered_columns_and_limit_applies(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", [SYNTH[0], SYNTH[0]])
    ds = load_pairs(path, max_negatives=3)
    assert ds.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    assert len(load_pairs(_write(tmp_path / "q.jsonl", SYNTH), limit=2)) == 2


def test_pairs_without_negatives_on_some_rows_drop_the_column(tmp_path: Path) -> None:
    records = [SYNTH[0], {"query": "q", "positive": "p"}]
    ds, info = load_pairs_with_info(_write(tmp_path / "p.jsonl", records))
    assert ds.column_names == ["anchor", "positive"]
    assert info.dropped_negatives == 1


def test_synth_report_filters_are_read_next_to_the_pairs(tmp_path: Path) -> None:
    _write(tmp_path / "pairs.jsonl", SYNTH)
    (tmp_path / "report.json").write_text(json.dumps({"filters": {"min_words": 3, "dedup": True}}))
    _, info = load_pairs_with_info(tmp_path / "pairs.jsonl")
    assert info.filters == {"min_words": 3, "dedup": True}


def test_save_to_disk_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict(
        {"query": ["a question", "another question"], "positive": ["an answer", "another answer"]}
    ).save_to_disk(str(folder))
    ds = load_pairs(folder)
    assert ds.column_names == ["anchor", "positive"] and ds[1]["positive"] == "another answer"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"positive": "p"}, ":2: missing field 'query'"),
        ({"query": "q"}, ":2: missing field 'positive'"),
        ({"query": "   ", "positive": "p"}, ":2: field 'query' is empty"),
        ({"query": "q", "positive": 3}, ":2: field 'positive' must be a string"),
        ({"query": "q", "positive": "p", "negatives": "n"}, ":2: field 'negatives' must be a list"),
        ({"query": "q", "positive": "p", "negatives": ["ok", ""]}, ":2: field 'negatives[1]'"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path: Path, record: dict[str, object], message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [SYNTH[0], record])
    with pytest.raises(TaskDataError) as err:
        load_pairs(path)
    assert f"bad.jsonl{message}" in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_json_line_and_missing_or_empty_files(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonl"
    bad.write_text(json.dumps(SYNTH[0]) + "\n{not json\n")
    with pytest.raises(TaskDataError, match=r"broken.jsonl:2: malformed JSON"):
        load_pairs(bad)
    with pytest.raises(TaskDataError, match="pairs file not found"):
        load_pairs(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(TaskDataError, match="no training pairs"):
        load_pairs(empty)


def test_fewer_pairs_than_required_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", SYNTH)
    with pytest.raises(TaskDataError, match="only 3 pairs, 10 requested"):
        load_pairs(path, require=10)


def test_save_to_disk_folder_with_wrong_columns(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": ["a"], "label": [1]}).save_to_disk(str(folder))
    with pytest.raises(TaskDataError, match="lack 'anchor'"):
        load_pairs(folder)
