"""Celery: Redis as broker and result backend; batches as a ``group``."""

from __future__ import annotations

from typing import Any

from celery import Celery, group

from benchmarks.peers.apps import plain
from benchmarks.peers.apps.common import QUEUE, TIMEOUT_S, check, redis_url

PACKAGE = "celery"

app = Celery("peers", broker=redis_url(), backend=redis_url())
app.conf.update(task_default_queue=QUEUE, broker_connection_retry_on_startup=True, result_expires=600)


echo = app.task(name="peers.echo")(plain.echo)
TASKS = {"noop": echo, "sleep": app.task(name="peers.sleep_10ms")(plain.sleep_10ms)}


class Client:
    def __init__(self, url: str) -> None:
        pass

    def one(self, i: int) -> Any:
        return echo.delay(i).get(timeout=TIMEOUT_S)

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        if kind not in TASKS:
            raise NotImplementedError("Celery runs no async def tasks")
        return group(TASKS[kind].s(i) for i in range(n)).apply_async().get(timeout=TIMEOUT_S)

    def close(self) -> None:
        app.close()
