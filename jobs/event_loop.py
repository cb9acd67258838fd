"""One asyncio event loop per worker process, on a thread of its own, for ``async def`` jobs.

RQ runs an ``async def`` job with ``asyncio.run``: a new loop for each job, and the worker waits
for it, so ten jobs that each await a 10 ms reply take 100 ms. A worker given ``max_async``
instead starts each job's coroutine on this one loop and goes on to the next job: up to
``max_async`` of them wait at once, as on taskiq or arq, and their replies overlap.

The loop runs on a daemon thread (the worker's main thread keeps claiming and writing), so the
coroutines of one process share one loop, as ``asyncio`` libraries (connection pools, clients)
expect. A job's timeout is ``asyncio.wait_for``'s: the coroutine is cancelled at its next
``await`` and the caller's future raises :class:`AsyncTimeout`; :meth:`AsyncCall.interrupt`
cancels it the same way. A coroutine that
blocks the loop (``time.sleep`` instead of ``asyncio.sleep``) holds every other one back and
cannot be cancelled: each user of this kills the process of a job stuck past its timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

__all__ = ["JobLoop", "AsyncCall", "AsyncTimeout", "DEFAULT_MAX_ASYNC", "MAX_ASYNC", "default_max_async"]

#: The bound of a worker that runs jobs at once (threads) and was given none: ``async def`` jobs
#: then await together too. A one-thread worker's default is 0 (one job at a time, as RQ).
DEFAULT_MAX_ASYNC = 100
#: More coroutines than this at once per process is certainly a typo.
MAX_ASYNC = 10_000


def default_max_async(threads: int) -> int:
    """``max_async`` when none was given: :data:`DEFAULT_MAX_ASYNC` for a worker with threads
    (it runs jobs at once already), 0 for a one-thread one (its one-at-a-time loop is the
    fastest for CPU-bound jobs, and is RQ's behaviour)."""
    return DEFAULT_MAX_ASYNC if threads > 1 else 0


class JobLoop:
    """The process's event loop thread; started on first use, stopped by :meth:`close`."""

    def __init__(self, name: str = "jobfleet-async") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: the thread the loop runs on (its id), for a watchdog that must tell a stuck loop
        self.thread_id: int | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self.thread_id = threading.get_ident()
                    ready.set()
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait(5)
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, Any], timeout: float | None) -> AsyncCall:
        """Start ``coro`` on the loop, cancelled after ``timeout`` seconds (None: never).

        The call's future gives the coroutine's value, its exception, :class:`AsyncTimeout` when
        it ran past ``timeout``, or :class:`concurrent.futures.CancelledError` after
        :meth:`AsyncCall.interrupt`; it is done only once the coroutine has stopped running.
        """
        call = AsyncCall(self._started())
        call.future = asyncio.run_coroutine_threadsafe(call.body(coro, timeout), call.loop)
        return call

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop (what still runs is abandoned: callers drain first). Safe twice."""
        with self._lock:
            loop, thread, self._loop = self._loop, self._thread, None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()


class AsyncTimeout(TimeoutError):
    """A coroutine ran past its timeout (a job's own ``TimeoutError`` is not this)."""


class AsyncCall:
    """One coroutine started by :meth:`JobLoop.submit`: its ``future`` and a way to stop it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False
        self.timed_out = False  # it ran past its timeout and was cancelled

    async def body(self, coro: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
        self._task = asyncio.current_task()
        if self._interrupted:  # asked before it began
            coro.close()
            raise asyncio.CancelledError
        timer = self.loop.call_later(timeout, self._expire) if timeout else None
        try:
            return await coro
        except asyncio.CancelledError:
            if self.timed_out and not self._interrupted:
                raise AsyncTimeout(f"the job ran past its timeout of {timeout:g} s and was cancelled") from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self) -> None:
        self.timed_out = True
        self._cancel()

    def interrupt(self) -> bool:
        """Cancel the coroutine at its next ``await`` (thread-safe); False if it had ended."""
        if self.future.done():
            return False
        self._interrupted = True
        self.loop.call_soon_threadsafe(self._cancel)
        return True

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
