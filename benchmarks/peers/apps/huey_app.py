"""Huey: ``RedisHuey`` with ``notify_result=True``, so a result wait is a BLPOP, not Huey's default
poll (which starts at 50 ms and made its p50 latency ~51 ms in the issue's run).

Batches use ``task.map(items)`` and ``ResultGroup.get(blocking=True)``.
"""

from __future__ import annotations

from typing import Any

from huey import RedisHuey

from benchmarks.peers.apps import plain
from benchmarks.peers.apps.common import QUEUE, TIMEOUT_S, check, redis_url

PACKAGE = "huey"

huey = RedisHuey(QUEUE, url=redis_url(), notify_result=True)


echo = huey.task()(plain.echo)
TASKS = {"noop": echo, "sleep": huey.task()(plain.sleep_10ms)}


class Client:
    def __init__(self, url: str) -> None:
        pass  # the app above holds the connection

    def one(self, i: int) -> Any:
        return echo(i).get(blocking=True, timeout=TIMEOUT_S)

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        if kind not in TASKS:
            raise NotImplementedError("Huey runs no async def tasks")
        return TASKS[kind].map(range(n)).get(blocking=True, timeout=TIMEOUT_S)

    def close(self) -> None:
        pass
