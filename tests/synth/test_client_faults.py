"""The client against the fault-injecting server: every fault kind is retried to success,
Retry-After is honoured, permanent failures raise RequestFailed, bad keys stop the run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fault_server import FAULTS

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.synth.cache import ResponseCache
from domainteb.synth.client import LLMClient, LLMSettings, RequestFailed
from domainteb.synth.prompts import output_schema

MSGS = [{"role": "user", "content": "<passage>\nIron is used in steel and hemoglobin.\n</passage>\nWrite 2 queries:"}]


def _client(tmp_path: Path, url: str, **kw: object) -> LLMClient:
    s = LLMSettings(model="fault-model", base_urls=[url], timeout_s=0.5, max_retries=3, backoff_base_s=0.01, backoff_max_s=1.0)
    for k, v in kw.items():
        setattr(s, k, v)
    return LLMClient(s, ResponseCache(tmp_path / "responses.jsonl"))


async def _chat(client: LLMClient, seed: int = 1):  # type: ignore[no-untyped-def]
    try:
        return await client.chat(MSGS, seed, output_schema(2))
    finally:
        await client.aclose()


@pytest.mark.parametrize("kind", [k for k in FAULTS if k != "invalid_output"])
def test_each_transport_fault_is_retried(tmp_path: Path, fault_server, kind: str) -> None:  # type: ignore[no-untyped-def]
    srv = fault_server(kinds=(kind,), rate=1.0, faults_per_key=2, stall_s=1.0)
    client = _client(tmp_path, srv.base_url)
    resp, cached = asyncio.run(_chat(client))
    assert not cached and '"queries"' in resp.content
    assert srv.stats.requests == 3 and client.stats.retries == 2
    assert sum(client.stats.errors.values()) == 2
    assert client.stats.prompt_tokens > 0


def test_retry_after_is_honoured(tmp_path: Path, fault_server) -> None:  # type: ignore[no-untyped-def]
    srv = fault_server(kinds=("429",), rate=1.0, faults_per_key=1, retry_after_s=0.6)
    client = _client(tmp_path, srv.base_url, backoff_base_s=0.001)
    t = time.monotonic()
    asyncio.run(_chat(client))
    assert time.monotonic() - t >= 0.6
    assert client.stats.errors["http_429"] == 1


def test_cache_hit_makes_no_call_and_permanent_failure_raises(tmp_path: Path, fault_server) -> None:  # type: ignore[no-untyped-def]
    srv = fault_server()
    asyncio.run(_chat(_client(tmp_path, srv.base_url)))
    client = _client(tmp_path, srv.base_url)
    _, cached = asyncio.run(_chat(client))
    assert cached and srv.stats.requests == 1 and client.stats.cache_hits == 1
    srv2 = fault_server(kinds=("503",), rate=1.0, faults_per_key=99)
    client = _client(tmp_path / "b", srv2.base_url, max_retries=2)
    with pytest.raises(RequestFailed, match="http_503 after 3 attempt"):
        asyncio.run(_chat(client))
    assert srv2.stats.requests == 3


def test_missing_key_env_and_refused_key(tmp_path: Path, fault_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    srv = fault_server()
    with pytest.raises(ConfigError, match="MY_LLM_KEY is not set"):
        _client(tmp_path, srv.base_url, api_key_env="MY_LLM_KEY")
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class Deny(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"error": {"message": "bad key"}}'
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    secret = "sk-test-SECRETSECRET1234"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    try:
        client = _client(tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}/v1", api_key_env="MY_LLM_KEY")
        with pytest.raises(DomainTebError, match="refused the API key") as err:
            asyncio.run(_chat(client))
        assert secret not in str(err.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
