"""Token buckets: requests and tokens per minute are enforced on a fake clock."""

from __future__ import annotations

from domainteb.synth.ratelimit import TokenBucket


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    b = TokenBucket(60, clock=lambda: now[0])  # 1 per second, capacity 60
    assert b.wait_time(60) == 0.0
    b._tokens -= 60
    assert abs(b.wait_time(1) - 1.0) < 1e-9
    now[0] += 0.5
    assert abs(b.wait_time(1) - 0.5) < 1e-9
    now[0] += 10
    assert b.wait_time(5) == 0.0


def test_unlimited_and_oversized_requests() -> None:
    assert TokenBucket(None).wait_time(10**9) == 0.0
    now = [0.0]
    b = TokenBucket(600, clock=lambda: now[0])
    assert b.wait_time(10_000) == 0.0  # larger than capacity: allowed once the bucket is full
    b.charge(700)
    assert b.wait_time(1) > 0


def test_async_acquire_spaces_requests() -> None:
    import asyncio
    import time

    b = TokenBucket(1200)  # 20 per second
    b._tokens = 0.0

    async def go() -> float:
        t = time.monotonic()
        for _ in range(3):
            await b.acquire(1)
        return time.monotonic() - t

    elapsed = asyncio.run(go())
    assert 0.1 <= elapsed < 1.0
