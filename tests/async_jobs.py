"""``async def`` job functions for the --max-async tests (tests/test_async_jobs.py)."""

from __future__ import annotations

import asyncio
import time

import redis
import rq

_RUNNING = """
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n
"""


async def overlap(url, key, seconds, gate_key=None):
    """Count the coroutines of ``key`` awaiting at once (``key:max``); await ``seconds`` (or until ``gate_key`` exists)."""
    client = redis.Redis.from_url(url, socket_timeout=10)
    client.eval(_RUNNING, 2, f"{key}:running", f"{key}:max")
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (gate_key and client.exists(gate_key)):
            await asyncio.sleep(0.01)
    finally:
        client.decr(f"{key}:running")
        client.close()
    return key


async def double(x):
    await asyncio.sleep(0)
    return 2 * x


async def fail(message):
    await asyncio.sleep(0)
    raise ValueError(message)


async def current_job_id():
    """What ``rq.get_current_job()`` says inside a coroutine job."""
    await asyncio.sleep(0)
    return rq.get_current_job().id


async def block_the_loop(seconds):
    """An ``async def`` that never awaits: it holds the loop (and every other coroutine) for ``seconds``."""
    time.sleep(seconds)
    return "blocked"


class AsyncCallable:
    async def __call__(self, x):
        await asyncio.sleep(0)
        return x + 1
