"""Plain job functions for the systems that take any importable function (jobfleet, RQ)."""

from __future__ import annotations

import asyncio
import time

from benchmarks.peers.apps.common import SLEEP_S


def echo(i):
    """Return the item: not ``None``, which some systems (Huey) do not store as a result."""
    return i


def sleep_10ms(i):
    time.sleep(SLEEP_S)
    return i


async def async_sleep_10ms(i):
    await asyncio.sleep(SLEEP_S)
    return i


FUNCS = {"noop": echo, "sleep": sleep_10ms, "async": async_sleep_10ms}
