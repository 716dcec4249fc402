"""Bad corpus input: each case is a one-line error naming the file (and line) and the fix, exit
status 2 from the CLI, and nothing already produced is lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from domainteb.cli import main
from domainteb.core.errors import DomainTebError, TaskDataError
from domainteb.corpus import load_documents

GOOD = [{"_id": "a", "title": "Aspirin", "text": "Aspirin irreversibly inhibits cyclooxygenase."},
        {"_id": "b", "title": "", "text": "Metformin lowers hepatic glucose output."}]


def _jsonl(path: Path, recs: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def _case_empty_file(tmp: Path) -> tuple[Path, str]:
    (tmp / "c.jsonl").write_text("\n\n", encoding="utf-8")
    return tmp / "c.jsonl", r"c\.jsonl: no documents \(the file is empty\)"


def _case_empty_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    return tmp / "docs", r"docs: the corpus folder is empty"


def _case_non_utf8_jsonl(tmp: Path) -> tuple[Path, str]:
    (tmp / "c.jsonl").write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + b'{"_id": "b", "text": "caf\xe9"}\n')
    return tmp / "c.jsonl", r"c\.jsonl:2: not UTF-8 text \(byte 0xe9\); re-save the file as UTF-8"


def _case_non_utf8_txt(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "ok.txt").write_text("fine text", encoding="utf-8")
    (tmp / "docs" / "latin1.txt").write_bytes("line one\nNaïve café\n".encode("latin-1"))
    return tmp / "docs", r"latin1\.txt:2: not UTF-8 text"


def _case_binary_in_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "ok.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    (tmp / "docs" / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return tmp / "docs", r"figure\.png: binary file in the corpus folder; only \.txt, \.md and \.jsonl are read"


def _case_binary_named_txt(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "blob.txt").write_bytes(b"abc\x00\x01\x02")
    return tmp / "docs", r"blob\.txt: binary file \(contains NUL bytes\)"


def _case_duplicate_ids(tmp: Path) -> tuple[Path, str]:
    return _jsonl(tmp / "c.jsonl", [GOOD[0], GOOD[1], {**GOOD[1], "text": "again"}]), \
        r"c\.jsonl:3: duplicate document id 'b' \(first seen at .*c\.jsonl:2\); make every id unique"


def _case_duplicate_ids_across_files(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    _jsonl(tmp / "docs" / "one.jsonl", GOOD)
    _jsonl(tmp / "docs" / "two.jsonl", [GOOD[0]])
    return tmp / "docs", r"two\.jsonl:1: duplicate document id 'a' \(first seen at .*one\.jsonl:1\)"


def _case_missing_id(tmp: Path) -> tuple[Path, str]:
    return _jsonl(tmp / "c.jsonl", [GOOD[0], {"text": "no id"}]), r"c\.jsonl:2: missing field '_id' \(or 'id'\)"


def _case_missing_text(tmp: Path) -> tuple[Path, str]:
    return _jsonl(tmp / "c.jsonl", [{"_id": "x", "title": "only a title"}]), r"c\.jsonl:1: missing field 'text'"


def _case_wrong_type(tmp: Path) -> tuple[Path, str]:
    return _jsonl(tmp / "c.jsonl", [{"_id": "x", "text": ["a", "list"]}]), r"c\.jsonl:1: field 'text' must be a string"


def _case_malformed_line(tmp: Path) -> tuple[Path, str]:
    (tmp / "c.jsonl").write_text(json.dumps(GOOD[0]) + "\n{not json\n", encoding="utf-8")
    return tmp / "c.jsonl", r"c\.jsonl:2: malformed JSON line"


def _case_beir_without_corpus_text(tmp: Path) -> tuple[Path, str]:
    (tmp / "beir" / "qrels").mkdir(parents=True)
    (tmp / "beir" / "queries.jsonl").write_text('{"_id": "q1", "text": "what?"}\n', encoding="utf-8")
    (tmp / "beir" / "corpus.jsonl").write_text("", encoding="utf-8")
    return tmp / "beir", r"corpus\.jsonl: no documents"


CASES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    name[len("_case_"):]: fn for name, fn in globals().items() if name.startswith("_case_")
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_corpus_is_a_one_line_error_naming_the_file(case: str, tmp_path: Path) -> None:
    path, pattern = CASES[case](tmp_path)
    with pytest.raises(TaskDataError, match=pattern) as info:
        load_documents(path)
    assert "\n" not in str(info.value)


def test_missing_corpus_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(DomainTebError, match="no such file or folder"):
        load_documents(tmp_path / "nope.jsonl")


def test_good_inputs_of_every_kind(tmp_path: Path) -> None:
    _jsonl(tmp_path / "c.jsonl", [GOOD[0], {"id": 7, "text": "integer id"}])
    assert [d.doc_id for d in load_documents(tmp_path / "c.jsonl")] == ["a", "7"]
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "guide.md").write_text("# Dosing guide\n\nTake with food.", encoding="utf-8")
    (docs / "sub" / "note_one.txt").write_text("\ufeffA plain note.", encoding="utf-8")  # BOM is dropped
    (docs / ".hidden.bin").write_bytes(b"\x00")  # hidden files are not part of the corpus
    got = {d.doc_id: d for d in load_documents(docs)}
    assert set(got) == {"guide.md", "sub/note_one.txt"}
    assert got["guide.md"].title == "Dosing guide" and got["sub/note_one.txt"].title == "note one"
    assert got["sub/note_one.txt"].text == "A plain note."


def _cli(corpus: Path, extra: list[str] | None = None) -> list[str]:
    return ["pipeline", "domain=medical", f"corpus={corpus}", "base=minilm-l3", "mlflow.enabled=false",
            "work_dir=work", *(extra or [])]


def test_cli_exit_2_one_line_and_nothing_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    from omegaconf import OmegaConf

    from domainteb.corpus.stage import run as corpus_stage

    good = _jsonl(tmp_path / "c.jsonl", GOOD)
    out = tmp_path / "made"
    cfg = OmegaConf.create({"corpus": str(good), "base": "minilm-l3", "output_dir": str(out), "seed": 1})
    assert corpus_stage(cfg) == 0
    chunks = out / "corpus" / "chunks.jsonl"
    before = chunks.read_bytes()
    # the same output folder, now from a broken corpus: the error leaves the earlier chunks untouched
    (tmp_path / "c.jsonl").write_bytes(before[:20] + b"\xff\xfe" + b"\n")
    with pytest.raises(TaskDataError):
        corpus_stage(cfg)
    assert chunks.read_bytes() == before
    assert sorted(p.name for p in (out / "corpus").iterdir()) == ["chunks.jsonl", "report.json"]  # no temp files left

    capsys.readouterr()
    for case in ("duplicate_ids", "binary_in_folder", "non_utf8_jsonl", "empty_file"):
        case_dir = tmp_path / case
        case_dir.mkdir()
        path, _ = CASES[case](case_dir)
        assert main(_cli(path)) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and str(path.name) in err, err
