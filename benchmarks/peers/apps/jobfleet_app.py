"""jobfleet: ``jobs.Queue(url).map`` for batches, ``enqueue(...).result()`` for one job."""

from __future__ import annotations

from typing import Any

import jobs
from benchmarks.peers.apps.common import QUEUE, TIMEOUT_S, check
from benchmarks.peers.apps.plain import FUNCS

PACKAGE = "jobfleet"


class Client:
    def __init__(self, url: str) -> None:
        self.queue = jobs.Queue(url, name=QUEUE)

    def one(self, i: int) -> Any:
        return self.queue.enqueue(FUNCS["noop"], i).result(timeout=TIMEOUT_S)

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        return self.queue.map(FUNCS[kind], range(n), timeout=TIMEOUT_S)

    def close(self) -> None:
        self.queue.close()
