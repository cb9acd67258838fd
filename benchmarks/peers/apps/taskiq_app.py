"""taskiq with taskiq-redis: a Redis list broker and the Redis result backend.

taskiq has no batch enqueue: ``kiq`` runs ``GATHER`` at a time, then each result is awaited in
turn. Plain functions run in the worker's thread pool, ``async def`` ones on its event loop
(``--max-async-tasks``, default 100).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from benchmarks.peers.apps.common import BATCH_POLL_S, POLL_S, QUEUE, SLEEP_S, TIMEOUT_S, AsyncClient, gather_in_slices, redis_url

PACKAGE = "taskiq"

broker = ListQueueBroker(redis_url(), queue_name=QUEUE).with_result_backend(
    RedisAsyncResultBackend(redis_url(), result_ex_time=600))


@broker.task(task_name="peers.echo")
async def echo(i):
    return i


@broker.task(task_name="peers.sleep_10ms")
def sleep_10ms(i):
    time.sleep(SLEEP_S)
    return i


@broker.task(task_name="peers.async_sleep_10ms")
async def async_sleep_10ms(i):
    await asyncio.sleep(SLEEP_S)
    return i


TASKS = {"noop": echo, "sleep": sleep_10ms, "async": async_sleep_10ms}


async def _value(task, poll: float) -> Any:
    result = await task.wait_result(check_interval=poll, timeout=TIMEOUT_S)
    if result.is_err:
        raise RuntimeError(f"taskiq task {task.task_id} failed: {result.error!r}")
    return result.return_value


class Client(AsyncClient):
    def __init__(self, url: str) -> None:
        super().__init__()

    async def start(self) -> None:
        await broker.startup()

    async def stop(self) -> None:
        await broker.shutdown()

    async def one_async(self, i: int) -> Any:
        return await _value(await echo.kiq(i), POLL_S)

    async def batch_async(self, kind: str, n: int) -> list[Any]:
        sent = await gather_in_slices([TASKS[kind].kiq(i) for i in range(n)])
        return [await _value(task, BATCH_POLL_S) for task in sent]
