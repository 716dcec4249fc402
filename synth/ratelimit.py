"""Client-side rate limits: token buckets for requests per minute and tokens per minute."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """A bucket refilled at ``rate_per_min / 60`` units per second, holding at most one minute's worth.

    ``rate_per_min`` of ``None`` or ``<= 0`` means unlimited. A request larger than the
    capacity is let through once the bucket is full (so it never deadlocks).
    """

    def __init__(self, rate_per_min: float | None, clock: callable = time.monotonic) -> None:  # type: ignore[valid-type]
        self.rate = float(rate_per_min) if rate_per_min and rate_per_min > 0 else None
        self.capacity = self.rate or 0.0
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        if self.rate:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate / 60.0)
        self._last = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` units are available (0 when they are)."""
        if not self.rate:
            return 0.0
        self._refill()
        need = min(amount, self.capacity)
        if self._tokens >= need:
            return 0.0
        return (need - self._tokens) * 60.0 / self.rate

    async def acquire(self, amount: float = 1.0) -> float:
        """Take ``amount`` units, sleeping as needed; returns the seconds waited."""
        if not self.rate:
            return 0.0
        waited = 0.0
        async with self._lock:
            while True:
                delay = self.wait_time(amount)
                if delay <= 0:
                    self._tokens -= min(amount, self.capacity)
                    return waited
                await asyncio.sleep(delay)
                waited += delay

    def refund(self, amount: float) -> None:
        """Give back units taken by an estimate that turned out too high."""
        if self.rate:
            self._tokens = min(self.capacity, self._tokens + amount)

    def charge(self, amount: float) -> None:
        """Take extra units after the fact (actual usage above the estimate); may go negative."""
        if self.rate:
            self._tokens -= amount


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits applied together."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        self.requests = TokenBucket(rpm)
        self.tokens = TokenBucket(tpm)

    async def acquire(self, estimated_tokens: int) -> float:
        waited = await self.requests.acquire(1)
        waited += await self.tokens.acquire(estimated_tokens)
        return waited

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        diff = actual_tokens - estimated_tokens
        if diff > 0:
            self.tokens.charge(diff)
        elif diff < 0:
            self.tokens.refund(-diff)
