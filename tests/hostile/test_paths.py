"""Path traversal: names read from data never choose where a file is written (issue 12, "Security").

Hostile names (``../../../outside/x``, absolute paths, NUL bytes, overlong names, unicode
look-alikes of ``/`` and ``.``) in a task folder's ``domainteb.json``, in result files given to
``leaderboard``/summaries, and symlinks inside an output folder: every case ends in a one-line
error (or a skipped file with a warning) and 0 files outside the output root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from domainteb.core.errors import TaskDataError
from domainteb.core.io import atomic_write_json, atomic_write_text
from domainteb.core.paths import UnsafePathError, check_name, ensure_under, join_under, slug
from domainteb.core.results import make_result, result_path, write_result

from .conftest import run_cli

HOSTILE_NAMES = [
    "../../../outside/x",
    "..",
    ".",
    "",
    "/tmp/absolute-target",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "x" * 300,
    "．．／．．／outside",  # fullwidth full stops and solidus (NFKC → ../../outside)
    "‥／outside",  # two-dot leader + fullwidth solidus
    "a∕b",  # U+2215 DIVISION SLASH looks like '/'
    "evil\u202etxt.json",  # right-to-left override
    "line\nbreak",
    " padded",
    ".hidden",
    "C:evil",
    "~root",
    "a:b",
    "<script>",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:30])
def test_check_name_refuses_hostile_names_in_one_line(name: str) -> None:
    with pytest.raises(UnsafePathError) as err:
        check_name(name, field="name", where="tasks/x/domainteb.json")
    message = str(err.value)
    assert isinstance(err.value, TaskDataError)  # user input: exit status 2
    assert "\n" not in message and "tasks/x/domainteb.json" in message and "'name'" in message


@pytest.mark.parametrize("name", ["MedICD10SynonymRetrieval", "finance", "Café-2 (v1)", "FinQA_v2.1", "Химия"])
def test_check_name_keeps_ordinary_names(name: str) -> None:
    assert check_name(name, field="name") == name


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "openai:text-embedding-3-small", "org/model@rev"])
def test_slug_is_always_one_safe_component(name: str, tmp_path: Path) -> None:
    component = slug(name)
    assert component and component not in (".", "..") and "/" not in component and "\x00" not in component
    assert len(component.encode()) <= 100 and not component.startswith(".")
    assert ensure_under(tmp_path, tmp_path / component / "task.json")


def test_slug_keeps_known_names_and_separates_long_ones() -> None:
    assert slug("openai:text-embedding-3-small") == "openai__text-embedding-3-small"
    assert slug("minilm-l6") == "minilm-l6"
    assert slug("a" * 300 + "1") != slug("a" * 300 + "2")


def test_result_path_refuses_a_traversing_task_name_and_slugs_the_model(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        result_path(tmp_path, "bm25", "../../../outside/x")
    path = result_path(tmp_path, "../../..", "task")
    assert path.resolve().parent.parent == tmp_path.resolve()


@pytest.mark.parametrize("model", ["../../../outside/m", "/abs/model", "..", "nul\x00m", "．．／m", "m" * 400])
def test_hostile_model_names_stay_inside_the_output_folder(model: str, out_dir: Path, outside_guard) -> None:
    """A model's name comes from its folder's domainteb_model.json or a hub id: it is slugged, never joined raw."""
    path = write_result(out_dir, _result(model=model))  # type: ignore[arg-type]
    assert path.resolve().parent.parent == out_dir.resolve() and path.is_file()
    assert outside_guard(out_dir) == []


def _result(task_name: str = "T", domain: str = "finance", model: str = "m") -> object:
    return make_result(task_name=task_name, task_type="Retrieval", domain=domain, dataset_revision="r",
                       scores={"test": {"main_score": 0.5, "ndcg_at_10": 0.5}}, evaluation_time=1.0,
                       model={"name": model, "revision": "rev"})


def test_eval_refuses_traversing_name_in_domainteb_json(task_folder, out_dir: Path, outside_guard, capsys) -> None:
    folder = task_folder(name="../../../outside/x", domain="finance")
    status = run_cli("eval", f"task={folder}", "model=bm25", f"output_dir={out_dir}")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "domainteb.json" in err and "'name'" in err and "Traceback" not in err
    assert outside_guard(out_dir) == []


def test_eval_refuses_absolute_domain_in_domainteb_json(task_folder, tmp_path: Path, out_dir: Path, outside_guard, capsys) -> None:
    folder = task_folder(name="fine", domain=str(tmp_path / "abs-domain"))
    status = run_cli("eval", f"task={folder}", "model=bm25", f"output_dir={out_dir}")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "'domain'" in err and "Traceback" not in err
    assert outside_guard(out_dir) == [] and not (tmp_path / "abs-domain").exists()


def _hostile_result_file(results: Path, **kw: str) -> Path:
    """A result file as someone else might hand it over (written directly, not by domainteb)."""
    record = _result(**kw).model_dump(mode="json")  # type: ignore[attr-defined]
    path = results / "m" / "hostile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def test_leaderboard_skips_result_with_traversing_domain(tmp_path: Path, out_dir: Path, outside_guard, caplog) -> None:
    from domainteb.eval.leaderboard.build import build_site

    results = tmp_path / "results"
    write_result(results, _result(task_name="Good", domain="finance"))  # type: ignore[arg-type]
    _hostile_result_file(results, task_name="Evil", domain="../../../outside/x")
    outside_guard.reset()
    index = build_site(results, out_dir)
    assert index.is_file() and (out_dir / "finance.html").is_file()
    assert outside_guard(out_dir) == []
    assert not any("outside" in str(p) for p in out_dir.rglob("*"))


def test_summary_refuses_result_with_traversing_domain(tmp_path: Path, out_dir: Path, outside_guard) -> None:
    from domainteb.eval.summary import write_summaries

    hostile = _hostile_result_file(tmp_path / "results", domain="../../../outside/x")
    outside_guard.reset()
    with pytest.raises(UnsafePathError, match="hostile.json"):
        write_summaries([hostile], out_dir)
    assert outside_guard(out_dir) == []


def test_writer_refuses_dotdot_and_absolute_targets(tmp_path: Path, out_dir: Path, outside_guard) -> None:
    for target in (out_dir / ".." / "escape.txt", tmp_path / "abs.txt", out_dir / "a" / ".." / ".." / "up.txt"):
        with pytest.raises(UnsafePathError):
            atomic_write_text(target, "x", root=out_dir)
    with pytest.raises(UnsafePathError):
        join_under(out_dir, "data", "../../x.json")
    assert outside_guard(out_dir) == []


def test_symlinked_output_subfolder_is_refused(tmp_path: Path, out_dir: Path) -> None:
    """A link inside the output folder that leads elsewhere is not followed by the writer."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out_dir / "summary").symlink_to(elsewhere, target_is_directory=True)
    from domainteb.eval.summary import write_summaries

    good = write_result(tmp_path / "res", _result())  # type: ignore[arg-type]
    with pytest.raises(UnsafePathError, match="symlink"):
        write_summaries([good], out_dir)
    (out_dir / "m").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        write_result(out_dir, _result())  # type: ignore[arg-type]
    assert list(elsewhere.iterdir()) == []


def test_symlinked_output_file_is_refused(tmp_path: Path, out_dir: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    (out_dir / "report.json").symlink_to(victim)
    with pytest.raises(UnsafePathError):
        atomic_write_json(out_dir / "report.json", {"x": 1}, root=out_dir)
    assert victim.read_text() == "keep me"


def test_symlinked_output_root_itself_is_allowed(tmp_path: Path) -> None:
    """The user may point output_dir at a symlink; only links *inside* it are refused."""
    real = tmp_path / "real-out"
    real.mkdir()
    link = tmp_path / "link-out"
    link.symlink_to(real, target_is_directory=True)
    path = write_result(link, _result())  # type: ignore[arg-type]
    assert (real / "m" / "T.json").is_file() and path.name == "T.json"


def test_traversing_split_name_is_refused_before_reading(task_folder, tmp_path: Path) -> None:
    from domainteb.core.taskio import load_task_folder

    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"sentence1": "a", "sentence2": "b", "score": 1}\n')
    folder = task_folder(name="sts", eval_splits=[os.path.relpath(tmp_path / "secret", tmp_path / "tasks" / "t0")])
    with pytest.raises(UnsafePathError, match="eval_splits"):
        load_task_folder(folder)
