"""An :class:`~domainteb.core.encoder.Encoder` over any OpenAI-compatible ``/v1/embeddings`` API.

Name: ``openai:<model>``. The base URL comes from ``DOMAINTEB_EMBEDDINGS_BASE_URL`` or
``OPENAI_BASE_URL`` (default: the OpenAI API), the key from ``OPENAI_API_KEY`` only (never
logged or stored; a local server without auth needs none). Requests are batched and retried
with exponential backoff (honouring ``Retry-After``) on 429, 5xx, timeouts and connection
errors; the vectors are returned L2-normalised as float32.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from domainteb.core.encoder import PromptType
from domainteb.core.errors import DomainTebError, ModelLoadError
from domainteb.core.tracking import redact_value

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENVS = ("DOMAINTEB_EMBEDDINGS_BASE_URL", "OPENAI_BASE_URL")


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for key, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(key)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                return None
    return None


class OpenAIEmbeddingEncoder:
    """Batched, retried calls to an OpenAI-compatible embeddings endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        timeout_s: float = 60.0,
        prompts: dict[str, str] | None = None,
    ) -> None:
        if not model:
            raise ModelLoadError("openai: model name is empty; use model=openai:<embedding-model-name>")
        self.model = model
        self.base_url = (base_url or next((os.environ[e] for e in BASE_URL_ENVS if os.environ.get(e)), DEFAULT_BASE_URL)).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url == DEFAULT_BASE_URL:
                raise ModelLoadError(
                    f"openai:{model}: OPENAI_API_KEY is not set; export it, or point "
                    f"{BASE_URL_ENVS[0]} at a local OpenAI-compatible server"
                )
            key = "not-needed"  # local servers usually accept any key
        from openai import OpenAI

        self._client = OpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout_s)
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.prompts = dict(prompts or {})
        self.name = f"openai:{model}"
        # the revision and model_info() reach result files and MLflow: never the URL's credentials
        self.shown_url = redact_value(self.base_url)
        self.revision = f"api@{self.shown_url}"
        self._dim: int | None = None
        self.n_requests = 0
        self.n_retries = 0

    def prompt_for(self, prompt_type: PromptType | None, task_name: str | None = None) -> str | None:
        return self.prompts.get(prompt_type or "") or None

    def _call(self, batch: list[str]) -> np.ndarray:
        import openai

        retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
        for attempt in range(1, self.max_attempts + 1):
            self.n_requests += 1
            try:
                response = self._client.embeddings.create(model=self.model, input=batch, encoding_format="float")
            except openai.APIStatusError as exc:
                if not isinstance(exc, retryable) and exc.status_code < 500:
                    raise self._user_error(exc) from None
                last: Exception = exc
            except retryable as exc:
                last = exc
            else:
                data = sorted(response.data, key=lambda d: d.index)
                if len(data) != len(batch):
                    raise DomainTebError(
                        f"{self.shown_url}: returned {len(data)} embeddings for {len(batch)} inputs; the server is not OpenAI-compatible"
                    )
                return np.asarray([d.embedding for d in data], dtype=np.float32)
            if attempt == self.max_attempts:
                break
            delay = _retry_after(last)
            if delay is None:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            self.n_retries += 1
            log.warning("%s: %s (attempt %d/%d); retrying in %.2fs", self.name, type(last).__name__, attempt,
                        self.max_attempts, delay)
            time.sleep(delay)
        raise DomainTebError(
            f"{self.name}: embeddings endpoint {self.shown_url} kept failing ({type(last).__name__}) after "
            f"{self.max_attempts} attempts; check the server or try again later"
        )

    def _user_error(self, exc: Any) -> DomainTebError:
        status = getattr(exc, "status_code", "?")
        if status == 401:
            return ModelLoadError(f"{self.name}: {self.shown_url} rejected the key (401); check OPENAI_API_KEY")
        if status == 404:
            return ModelLoadError(f"{self.name}: {self.shown_url} has no embedding model {self.model!r} (404); check the name")
        return DomainTebError(f"{self.name}: {self.shown_url} refused the request ({status}); check the model name and inputs")

    def encode(
        self,
        texts: Sequence[str],
        *,
        prompt_type: PromptType | None = None,
        task_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        prompt = self.prompt_for(prompt_type, task_name) or ""
        inputs = [(prompt + t) or " " for t in texts]  # the API rejects empty strings
        if not inputs:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        from tqdm.auto import tqdm

        chunks = []
        starts = range(0, len(inputs), self.batch_size)
        for start in tqdm(starts, desc=self.name, disable=not show_progress):
            chunks.append(self._call(inputs[start : start + self.batch_size]))
        out = np.concatenate(chunks, axis=0)
        self._dim = int(out.shape[1])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.name,
            "revision": self.revision,
            "n_parameters": None,
            "embed_dim": self._dim,
            "license": None,
            "labels": ["api"],
            "max_seq_length": None,
            "base_url": self.shown_url,
        }
