"""Publishing the built site to a branch of a git remote (the ``gh-pages`` convention; a Hugging
Face Space is a git remote too): ``domainteb leaderboard ... publish=<remote>[#branch]``.

The branch is fetched into a private temporary repository, its tree replaced by the site, and
a commit is pushed on top of it (a fast-forward: never a force push, so history is kept and no
other branch of the remote is touched). Nothing is committed when the site did not change.
Uses the ``git`` command line; the remote's credentials are git's own (helpers, SSH keys).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from domainteb.core.errors import ConfigError, DomainTebError

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "gh-pages"
#: identity used for the commit when git has none configured
AUTHOR = ("domainteb", "domainteb@localhost")


@dataclass
class Published:
    remote: str
    branch: str
    commit: str
    changed: bool
    n_files: int


def parse_target(target: str) -> tuple[str, str]:
    """``<remote>[#branch]`` → (remote, branch); the branch defaults to ``gh-pages``."""
    remote, sep, branch = str(target).strip().partition("#")
    remote, branch = remote.strip(), (branch.strip() if sep else DEFAULT_BRANCH)
    if not remote:
        raise ConfigError("publish= needs a git remote: publish=<url or path>[#branch], e.g. publish=git@host:me/board.git#gh-pages")
    if remote.startswith("-"):
        raise ConfigError(f"publish={target!r}: a remote cannot start with '-'; pass a URL or a path")
    if not branch or branch.startswith("-") or _git(["check-ref-format", "--branch", branch], check=False).returncode != 0:
        raise ConfigError(f"publish={target!r}: {branch!r} is not a valid branch name; use e.g. #gh-pages")
    return remote, branch


def _git(args: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise DomainTebError("publishing needs the git command line; install git (apt-get install git)")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DomainTebError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc


def _copy_tree(site: Path, work: Path) -> int:
    """Make ``work``'s files exactly the site's (``.git`` kept); returns the number of files."""
    for child in work.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    n = 0
    for path in sorted(site.rglob("*")):
        if path.is_symlink():
            log.warning("publish: %s is a symlink, not published", path)
            continue
        rel = path.relative_to(site)
        if rel.parts[0] == ".git":
            continue
        dest = work / rel
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif path.is_file() and not path.name.startswith("."):  # dot files: temporaries of atomic writes
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            n += 1
    (work / ".nojekyll").write_text("")  # serve assets/ and data/ as they are on GitHub Pages
    return n


def publish_site(site_dir: str | Path, target: str, message: str = "domainteb leaderboard") -> Published:
    """Commit the site in ``site_dir`` to ``target`` (``<remote>[#branch]``) and push it."""
    site = Path(site_dir)
    if not (site / "index.html").is_file():
        raise DomainTebError(f"{site}: no index.html; build the site first (domainteb leaderboard output_dir={site})")
    remote, branch = parse_target(target)
    with tempfile.TemporaryDirectory(prefix="domainteb-publish-") as tmp:
        work = Path(tmp)
        _git(["init", "-q", str(work)])
        _git(["remote", "add", "origin", remote], cwd=work)
        exists = _git(["ls-remote", "--exit-code", "--heads", "origin", branch], cwd=work, check=False)
        if exists.returncode not in (0, 2):
            detail = (exists.stderr or "").strip().splitlines()
            raise DomainTebError(f"publish: cannot reach git remote {remote!r}: {detail[-1] if detail else 'unknown error'}")
        if exists.returncode == 0:
            _git(["fetch", "-q", "--depth", "1", "origin", f"refs/heads/{branch}"], cwd=work)
            _git(["checkout", "-q", "-B", branch, "FETCH_HEAD"], cwd=work)
        else:
            _git(["checkout", "-q", "--orphan", branch], cwd=work)
        n_files = _copy_tree(site, work)
        _git(["add", "-A"], cwd=work)
        status = _git(["status", "--porcelain"], cwd=work).stdout.strip()
        if not status:
            head = _git(["rev-parse", "HEAD"], cwd=work).stdout.strip()
            log.info("publish: %s#%s is already up to date (%s)", remote, branch, head[:10])
            return Published(remote, branch, head, False, n_files)
        configured = _git(["config", "user.email"], cwd=work, check=False).stdout.strip()
        identity = [] if configured else ["-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}"]
        _git([*identity, "commit", "-q", "-m", message], cwd=work)
        head = _git(["rev-parse", "HEAD"], cwd=work).stdout.strip()
        _git(["push", "-q", "origin", f"HEAD:refs/heads/{branch}"], cwd=work)
    log.info("publish: pushed %s to %s#%s", head[:10], remote, branch)
    return Published(remote, branch, head, True, n_files)
