"""saq: ``Queue.map`` for batches, ``Queue.apply`` for one job; plain functions run in saq's thread pool."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from saq import Queue

from benchmarks.peers.apps.common import BATCH_POLL_S, POLL_S, QUEUE, SLEEP_S, TIMEOUT_S, AsyncClient, redis_url

PACKAGE = "saq"

queue = Queue.from_url(redis_url(), name=QUEUE)


async def echo(ctx, *, i):
    return i


def sleep_10ms(ctx, *, i):
    time.sleep(SLEEP_S)
    return i


async def async_sleep_10ms(ctx, *, i):
    await asyncio.sleep(SLEEP_S)
    return i


NAMES = {"noop": "echo", "sleep": "sleep_10ms", "async": "async_sleep_10ms"}
settings = {"queue": queue, "functions": [echo, sleep_10ms, async_sleep_10ms]}  # concurrency: saq's default 10


class Client(AsyncClient):
    def __init__(self, url: str) -> None:
        super().__init__()

    async def start(self) -> None:
        await queue.connect()

    async def stop(self) -> None:
        await queue.disconnect()

    async def one_async(self, i: int) -> Any:
        return await queue.apply("echo", timeout=TIMEOUT_S, poll_interval=POLL_S, i=i)

    async def batch_async(self, kind: str, n: int) -> list[Any]:
        return await queue.map(NAMES[kind], [{"i": i} for i in range(n)], timeout=TIMEOUT_S,
                               poll_interval=BATCH_POLL_S)
