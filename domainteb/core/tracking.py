"""MLflow tracking for every stage: one run per evaluation/synth/adapt step, nested under a
pipeline parent when there is one.

The store is ``./mlruns`` (a local file store) unless ``MLFLOW_TRACKING_URI`` or the
``mlflow.tracking_uri`` config says otherwise. Secrets never reach MLflow: params are
flattened and every key that looks like a credential, and every URL's user-info or
token query, is redacted.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|authorization|bearer|credential)", re.I)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
_URL_SECRET_QUERY = re.compile(r"([?&](?:api[_-]?key|key|token|access_token|sig)=)[^&\s]+", re.I)
_BEARERISH = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{8,})\b")

REDACTED = "***"


def redact_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _URL_USERINFO.sub(r"\g<scheme>" + REDACTED + "@", value)
    value = _URL_SECRET_QUERY.sub(r"\1" + REDACTED, value)
    return _BEARERISH.sub(REDACTED, value)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping → ``a.b.c`` keys with secrets redacted."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{full}."))
        elif _SECRET_KEY.search(str(key)):
            out[full] = REDACTED if value not in (None, "") else value
        elif isinstance(value, (list, tuple)):
            out[full] = redact_value(",".join(map(str, value)))
        else:
            out[full] = redact_value(value)
    return out


def redact_tree(obj: Any) -> Any:
    """A copy of a nested config/record with the same redaction as :func:`flatten` (shape kept),
    for everything written to disk (result JSON, ``done.json``, leaderboard data). Under a
    secret-looking key only text is replaced (``max_tokens: 128`` is a number, not a secret)."""
    if isinstance(obj, Mapping):
        return {
            key: (REDACTED if isinstance(value, str) and value else redact_tree(value))
            if _SECRET_KEY.search(str(key)) else redact_tree(value)
            for key, value in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact_tree(v) for v in obj]
    return redact_value(obj)


def default_tracking_uri() -> str:
    return normalize_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or "mlruns")


def normalize_tracking_uri(uri: str) -> str:
    """A local folder (plain path or ``file:`` URI) becomes a SQLite store inside it.

    MLflow 3 keeps its file store in maintenance mode (and refuses it by default), so a local
    store is ``<folder>/mlflow.db`` with artifacts in ``<folder>/artifacts``. Server URIs
    (``http(s)://``, ``databricks``, ``sqlite:``, ``postgresql:``…) pass through unchanged.
    """
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        path = Path(unquote(urlparse(uri).path))
    elif "://" in uri or uri.startswith(("sqlite:", "databricks", "postgresql:", "mysql:", "mssql:")):
        return uri
    else:
        path = Path(uri)
    return f"sqlite:///{path.expanduser().resolve() / 'mlflow.db'}"


def local_artifact_root(tracking_uri: str) -> str | None:
    """Artifact folder beside a local SQLite store (``None`` for remote stores)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri[len("sqlite:///"):]).parent / "artifacts").as_uri()
    return None


#: tracking URIs that failed in this process -> the one-line reason (warned once, then skipped).
_FAILED: dict[str, str] = {}

#: defaults for talking to a tracking server: MLflow's own (7 retries, 120 s timeout, backoff 2)
#: add up to ~4 minutes per call against a dead server.
DEFAULT_TIMEOUT_S = 5
DEFAULT_MAX_RETRIES = 0


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = redact_value(text)
    return f"{type(exc).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"


def probe_server(uri: str, timeout_s: float) -> str | None:
    """For an ``http(s)://`` store: ``None`` when a TCP connection opens within ``timeout_s``, else why not."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"cannot connect to {parsed.hostname}:{port} ({exc.strerror or type(exc).__name__})"


class Tracker:
    """Thin wrapper over MLflow that never fails a stage.

    A disabled tracker does nothing (for tests and ``mlflow.enabled=false``). Results are the
    stages' job; tracking is a copy for browsing: the first tracking error (unreachable or hanging
    server, bad store) prints ONE warning line and turns tracking off for the rest of the process.
    HTTP stores get a short timeout and no retries (``mlflow.timeout_s``/``mlflow.max_retries``).
    """

    def __init__(self, enabled: bool = True, tracking_uri: str | None = None, experiment: str = "domainteb",
                 timeout_s: float = DEFAULT_TIMEOUT_S, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self._enabled = enabled
        self.tracking_uri = normalize_tracking_uri(tracking_uri) if tracking_uri else default_tracking_uri()
        self.experiment = experiment
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._configured = False

    @property
    def enabled(self) -> bool:
        return self._enabled and self.tracking_uri not in _FAILED

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = value

    @property
    def failure(self) -> str | None:
        """Why tracking was turned off in this process (``None`` while it works)."""
        return _FAILED.get(self.tracking_uri)

    def _fail(self, exc: BaseException | str) -> None:
        if self.tracking_uri in _FAILED:
            return
        reason = exc if isinstance(exc, str) else _one_line(exc)
        if not isinstance(exc, str) and any(w in str(exc).lower() for w in ("timed out", "timeout")):
            reason = f"no answer within {self.timeout_s:g} s (mlflow.timeout_s)"
        _FAILED[self.tracking_uri] = reason
        print(
            f"warning: MLflow tracking at {redact_value(self.tracking_uri)} failed ({reason}); results are written "
            f"and unaffected, tracking is off for this run; start the server, fix mlflow.tracking_uri "
            f"or set mlflow.enabled=false",
            file=sys.stderr, flush=True,
        )

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # any tracker error: warn once, keep the stage going
            self._fail(exc)

    def _http_settings(self) -> None:
        """MLflow reads these at request time (retries and timeout per HTTP call)."""
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, int(math.ceil(self.timeout_s))))
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(max(0, int(self.max_retries)))
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"] = "0"

    def _setup(self) -> Any:
        import mlflow

        if not self._configured:
            os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
            logging.getLogger("alembic").setLevel(logging.WARNING)
            if self.tracking_uri.startswith(("http://", "https://")):
                self._http_settings()
                unreachable = probe_server(self.tracking_uri, self.timeout_s)
                if unreachable:
                    raise ConnectionError(unreachable)
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            mlflow.set_tracking_uri(self.tracking_uri)
            client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            if client.get_experiment_by_name(self.experiment) is None:
                try:
                    client.create_experiment(self.experiment, artifact_location=local_artifact_root(self.tracking_uri))
                except Exception:  # created concurrently by another run
                    if client.get_experiment_by_name(self.experiment) is None:
                        raise
            mlflow.set_experiment(self.experiment)
            self._configured = True
        return mlflow

    @contextlib.contextmanager
    def run(self, name: str, tags: Mapping[str, Any] | None = None, nested: bool | None = None) -> Iterator[str | None]:
        """Start a run (nested automatically inside an active one); yields the run id (``None`` when off).

        Errors of the body propagate unchanged (the run is marked FAILED); tracker errors never do.
        """
        if not self.enabled:
            yield None
            return
        active = None
        mlflow = None
        with self._guard():
            mlflow = self._setup()
            is_nested = mlflow.active_run() is not None if nested is None else nested
            active = mlflow.start_run(run_name=name, nested=is_nested,
                                      tags={k: str(v) for k, v in (tags or {}).items()})
        status = "FAILED"
        try:
            yield active.info.run_id if active is not None else None
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            if active is not None and mlflow is not None and self.enabled:
                with self._guard():
                    mlflow.end_run(status=status)

    def log_params(self, params: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self._guard():
            mlflow = self._setup()
            flat = {k: (str(v)[:6000] if v is not None else "") for k, v in flatten(params).items()}
            items = list(flat.items())
            for i in range(0, len(items), 100):
                mlflow.log_params(dict(items[i : i + 100]))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if not self.enabled:
            return
        with self._guard():
            mlflow = self._setup()
            clean = {}
            for k, v in flatten(metrics).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
                    clean[re.sub(r"[^A-Za-z0-9_./ -]", "_", k)] = float(v)
            if clean:
                mlflow.log_metrics(clean, step=step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self._guard():
            self._setup().set_tags({k: str(redact_value(v)) for k, v in tags.items()})

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        if not self.enabled:
            return
        p = Path(path)
        if not p.exists():
            return
        with self._guard():
            mlflow = self._setup()
            if p.is_dir():
                mlflow.log_artifacts(str(p), artifact_path=artifact_path)
            else:
                mlflow.log_artifact(str(p), artifact_path=artifact_path)


def tracker_from_config(cfg: Any) -> Tracker:
    """Build a :class:`Tracker` from a config with an optional ``mlflow`` block."""
    block = getattr(cfg, "mlflow", None) if not isinstance(cfg, Mapping) else cfg.get("mlflow")
    if block is None:
        return Tracker()
    get = block.get if hasattr(block, "get") else lambda k, d=None: getattr(block, k, d)
    return Tracker(
        enabled=bool(get("enabled", True)),
        tracking_uri=get("tracking_uri", None) or None,
        experiment=str(get("experiment", "domainteb")),
        timeout_s=float(get("timeout_s", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S),
        max_retries=int(get("max_retries", DEFAULT_MAX_RETRIES) or 0),
    )
