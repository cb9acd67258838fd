"""Job functions for the benchmarks: in an importable module, as a Redis worker needs them.

Each is as small as a job can be, so that a benchmark measures the queue and not the work.
"""

from __future__ import annotations

import os
import time


def noop(*args, **kwargs):
    """Do nothing; accepts any arguments so that ``map(noop, items)`` works too."""
    return None


def square(x):
    return x * x


def record_start_then_sleep(redis_url, key, seconds):
    """Push ``"<pid> <unix time>"`` onto the list ``key``, then sleep: a job to kill mid-run.

    The benchmark reads the list to learn which process runs the job (to SIGKILL it) and
    when the job starts again after the kill.
    """
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.rpush(key, f"{os.getpid()} {time.time():.6f}")
    client.close()
    time.sleep(seconds)
    return "done"


def add_one(x=0):
    """A link of a chain: the previous link's value plus one."""
    return (x or 0) + 1


def count(values):
    """A fan-in's last job: how many values it received."""
    return len(values)


def sleep_ms(ms):
    """Wait ``ms`` milliseconds on the clock, as an I/O-bound job waits on the network."""
    time.sleep(ms / 1000)
    return ms


async def async_sleep_ms(ms):
    """The same wait, awaited: an ``async def`` job."""
    import asyncio

    await asyncio.sleep(ms / 1000)
    return ms
