"""MLflow dashboard helpers.

* ``domainteb ui [port=5000] [host=127.0.0.1] [tracking_uri=...]`` (:func:`run`): ``mlflow ui`` on
  the project's store (``./mlruns/mlflow.db`` by default, or ``$MLFLOW_TRACKING_URI``) in the foreground.
* :func:`register_adapted_model`: put an adapted sentence-transformers folder into the MLflow
  model registry (``mlflow.sentence_transformers`` flavour) with its eval scores as metrics,
  version tags and description. MLflow 3 refuses plain file stores, so, as everywhere in
  domainteb, a local store folder means the SQLite database ``<folder>/mlflow.db`` (which also
  holds the model registry) with artifacts in ``<folder>/artifacts``.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domainteb.core.errors import ConfigError, ModelLoadError
from domainteb.core.tracking import Tracker, default_tracking_uri, flatten, local_artifact_root, normalize_tracking_uri

log = logging.getLogger(__name__)

ST_MARKERS = ("modules.json", "config_sentence_transformers.json")


def resolve_store(cfg: Any) -> str:
    """The tracking store as the stages use it: ``tracking_uri``, else ``mlflow.tracking_uri``,
    else ``$MLFLOW_TRACKING_URI`` or ``./mlruns``; a local folder means its ``mlflow.db``."""
    uri = cfg.get("tracking_uri") or None
    block = cfg.get("mlflow") or {}
    uri = uri or (block.get("tracking_uri") if hasattr(block, "get") else None)
    return normalize_tracking_uri(str(uri)) if uri else default_tracking_uri()


def ui_command(store: str, host: str, port: int) -> list[str]:
    # one worker: a personal dashboard needs no more, and each extra worker re-imports MLflow's app
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store, "--host", host, "--port", str(port), "--workers", "1"]
    artifacts = local_artifact_root(store)
    return cmd + (["--default-artifact-root", artifacts] if artifacts else [])


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(f"port {port} on {host} is already in use; pass port=<free port>, e.g. port={port + 1}") from None


def run(cfg: Any) -> int:
    """Run ``mlflow ui`` in the foreground until interrupted; returns its exit status."""
    host = str(cfg.get("host") or "127.0.0.1")
    try:
        port = int(cfg.get("port", 5000))
    except (TypeError, ValueError):
        raise ConfigError(f"port must be an integer, got {cfg.get('port')!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"port must be in 1..65535, got {port}")
    store = resolve_store(cfg)
    if store.startswith("sqlite:///") and not Path(store[len("sqlite:///"):]).is_file():
        log.warning("tracking store %s does not exist yet; the dashboard stays empty until a stage logs a run", store)
    _check_port(host, port)
    print(f"MLflow dashboard for {store}: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.run(ui_command(store, host, port), check=False).returncode
    except KeyboardInterrupt:
        return 0


@dataclass
class RegisteredModel:
    name: str
    version: str
    run_id: str
    model_uri: str


def _description(name: str, scores: Mapping[str, float]) -> str:
    lines = [f"Adapted embedding model {name}, registered by domainteb.", "", "| task | main score ×100 |", "|---|---|"]
    lines += [f"| {task} | {100 * score:.2f} |" for task, score in sorted(scores.items())]
    return "\n".join(lines)


def _flat_scores(scores: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in flatten(dict(scores)).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def register_adapted_model(model_dir: str | Path, name: str, scores: Mapping[str, Any], tracker: Tracker) -> RegisteredModel:
    """Log ``model_dir`` (a sentence-transformers folder) to MLflow and register it as ``name``.

    ``scores`` (task → main score, nested mappings allowed) become run metrics, model-version
    tags ``score.<task>`` and a markdown table in the version's description.
    """
    folder = Path(model_dir).expanduser()
    if not folder.is_dir() or not any((folder / m).is_file() for m in ST_MARKERS):
        raise ModelLoadError(
            f"{folder}: not a sentence-transformers model folder (needs {' or '.join(ST_MARKERS)}); pass the adapt stage's model/ folder"
        )
    if not name or not name.strip():
        raise ConfigError("name is required to register a model")
    if not tracker.enabled:
        raise ConfigError("MLflow is disabled (mlflow.enabled=false); enable it to register a model")
    flat = _flat_scores(scores)
    import mlflow
    from mlflow.models import infer_signature
    from sentence_transformers import SentenceTransformer

    from domainteb.core.assets import check_weights_format, st_model_kwargs

    check_weights_format(Path(folder))  # safetensors only: pickle weights can run code
    try:
        model = SentenceTransformer(str(folder), device="cpu", trust_remote_code=False,
                                    model_kwargs=st_model_kwargs(False))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: cannot be loaded by sentence-transformers ({exc})") from None
    example = ["domain-adapted embedding"]
    signature = infer_signature(example, model.encode(example))
    import sentence_transformers

    with tracker.run(f"register-{name}", tags={"stage": "register", "model": name}) as run_id:
        tracker.log_metrics({f"score.{k}": v for k, v in flat.items()})
        tracker.log_params({"model_dir": str(folder.resolve())})
        info = mlflow.sentence_transformers.log_model(
            model,
            name="model",
            signature=signature,
            pip_requirements=[f"sentence-transformers=={sentence_transformers.__version__}"],
        )
        version = mlflow.register_model(info.model_uri, name, tags={f"score.{k}": f"{v:.6f}" for k, v in flat.items()})
        client = mlflow.MlflowClient()
        client.update_model_version(name, version.version, description=_description(name, flat))
    log.info("registered %s version %s from %s", name, version.version, folder)
    return RegisteredModel(name=name, version=str(version.version), run_id=str(run_id), model_uri=info.model_uri)
