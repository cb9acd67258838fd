"""Dramatiq: the Redis broker and Redis results backend; batches as a ``group``."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import group
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

from benchmarks.peers.apps import plain
from benchmarks.peers.apps.common import QUEUE, TIMEOUT_S, check, redis_url

PACKAGE = "dramatiq"

broker = RedisBroker(url=redis_url())
broker.add_middleware(Results(backend=RedisBackend(url=redis_url())))
dramatiq.set_broker(broker)


echo = dramatiq.actor(plain.echo, store_results=True, queue_name=QUEUE)
ACTORS = {"noop": echo, "sleep": dramatiq.actor(plain.sleep_10ms, store_results=True, queue_name=QUEUE)}
TIMEOUT_MS = int(TIMEOUT_S * 1000)


class Client:
    def __init__(self, url: str) -> None:
        pass

    def one(self, i: int) -> Any:
        return echo.send(i).get_result(block=True, timeout=TIMEOUT_MS)

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        if kind not in ACTORS:
            raise NotImplementedError("Dramatiq runs no async def actors here (its AsyncIO middleware is not used)")
        sent = group(ACTORS[kind].message(i) for i in range(n)).run()
        return list(sent.get_results(block=True, timeout=TIMEOUT_MS))

    def close(self) -> None:
        broker.close()
