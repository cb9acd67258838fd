"""Run a map of real jobs while a fault strikes in the middle of it (a Redis restart, a failover)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

import jobs
from jobs.rq_format import keys
from tests.jobs import sleep_then
from tests.supervisor_helpers import wait_until

FINISHED = keys.finished_registry("default")


def map_through(queue: jobs.Queue, observe: Callable[[], redis.Redis], fault: Callable[[], None], *,
                count: int, strike_after: int, job_seconds: float, timeout: float) -> list[object]:
    """``starmap(sleep_then, ...)`` of ``count`` jobs; once ``strike_after`` of them finished (read
    through a client from ``observe()``), ``fault()`` runs in a thread. Returns the map's values;
    raises unless the fault struck while the map was waiting."""
    struck = threading.Event()

    def strike() -> None:
        client = observe()
        wait_until(lambda: client.zcard(FINISHED) >= strike_after, timeout=60, what="jobs finishing")
        client.close()
        fault()
        struck.set()
    thread = threading.Thread(target=strike, daemon=True)
    thread.start()
    values = queue.starmap(sleep_then, [(job_seconds, i) for i in range(count)], timeout=timeout)
    thread.join(60)
    assert struck.is_set(), "the fault did not strike during the map"
    return values
