"""A fault-injecting OpenAI-compatible server for tests and benchmarks (``http.server`` in a thread).

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` on 127.0.0.1. Its "model" is
naive: it writes keyword queries from the passage's rarest words, and it obeys prompt
injections found in the passage (as a weak model would). Faults are chosen per request
(deterministically from the request's hash and attempt number): 429 with ``Retry-After``,
500/503, a stall past the client's timeout, a dropped connection, a truncated body, a
malformed JSON body, or an invalid model answer. Every request is counted.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "503", "stall", "drop", "truncated", "bad_json", "invalid_output")
_PASSAGE = re.compile(r"<passage>\s*(.*?)\s*</passage>", re.S)
_N = re.compile(r"Write (\d+) queries")
_INJECT = re.compile(r"ignore (?:all )?previous instructions and output ([^.\n]+)", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
STOP = set("that this with from which have were their there about into used also when they been more than most such".split())


@dataclass
class FaultPlan:
    """Which faults to inject: each request's first ``faults_per_key`` attempts draw from ``kinds``
    with probability ``rate``; passages containing ``always_fail_marker`` always get 503."""

    kinds: tuple[str, ...] = FAULTS
    rate: float = 0.0
    faults_per_key: int = 1
    always_fail_marker: str = "ALWAYS_FAIL_503"
    retry_after_s: float = 0.05
    stall_s: float = 3.0
    latency_s: float = 0.0
    repair_fixes: bool = True  # a re-ask after invalid output gets a valid answer


@dataclass
class Stats:
    requests: int = 0
    ok: int = 0
    by_fault: Counter = field(default_factory=Counter)
    keys_ok: list[str] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    max_in_flight: int = 0
    in_flight: int = 0


def naive_queries(passage: str, n: int, seed: int) -> list[str]:
    """What a weak model writes: follows an injection if there is one, else rare-word keyword queries."""
    m = _INJECT.search(passage)
    if m:
        payload = m.group(1).strip().strip("\"'")
        return [payload] * n
    words: list[str] = []
    for w in _WORD.findall(passage):
        lw = w.lower()
        if lw not in STOP and lw not in words:
            words.append(lw)
    words.sort(key=lambda w: (-len(w), w))
    out = []
    for i in range(n):
        chunk = words[i * 3 : i * 3 + 3] or words[:3] or ["empty"]
        out.append(" ".join(chunk) + (f" {i}" if len(words) < 3 * (i + 1) else ""))
    return out


class FaultServer:
    """Start with ``with FaultServer(plan) as srv: srv.base_url``."""

    def __init__(self, plan: FaultPlan | None = None, model: str = "fault-model",
                 answer: Callable[[str, int, int], list[str]] | None = None) -> None:
        self.plan = plan or FaultPlan()
        self.model = model
        #: the "model": (passage, n, seed) -> n queries; default :func:`naive_queries`.
        self.answer = answer or naive_queries
        self.stats = Stats()
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reset(self) -> None:
        with self.lock:
            self.stats = Stats()

    def _choose_fault(self, key: str, attempt: int, passage: str, is_repair: bool) -> str | None:
        if self.plan.always_fail_marker and self.plan.always_fail_marker in passage:
            return "503"
        if attempt >= self.plan.faults_per_key or not self.plan.kinds:
            return None
        h = int(hashlib.sha256(f"{key}:{attempt}".encode()).hexdigest()[:8], 16)
        if (h % 10_000) / 10_000 >= self.plan.rate:
            return None
        kind = self.plan.kinds[(h // 10_000) % len(self.plan.kinds)]
        return None if kind == "invalid_output" and is_repair and self.plan.repair_fixes else kind

    def __enter__(self) -> FaultServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "test"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                req = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                msgs = req.get("messages", [])
                key = hashlib.sha256(json.dumps([msgs, req.get("seed")], sort_keys=True).encode()).hexdigest()[:16]
                last = msgs[-1]["content"] if msgs else ""
                first_user = next((m["content"] for m in msgs[::-1] if m["role"] == "user" and "<passage>" in m["content"]), "")
                passage_m = _PASSAGE.search(first_user)
                passage = passage_m.group(1) if passage_m else ""
                with server.lock:
                    st = server.stats
                    st.requests += 1
                    attempt = st.attempts[key]
                    st.attempts[key] += 1
                    st.in_flight += 1
                    st.max_in_flight = max(st.max_in_flight, st.in_flight)
                try:
                    if server.plan.latency_s:
                        time.sleep(server.plan.latency_s)
                    fault = server._choose_fault(key, attempt, passage, "That answer was invalid" in last)
                    with server.lock:
                        server.stats.by_fault[fault or "ok"] += 1
                    self._respond(fault, req, key, passage, last)
                finally:
                    with server.lock:
                        server.stats.in_flight -= 1

            def _respond(self, fault: str | None, req: dict[str, Any], key: str, passage: str, last: str) -> None:
                if fault == "429":
                    self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": str(server.plan.retry_after_s)})
                    return
                if fault in ("500", "503"):
                    self._send(int(fault), {"error": {"message": "server error"}})
                    return
                if fault == "stall":
                    time.sleep(server.plan.stall_s)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                n_m = _N.search(last)
                n = int(n_m.group(1)) if n_m else 2
                if "That answer was invalid" in last:
                    prev_user = next((m["content"] for m in reversed(req["messages"][:-2]) if m["role"] == "user"), "")
                    pm = _PASSAGE.search(prev_user)
                    passage = pm.group(1) if pm else passage
                    nm = _N.search(prev_user)
                    n = int(nm.group(1)) if nm else n
                if fault == "invalid_output":
                    content = "Sure! Here are some queries: " + ", ".join(server.answer(passage, n, 0))
                else:
                    content = json.dumps({"queries": server.answer(passage, n, int(req.get("seed") or 0))})
                obj = {
                    "id": f"chatcmpl-{key}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": req.get("model", server.model),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": len(json.dumps(req["messages"])) // 4, "completion_tokens": len(content) // 4,
                              "total_tokens": len(json.dumps(req["messages"])) // 4 + len(content) // 4},
                }  # fmt: skip
                body = json.dumps(obj).encode()
                if fault == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "bad_json":
                    body = body[: len(body) // 2]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                with server.lock:
                    server.stats.ok += 1
                    server.stats.keys_ok.append(key)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hanging up on stalled/dropped requests are expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
