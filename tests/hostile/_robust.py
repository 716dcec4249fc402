"""Shared helpers of the robustness tests (engineer "robust"): tiny task folders, loopback servers
that refuse or hang, and the real CLI driven in a subprocess.

CLI start-up is slow on 2 cores, so :func:`run_batch` runs several ``domainteb`` command lines in
ONE subprocess through the console script's own entry point (``domainteb.cli:main``) and returns
each one's exit status, stdout and stderr; :func:`run_cli` runs the installed console script.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("domainteb")

DOCS = [
    ("d1", "Metformin lowers blood glucose in type 2 diabetes."),
    ("d2", "Aspirin reduces fever and mild pain."),
    ("d3", "Insulin is a hormone made by the pancreas."),
    ("d4", "Statins lower LDL cholesterol in the blood."),
    ("d5", "Warfarin is an anticoagulant that prevents clots."),
]
QUERIES = [
    ("q1", "which drug lowers blood glucose"),
    ("q2", "medicine for fever"),
    ("q3", "hormone produced by the pancreas"),
    ("q4", "drug that lowers cholesterol"),
    ("q5", "blood thinner preventing clots"),
]


def make_beir(folder: Path, qrels: Sequence[tuple[str, str, str]] | None = None, corpus_bytes: bytes | None = None) -> Path:
    """A tiny BEIR folder (5 documents, 5 queries); ``qrels`` rows and raw corpus bytes may be replaced."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in DOCS).encode()
    (folder / "corpus.jsonl").write_bytes(corpus_bytes if corpus_bytes is not None else corpus)
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES))
    write_qrels(folder, qrels or [(q, d, "1") for (q, _), (d, _) in zip(QUERIES, DOCS)])
    return folder


def write_qrels(folder: Path, rows: Sequence[tuple[str, str, str]]) -> None:
    lines = ["query-id\tcorpus-id\tscore", *("\t".join(r) for r in rows)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")


def make_sts(folder: Path, scores: Sequence[float], params: dict[str, Any] | None = None, name: str | None = None) -> Path:
    """A tiny STS task folder (domainteb.json + test.jsonl)."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [("a cat sits on the mat", "a cat is on the mat"), ("stocks fell sharply", "markets dropped"),
             ("the drug lowers glucose", "glucose is reduced by the drug"), ("it is raining", "the sun is out"),
             ("insulin regulates sugar", "sugar levels are controlled by insulin"), ("a dog barks", "tax rates rose")]
    rows = [{"sentence1": a, "sentence2": b, "score": s} for (a, b), s in zip(pairs, scores)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta: dict[str, Any] = {"type": "STS", "params": params or {"min_score": 0, "max_score": 5}}
    if name:
        meta["name"] = name
    (folder / "domainteb.json").write_text(json.dumps(meta))
    return folder


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def hanging_server() -> Iterator[int]:
    """A real loopback TCP server that accepts connections and never answers; yields its port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()


@dataclass
class CliRun:
    args: list[str]
    rc: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ.copy()
    env.update({"COLUMNS": "200", "NO_COLOR": "1", **(extra or {})})
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> CliRun:
    """The installed console script ``domainteb`` in a subprocess."""
    proc = subprocess.run([str(CONSOLE_SCRIPT), *args], cwd=cwd, env=_env(env), capture_output=True, text=True,
                          timeout=timeout)
    return CliRun(list(args), proc.returncode, proc.stdout, proc.stderr)


_BATCH = r"""
import contextlib, io, json, sys, traceback
from domainteb.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = -1
    results.append({"args": args, "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()})
sys.stdout.write("\n@@RESULTS@@" + json.dumps(results))
"""


def run_batch(cases: Sequence[Sequence[str]], *, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 300) -> list[CliRun]:
    """Several ``domainteb`` command lines (argument lists without the program name) in one subprocess.

    Each result's stderr also carries anything the process wrote to its real stderr, so a
    traceback printed outside the captured streams still shows up.
    """
    proc = subprocess.run([sys.executable, "-c", _BATCH, json.dumps([list(c) for c in cases])], cwd=cwd,
                          env=_env(env), capture_output=True, text=True, timeout=timeout)
    assert "@@RESULTS@@" in proc.stdout, f"batch crashed (rc {proc.returncode}): {proc.stderr[-3000:]}"
    records = json.loads(proc.stdout.split("@@RESULTS@@", 1)[1])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return [CliRun(r["args"], r["rc"], r["stdout"], r["stderr"]) for r in records]


def assert_one_line_error(run: CliRun, *needles: str) -> str:
    """Exactly one ``error:`` line, no traceback, mentioning every needle; returns the line."""
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.error_lines()
    assert len(lines) == 1, (run.args, run.stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
