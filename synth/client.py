"""The LLM client: ``openai``'s async client against any OpenAI-compatible base URL, with our
own retries (exponential backoff + jitter, ``Retry-After`` honoured), client-side rate
limits, timeouts, structured output, a content-addressed response cache and accounting.

The openai client's own retries are off (``max_retries=0``) so every retry is counted here.
API keys come only from the environment variable named by ``api_key_env``; they never enter
the cache key, logs or reports.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from domainteb.core.errors import ConfigError, DomainTebError
from domainteb.synth.cache import ResponseCache, request_key
from domainteb.synth.ratelimit import RateLimiter
from domainteb.synth.records import CachedResponse

log = logging.getLogger(__name__)

RESPONSE_FORMATS = ("json_schema", "json_object_schema", "json_object", "none")


@dataclass
class LLMSettings:
    """What the client needs from the ``llm`` config group (validated in :func:`settings_from_config`)."""

    model: str
    base_urls: list[str]
    api_key_env: str | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: str = "json_schema"
    extra_body: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    rpm: float | None = None
    tpm: float | None = None

    def sampling_params(self, seed: int) -> dict[str, Any]:
        """Everything that changes the answer (goes into the cache key)."""
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": seed,
            "response_format": self.response_format,
        }
        if self.frequency_penalty is not None:
            params["frequency_penalty"] = self.frequency_penalty
        if self.presence_penalty is not None:
            params["presence_penalty"] = self.presence_penalty
        if self.extra_body:
            params["extra_body"] = dict(sorted(self.extra_body.items()))
        return params


def settings_from_config(llm: Any, *, timeout_s: float, max_retries: int, rate_limit: Any | None) -> LLMSettings:
    """Validate the ``llm`` block (plus stage-level timeout/retries/rate limit) into settings."""
    get = llm.get if hasattr(llm, "get") else lambda k, d=None: getattr(llm, k, d)
    model = get("model")
    if not model:
        raise ConfigError("llm.model is empty; set llm.model=<model name the server serves>")
    base = get("base_url")
    if base is None or base == "":
        base_urls: list[str] = []
    elif isinstance(base, str):
        base_urls = [base]
    else:
        base_urls = [str(b) for b in base]
    if not base_urls:
        raise ConfigError("llm.base_url is empty; set llm.base_url=http://host:port/v1 (or use llm=local)")
    for url in base_urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"llm.base_url {url!r} must start with http:// or https://")
    fmt = str(get("response_format", "json_schema") or "none")
    if fmt not in RESPONSE_FORMATS:
        raise ConfigError(f"llm.response_format {fmt!r} unknown; use one of {', '.join(RESPONSE_FORMATS)}")
    rate_limit = rate_limit or {}
    rl_get = rate_limit.get if hasattr(rate_limit, "get") else (lambda k, d=None: getattr(rate_limit, k, d))
    extra = get("extra_body") or {}
    return LLMSettings(
        model=str(model),
        base_urls=base_urls,
        api_key_env=get("api_key_env") or None,
        temperature=float(get("temperature", 0.7)),
        top_p=float(get("top_p", 0.95)),
        max_tokens=int(get("max_tokens", 256)),
        frequency_penalty=get("frequency_penalty"),
        presence_penalty=get("presence_penalty"),
        response_format=fmt,
        extra_body={str(k): v for k, v in dict(extra).items()},
        timeout_s=float(get("timeout_s") or timeout_s),
        max_retries=int(max_retries),
        backoff_base_s=float(get("backoff_base_s", 1.0)),
        backoff_max_s=float(get("backoff_max_s", 60.0)),
        rpm=rl_get("rpm"),
        tpm=rl_get("tpm"),
    )


@dataclass
class ClientStats:
    """Accounting over one run."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rate_limit_wait_s: float = 0.0
    errors: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
            "errors": dict(self.errors),
        }


class RequestFailed(Exception):
    """A request still failed after all retries (``reason`` says why)."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


def _retry_after_s(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw) if name == "retry-after" else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    return None


def _classify(exc: BaseException) -> tuple[str, bool, float | None]:
    """(reason, retryable, retry_after_s) for an exception raised by a request."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout", True, None
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error", True, None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = _retry_after_s(exc.response.headers if exc.response is not None else None)
        if status in (401, 403):
            return f"http_{status}", False, None
        if status == 429 or status in (408, 409) or status >= 500:
            return f"http_{status}", True, retry_after
        return f"http_{status}", False, None
    if isinstance(exc, (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError)):
        return "bad_response_body", True, None
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout", True, None
    return f"error_{type(exc).__name__}", True, None


class LLMClient:
    """Cached, rate-limited, retrying chat completions (use inside one asyncio loop)."""

    def __init__(self, settings: LLMSettings, cache: ResponseCache, seed_rng: random.Random | None = None) -> None:
        import openai

        self.settings = settings
        self.cache = cache
        self.stats = ClientStats()
        self.limiter = RateLimiter(settings.rpm, settings.tpm)
        self._jitter = seed_rng or random.Random()
        api_key = self._api_key()
        self._clients = [
            openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=settings.timeout_s)
            for url in settings.base_urls
        ]
        self._rr = itertools.cycle(range(len(self._clients)))

    def _api_key(self) -> str:
        env = self.settings.api_key_env
        if env:
            key = os.environ.get(env)
            if not key:
                raise ConfigError(f"environment variable {env} is not set; export {env}=<your key> (keys are read only from the environment)")
            return key
        return "not-needed"  # no key configured: never send another service's key to this endpoint

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        fmt = self.settings.response_format
        if fmt == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "queries", "schema": schema, "strict": True}}
        if fmt == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        if fmt == "json_object":
            return {"type": "json_object"}
        return None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = min(self.settings.backoff_max_s, self.settings.backoff_base_s * (2**attempt))
        delay = base * (0.5 + self._jitter.random() * 0.5)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.backoff_max_s))
        return delay

    async def chat(self, messages: list[dict[str, str]], seed: int, schema: dict[str, Any]) -> tuple[CachedResponse, bool]:
        """The response to ``messages`` (from the cache when present); returns (response, from_cache).

        Raises :class:`RequestFailed` after the retries are spent, or :class:`DomainTebError`
        on an authentication error (no point going on).
        """
        params = self.settings.sampling_params(seed)
        key = request_key(messages, self.settings.model, params)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.cache_hits += 1
            return hit, True
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
            "max_tokens": self.settings.max_tokens,
            "seed": seed,
        }
        for name in ("frequency_penalty", "presence_penalty"):
            if params.get(name) is not None:
                kwargs[name] = params[name]
        fmt = self._response_format(schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        if self.settings.extra_body:
            kwargs["extra_body"] = dict(self.settings.extra_body)
        estimate = sum(len(m["content"]) for m in messages) // 4 + self.settings.max_tokens
        last_reason = "unknown"
        attempts = 0
        for attempt in range(self.settings.max_retries + 1):
            attempts = attempt + 1
            self.stats.rate_limit_wait_s += await self.limiter.acquire(estimate)
            client = self._clients[next(self._rr)]
            self.stats.requests += 1
            try:
                resp = await asyncio.wait_for(client.chat.completions.create(**kwargs), timeout=self.settings.timeout_s * 1.5)
                choice = resp.choices[0]
                content = choice.message.content
                if content is None:
                    raise ValueError("response has no message content")
                usage = getattr(resp, "usage", None)
                p_tok = int(getattr(usage, "prompt_tokens", 0) or 0)
                c_tok = int(getattr(usage, "completion_tokens", 0) or 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are retried
                reason, retryable, retry_after = _classify(exc)
                self.limiter.settle(estimate, 0)
                self.stats.errors[reason] += 1
                last_reason = reason
                if reason in ("http_401", "http_403"):
                    env = self.settings.api_key_env or "OPENAI_API_KEY"
                    raise DomainTebError(
                        f"the LLM server at {client.base_url} refused the API key ({reason}); check {env}"
                    ) from None
                if not retryable or attempt == self.settings.max_retries:
                    break
                delay = self._backoff(attempt, retry_after)
                log.debug("request failed (%s); retry %d in %.2fs", reason, attempt + 1, delay)
                self.stats.retries += 1
                await asyncio.sleep(delay)
                continue
            self.limiter.settle(estimate, p_tok + c_tok)
            self.stats.prompt_tokens += p_tok
            self.stats.completion_tokens += c_tok
            cached = CachedResponse(
                key=key,
                model=self.settings.model,
                content=content,
                finish_reason=getattr(choice, "finish_reason", None),
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
            )
            self.cache.put(cached)
            return cached, False
        raise RequestFailed(f"{last_reason} after {attempts} attempt(s)", attempts)

    async def aclose(self) -> None:
        for c in self._clients:
            await c.close()
