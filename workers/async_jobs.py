"""``workers supervise --max-async M``: ``async def`` jobs run at once on the process's event loop.

Under RQ's worker an ``async def`` job runs in ``asyncio.run`` and the worker waits for it. With
``--max-async M`` the batch loop (the one ``--threads`` uses, :mod:`workers.threaded_batches`)
starts such a job's coroutine on the process's one loop (:class:`jobs.event_loop.JobLoop`) and
goes on claiming: up to M coroutines wait at once, and no thread is taken by any of them.

Everything around the coroutine happens on the main thread, as for a job on a thread: the
hooks' ``before_job`` and the slot before it starts; RQ's callbacks, exception handlers and the
batch write after it ends (:mod:`workers.job_outcomes`). Its timeout cancels it at its next
``await`` and it fails with RQ's ``JobTimeoutException``; stop-job cancels it the same way
(:class:`workers.job_runner.JobInterrupted`, recorded ``stopped``). A coroutine that blocks the
loop past its timeout and ``--timeout-grace`` has its process killed by the supervisor, as a
thread stuck in C code has; the jobs sharing the loop go back uncharged.

:class:`AsyncJobs` is a mixin for :class:`workers.worker.BatchWorker`.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from rq.job import Job, _current_job
from rq.queue import Queue
from rq.timeouts import JobTimeoutException

from jobs.event_loop import AsyncCall, AsyncTimeout, JobLoop

from .hooks import JobOutcome
from .job_runner import JobInterrupted, ThreadRunner


@dataclass
class AsyncEnded:
    """A coroutine job's end, as its loop reports it to the main thread (which makes the outcome)."""

    queue: Queue
    call: AsyncCall
    began: float  # time.monotonic() when it started
    timeout: float  # -1: none


def is_async_function(func: Any) -> bool:
    """An ``async def`` function, method, ``functools.partial`` of one, or object with an async ``__call__``."""
    if inspect.iscoroutinefunction(func):
        return True
    call = None if inspect.isroutine(func) else inspect.getattr_static(type(func), "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


async def _as_current(job: Job, coro: Coroutine[Any, Any, Any]) -> Any:
    """``coro`` with RQ's current job set in its own task, so ``rq.get_current_job()`` works inside it."""
    _current_job.set(job)
    return await coro


class AsyncJobs:
    """Mixin: start ``async def`` jobs on the event loop, and make their outcomes (module docstring)."""

    _runner: Any
    _stop_unstarted: frozenset[str]
    name: str
    _loop: JobLoop | None = None

    def _is_async(self, job: Any) -> bool:
        """Whether ``job`` goes to the loop: a readable job of an ``async def`` function, with
        ``--max-async``, and not stopped before it started (the thread path records that)."""
        if self._loop is None or not isinstance(job, Job) or job.id in self._stop_unstarted:
            return False
        try:
            func = job.func
        except Exception:  # noqa: BLE001 - an import error is the job's failure, reported by the thread path
            return False
        return is_async_function(func)

    def _start_async(self, job: Job, queue: Queue) -> None:
        runner: ThreadRunner = self._runner
        runner.in_flight_ids.add(job.id)
        began, timeout = self._begin(job)  # type: ignore[attr-defined]
        try:
            coro = _as_current(job, job.func(*job.args, **job.kwargs))
        except BaseException:  # noqa: BLE001 - unreadable arguments, a bad signature: the job's failure
            outcome = self._failed(job, queue, sys.exc_info())  # type: ignore[attr-defined]
            runner.end(job)
            outcome.duration_s = time.monotonic() - began
            runner.done.put((job, outcome))
            return
        assert self._loop is not None
        call = self._loop.submit(coro, None if timeout == -1 else float(timeout))
        runner.started_async(job.id, call)
        ended = AsyncEnded(queue, call, began, timeout)
        call.future.add_done_callback(lambda _: runner.done.put((job, ended)))

    def _async_outcome(self, job: Job, ended: AsyncEnded) -> JobOutcome:
        """On the main thread: the outcome of a coroutine job that ended (see the module docstring)."""
        runner: ThreadRunner = self._runner
        try:
            try:
                value = ended.call.future.result(timeout=0)
            except AsyncTimeout:
                raise JobTimeoutException(f"Task exceeded maximum timeout value ({ended.timeout} seconds)") from None
            except concurrent.futures.CancelledError:
                raise JobInterrupted(f"job {job.id} interrupted by an RQ command to worker {self.name}") from None
            outcome = self._succeeded(job, ended.queue, value)  # type: ignore[attr-defined]
        except BaseException:  # noqa: BLE001 - the job's own failure, as on the other paths
            outcome = self._failed(job, ended.queue, sys.exc_info())  # type: ignore[attr-defined]
        finally:
            runner.end(job)
            runner.ended_async(job.id)
        outcome.duration_s = time.monotonic() - ended.began
        return outcome
