"""``publish=<remote>[#branch]`` against a real local bare repository: the site lands on its own
branch, commits stack up incrementally, an unchanged site commits nothing, other branches stay."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from results_factory import write_score

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.eval.leaderboard import build_site
from domainteb.eval.leaderboard.publish import parse_target, publish_site

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command line")


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository whose main branch already holds the project's code."""
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("the project\n")
    git("add", "README.md", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "code", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


def test_publish_commits_incrementally_to_its_own_branch(results_dir: Path, tmp_path: Path, remote: Path) -> None:
    main_before = git("rev-parse", "refs/heads/main", cwd=remote)
    site = build_site(results_dir, tmp_path / "site", n_boot=200).parent
    first = publish_site(site, f"{remote}#gh-pages")
    assert first.changed and first.branch == "gh-pages" and first.n_files >= 8
    files = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).splitlines()
    assert {"index.html", "finance.html", "data/finance.json", "assets/leaderboard.js", ".nojekyll"} <= set(files)
    assert any(f.startswith("plots/finance-") and f.endswith(".svg") for f in files)
    assert "README.md" not in files  # the site branch holds the site only

    again = publish_site(site, f"{remote}#gh-pages")  # nothing changed: nothing committed
    assert not again.changed and again.commit == first.commit

    write_score(results_dir, "bm25", "FinNew", [0.1, 0.2])
    build_site(results_dir, site, n_boot=200)
    third = publish_site(site, f"{remote}#gh-pages")
    assert third.changed
    log = git("log", "--format=%H", "gh-pages", cwd=remote).splitlines()
    assert log == [third.commit, first.commit]  # a fast-forward on top, history kept
    assert git("rev-parse", "refs/heads/main", cwd=remote) == main_before  # other branches untouched
    assert "FinNew" in json.loads(git("show", "gh-pages:data/finance.json", cwd=remote))["scores"]["bm25"]


def test_publish_default_branch_and_stage(results_dir: Path, tmp_path: Path, remote: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from domainteb.eval.leaderboard.stage import run

    with initialize_config_module(config_module="domainteb.conf", version_base=None):
        cfg = compose("leaderboard", overrides=[f"results_dir={results_dir}", f"output_dir={tmp_path / 'site'}",
                                                f"publish={remote}", "n_boot=200"])
    assert run(cfg) == 0
    assert "published to" in capsys.readouterr().out
    assert git("rev-parse", "--verify", "refs/heads/gh-pages", cwd=remote)  # the gh-pages convention


def test_publish_bad_targets(tmp_path: Path, results_dir: Path) -> None:
    assert parse_target("/x/y.git") == ("/x/y.git", "gh-pages")
    assert parse_target("https://host/me/board.git#pages") == ("https://host/me/board.git", "pages")
    for bad, why in (("", "needs a git remote"), ("--upload-pack=evil", "cannot start with '-'"),
                     ("/x.git#bad..name", "not a valid branch"), ("/x.git#-x", "not a valid branch")):
        with pytest.raises(ConfigError, match=why):
            parse_target(bad)
    site = build_site(results_dir, tmp_path / "site", n_boot=200).parent
    with pytest.raises(DomainTebError, match="cannot reach git remote"):
        publish_site(site, f"{tmp_path / 'missing.git'}#gh-pages")
    with pytest.raises(DomainTebError, match="no index.html"):
        publish_site(tmp_path, f"{tmp_path}#gh-pages")
