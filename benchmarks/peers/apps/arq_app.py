"""arq, tuned to a 10 ms worker poll (its default ``poll_delay`` of 0.5 s gave 214 jobs/s in the issue).

arq has no batch enqueue (``enqueue_job`` runs ``GATHER`` at a time) and runs only coroutine
functions: the ``time.sleep`` job goes to the event loop's default thread pool with
``run_in_executor``, as arq's documentation says to do with blocking code. arq 0.28 caps
redis-py below 6 and taskiq-redis needs 8, so arq usually runs from its own virtualenv
(``.venv-arq``, see docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from benchmarks.peers.apps.common import BATCH_POLL_S, POLL_S, SLEEP_S, TIMEOUT_S, AsyncClient, gather_in_slices, redis_url

PACKAGE = "arq"
REDIS = RedisSettings.from_dsn(redis_url())


async def echo(ctx, i):
    return i


async def sleep_10ms(ctx, i):
    await asyncio.get_running_loop().run_in_executor(None, time.sleep, SLEEP_S)
    return i


async def async_sleep_10ms(ctx, i):
    await asyncio.sleep(SLEEP_S)
    return i


NAMES = {"noop": "echo", "sleep": "sleep_10ms", "async": "async_sleep_10ms"}


class WorkerSettings:
    functions = [echo, sleep_10ms, async_sleep_10ms]
    redis_settings = REDIS
    poll_delay = 0.01  # max_jobs: arq's default 10


class Client(AsyncClient):
    def __init__(self, url: str) -> None:
        super().__init__()

    async def start(self) -> None:
        self.pool = await create_pool(REDIS)

    async def stop(self) -> None:
        await self.pool.aclose()

    async def one_async(self, i: int) -> Any:
        job = await self.pool.enqueue_job("echo", i)
        return await job.result(timeout=TIMEOUT_S, poll_delay=POLL_S)

    async def batch_async(self, kind: str, n: int) -> list[Any]:
        sent = await gather_in_slices([self.pool.enqueue_job(NAMES[kind], i) for i in range(n)])
        return [await job.result(timeout=TIMEOUT_S, poll_delay=BATCH_POLL_S) for job in sent]
