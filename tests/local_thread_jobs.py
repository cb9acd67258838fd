"""Job functions for ``tests/test_local_threads.py``: threaded and async calls on ``local://``."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import jobs

_running = 0  # async calls inside async_count now, in this worker process


def sleep_pid(seconds: float, value: object = None) -> tuple[int, object]:
    time.sleep(seconds)
    return os.getpid(), value


def spin(seconds: float) -> str:
    """Busy in Python code, where a timeout raised into its thread lands at once."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "spun"


async def async_sleep(seconds: float, value: object = None) -> object:
    await asyncio.sleep(seconds)
    return value


async def async_count(seconds: float) -> int:
    """The most async_count calls this process ran at once, as this one saw it."""
    global _running
    _running += 1
    try:
        most = _running
        await asyncio.sleep(seconds)
        return max(most, _running)
    finally:
        _running -= 1


async def async_fail(message: str) -> None:
    await asyncio.sleep(0.01)
    raise ValueError(message)


async def async_block(seconds: float) -> None:
    """Blocks the event loop (time.sleep, not asyncio.sleep): nothing can cancel it."""
    time.sleep(seconds)


async def async_square(x: int) -> int:
    await asyncio.sleep(0.01)
    return x * x


def touch_after(path: str, seconds: float) -> str:
    time.sleep(seconds)
    Path(path).write_text("done")
    return path


def report_as(tag: str, steps: int, pause: float) -> str:
    """Reports ``step/steps`` with its own tag as the message, ``pause`` seconds apart."""
    for step in range(1, steps + 1):
        jobs.report_progress(step, steps, tag)
        time.sleep(pause)
    return tag
