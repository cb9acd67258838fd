"""What every peer app shares: names, sizes of the waits, and a synchronous face for asyncio clients."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, TypeVar

T = TypeVar("T")

URL_ENV = "PEERS_REDIS_URL"
QUEUE = "peers"
SLEEP_S = 0.01
TIMEOUT_S = 120.0  # any single wait; a run that needs longer is broken, not slow
# Clients that wait for a result by polling Redis poll every 1 ms for one job (the latency figure
# measures the queue, not a poll interval) and every 10 ms in a batch (5,000 polls per ms would
# measure Redis). The defaults are coarser: saq 0.5 s, taskiq 0.2 s, arq 0.5 s.
POLL_S = 0.001
BATCH_POLL_S = 0.01
# Systems without a batch enqueue (taskiq, arq) enqueue this many jobs at once with gather.
GATHER = 100


def redis_url() -> str:
    url = os.environ.get(URL_ENV)
    if not url:
        raise RuntimeError(f"set {URL_ENV} to the benchmark's Redis URL (python -m benchmarks.peers sets it)")
    return url


def check(kind: str) -> None:
    if kind not in ("noop", "sleep", "async"):
        raise ValueError(f"unknown job kind {kind!r}; choose noop, sleep or async")


class AsyncClient:
    """A client whose system is asyncio-only, run on one event loop kept for the whole run."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._run(self.start())

    def _run(self, awaitable: Awaitable[T]) -> T:
        return self._loop.run_until_complete(awaitable)

    async def start(self) -> None:
        """Connect; called once on the client's loop."""

    async def stop(self) -> None:
        """Disconnect; called once on the client's loop."""

    async def one_async(self, i: int) -> Any:
        raise NotImplementedError

    async def batch_async(self, kind: str, n: int) -> list[Any]:
        raise NotImplementedError

    def one(self, i: int) -> Any:
        return self._run(self.one_async(i))

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        return self._run(self.batch_async(kind, n))

    def close(self) -> None:
        try:
            self._run(self.stop())
        finally:
            self._loop.close()


async def gather_in_slices(awaitables: list[Awaitable[T]]) -> list[T]:
    """Await ``awaitables`` ``GATHER`` at a time: concurrent enqueues without thousands of connections."""
    done: list[T] = []
    for start in range(0, len(awaitables), GATHER):
        done += await asyncio.gather(*awaitables[start:start + GATHER])
    return done
