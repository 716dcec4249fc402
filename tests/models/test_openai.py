"""``openai:<model>`` against a real OpenAI-compatible embeddings server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from domainteb.core.errors import DomainTebError, ModelLoadError
from domainteb.eval.models import load_model
from domainteb.eval.models.openai_api import OpenAIEmbeddingEncoder


def vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).standard_normal(6) * 3).tolist()


class EmbeddingServer(ThreadingHTTPServer):
    """Serves ``/v1/embeddings``; ``faults`` lists status codes to answer before succeeding."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.faults: list[int] = []
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.keys: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: EmbeddingServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.server.statuses.append(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.keys.append(self.headers.get("Authorization", ""))
        if self.path != "/v1/embeddings":
            return self._reply(404, {"error": {"message": "not found"}})
        if self.headers.get("Authorization") == "Bearer bad-key":
            return self._reply(401, {"error": {"message": "invalid key", "type": "invalid_request_error"}})
        if body["model"] != "tiny-embed":
            return self._reply(404, {"error": {"message": "model not found"}})
        if self.server.faults:
            status = self.server.faults.pop(0)
            return self._reply(status, {"error": {"message": f"injected {status}"}}, {"retry-after-ms": "10"})
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(body["input"])]
        data.reverse()  # the client must order by index
        self._reply(200, {"object": "list", "data": data, "model": body["model"],
                          "usage": {"prompt_tokens": 1, "total_tokens": 1}})


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    srv = EmbeddingServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def test_batches_orders_and_normalises(server: EmbeddingServer, monkeypatch) -> None:
    monkeypatch.setenv("DOMAINTEB_EMBEDDINGS_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    enc = OpenAIEmbeddingEncoder("tiny-embed", batch_size=3)
    texts = [f"text {i}" for i in range(7)]
    out = enc.encode(texts)
    assert out.shape == (7, 6) and out.dtype == np.float32
    expected = np.asarray([vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert [len(r["input"]) for r in server.requests] == [3, 3, 1]
    assert server.keys[0] == "Bearer sk-test-secret"
    info = enc.model_info()
    assert info["labels"] == ["api"] and info["embed_dim"] == 6
    assert "sk-test-secret" not in json.dumps(info) + repr(vars(enc))


def test_retries_429_and_500_then_succeeds(server: EmbeddingServer, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.delenv("DOMAINTEB_EMBEDDINGS_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # local server: no key needed
    server.faults = [429, 500]
    enc = OpenAIEmbeddingEncoder("tiny-embed", backoff_s=0.01)
    out = enc.encode(["a", "b"])
    assert server.statuses == [429, 500, 200]
    assert enc.n_retries == 2 and out.shape == (2, 6)


def test_gives_up_after_bounded_retries(server: EmbeddingServer) -> None:
    server.faults = [503] * 10
    enc = OpenAIEmbeddingEncoder("tiny-embed", base_url=server.url, api_key="k", max_attempts=3, backoff_s=0.01)
    with pytest.raises(DomainTebError, match="kept failing .* after 3 attempts"):
        enc.encode(["a"])
    assert server.statuses == [503, 503, 503]


def test_user_errors_are_one_line(server: EmbeddingServer) -> None:
    with pytest.raises(ModelLoadError, match="rejected the key"):
        OpenAIEmbeddingEncoder("tiny-embed", base_url=server.url, api_key="bad-key").encode(["a"])
    with pytest.raises(ModelLoadError, match="no embedding model 'nope'"):
        OpenAIEmbeddingEncoder("nope", base_url=server.url, api_key="k").encode(["a"])
    assert len(server.requests) == 2  # 4xx other than 429 is not retried


def test_missing_key_for_the_openai_api(monkeypatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DOMAINTEB_EMBEDDINGS_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ModelLoadError, match="OPENAI_API_KEY is not set"):
        load_model("openai:text-embedding-3-small")


def test_load_model_caches_api_embeddings(server: EmbeddingServer, monkeypatch, cache_dir) -> None:
    monkeypatch.setenv("DOMAINTEB_EMBEDDINGS_BASE_URL", server.url)
    model = load_model("openai:tiny-embed", cache_dir=cache_dir)
    first = model.encode(["x", "y"], prompt_type="query")
    again = load_model("openai:tiny-embed", cache_dir=cache_dir)
    np.testing.assert_array_equal(again.encode(["y", "x"], prompt_type="query"), first[::-1])
    assert len(server.requests) == 1 and again.stats.hits == 2
    assert model.name == "openai:tiny-embed" and model.revision == f"api@{server.url}"
