"""Shared fixtures of the hostile-input suite: tiny task folders, a loopback embeddings server,
the CLI run in-process, and a check that nothing was written outside an output root."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CORPUS = {
    "d1": "Metformin lowers blood glucose in type 2 diabetes.",
    "d2": "Bond yields rise when inflation expectations increase.",
    "d3": "Sodium chloride dissolves readily in water.",
    "d4": "Aspirin inhibits platelet aggregation.",
    "d5": "A balance sheet lists assets, liabilities and equity.",
}
QUERIES = {"q1": "diabetes drug glucose", "q2": "inflation and bond yields", "q3": "salt in water"}
QRELS = {"q1": "d1", "q2": "d2", "q3": "d3"}


def write_task_folder(folder: Path, **metadata: Any) -> Path:
    """A 5-document BEIR retrieval folder with a ``domainteb.json`` carrying ``metadata``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in CORPUS.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items()))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items())
    )
    (folder / "domainteb.json").write_text(json.dumps({"type": "Retrieval", **metadata}))
    return folder


@pytest.fixture
def task_folder(tmp_path: Path) -> Callable[..., Path]:
    """``task_folder(name=..., domain=...)`` → a task folder under ``tmp_path/tasks``."""
    counter = iter(range(1000))

    def make(**metadata: Any) -> Path:
        return write_task_folder(tmp_path / "tasks" / f"t{next(counter)}", **metadata)

    return make


def run_cli(*args: str) -> int:
    from domainteb.cli import main

    return main([*args, "mlflow.enabled=false"])


def snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An output root three levels below ``tmp_path``, so ``../../../x`` escapes still land inside ``tmp_path``."""
    path = tmp_path / "work" / "deep" / "out"
    path.mkdir(parents=True)
    return path


class OutsideGuard:
    """``guard(output_root)`` → files created under ``tmp_path`` since the last ``guard.reset()``
    (or the test's start) that lie outside ``output_root`` and outside the input task folders."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.reset()

    def reset(self) -> None:
        self.before = snapshot(self.tmp_path)

    def __call__(self, output_root: Path) -> list[Path]:
        root = output_root.resolve()
        created = snapshot(self.tmp_path) - self.before
        return sorted(p for p in created
                      if root not in p.resolve().parents and (self.tmp_path / "tasks") not in p.parents)


@pytest.fixture
def outside_guard(tmp_path: Path) -> OutsideGuard:
    return OutsideGuard(tmp_path)


def vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(8).tolist()


class EmbeddingServer(ThreadingHTTPServer):
    """A real OpenAI-compatible ``/v1/embeddings`` endpoint on 127.0.0.1 (any key accepted)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: EmbeddingServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests += 1
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = json.dumps({"object": "list", "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1},
                           "data": [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(inputs)]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    srv = EmbeddingServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def minilm_l3_folder() -> Path:
    """The real 3-layer MiniLM as a sentence-transformers folder (built once into the test cache)."""
    from domainteb.eval.models.build import materialize
    from domainteb.eval.models.spec import get_spec

    return materialize(get_spec("minilm-l3"))
