"""``jobs.Executor``: a real ``concurrent.futures.Executor`` whose calls are jobfleet jobs.

::

    from concurrent.futures import ProcessPoolExecutor as Executor     # before
    from jobs import Executor                                           # after

``submit`` returns a ``concurrent.futures.Future``, so ``as_completed``, ``wait``,
``asyncio.wrap_future`` and ``loop.run_in_executor`` work unchanged. The queue is ``url``, else
``$JOBFLEET_URL``, else ``local://<max_workers>``. ``Future.result()`` raises the call's own
exception with the remote traceback as ``__cause__``, as ``ProcessPoolExecutor`` does (see
:mod:`jobs.remote_errors`); a call whose worker keeps dying raises :class:`jobs.JobLost`, where
``ProcessPoolExecutor`` breaks the whole pool. ``Future.cancel()`` cancels the job while it has
not started; ``running()`` asks the queue whether it has.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import calls
from .errors import JobCanceled, JobsError, SerializationError
from .exit_hooks import at_exit
from .job import Job
from .options import JobOptions
from .pool import as_raised, queue_url
from .queue import Queue
from .status import JobStatus
from .watch import Watcher

__all__ = ["Executor"]


_live: weakref.WeakSet[Executor] = weakref.WeakSet()
#: Every submit uses the default options: one frozen instance, checked once.
_NO_OPTIONS = JobOptions()


def _shutdown_at_exit() -> None:
    """As ``concurrent.futures`` does at exit: no new work, and wait for what was submitted."""
    for executor in list(_live):
        executor.shutdown(wait=True)


class _JobFuture(cf.Future[Any]):
    """A Future bound to one job: cancelling it cancels the job if it has not started."""

    job: Job | None = None
    watcher: Watcher | None = None
    _notified = False  # set_running_or_notify_cancel() ran for the cancellation

    def cancel(self) -> bool:
        job = self.job
        if job is not None and not self.done():
            try:
                if not job.cancel():
                    return False
            except JobsError:
                return False
            if self.watcher is not None:
                self.watcher.discard(job)
        return self.cancel_and_notify()

    def cancel_and_notify(self) -> bool:
        """Future.cancel, then what an executor does for a canceled future: wake ``wait()`` and
        ``as_completed()``. Safe twice, and from several threads."""
        with self._condition:  # an RLock: cancel() takes it again
            if not super().cancel():
                return False
            if not self._notified:
                self._notified = True
                self.set_running_or_notify_cancel()
            return True

    def running(self) -> bool:
        if super().running():
            return True
        job = self.job
        if job is None or self.done():
            return False
        try:
            return job.status == JobStatus.STARTED
        except JobsError:
            return False


class Executor(cf.Executor):
    """``concurrent.futures.Executor`` on a jobfleet queue; see the module docstring."""

    def __init__(self, url: str | None = None, name: str = "default", *, max_workers: int | None = None) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers <= 0):
            raise ValueError("max_workers must be greater than 0")
        self._queue = Queue(queue_url(url, max_workers), name)
        from .backends.local import LocalBackend

        self._local = isinstance(self._queue.backend, LocalBackend)
        self._backend = self._queue.backend
        self._watcher = Watcher(self._backend)
        self._pending: set[_JobFuture] = set()
        self._lock = threading.Lock()
        self._shutdown = False
        self._closed = False
        _live.add(self)
        at_exit(_shutdown_at_exit)

    def __repr__(self) -> str:
        return f"<jobs.Executor queue={self._queue.url}>"

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)`` as a job; the Future ends with its value or its exception."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
        future = _JobFuture()
        try:
            job = Job(self._backend, *self._backend.submit(fn, args, kwargs, _NO_OPTIONS))
        except SerializationError as exc:  # as ProcessPoolExecutor: the pickling error comes out of result()
            future.set_exception(as_raised(exc))
            return future
        future.job, future.watcher = job, self._watcher
        with self._lock:
            self._pending.add(future)
        self._watcher.add(job, functools.partial(self._ended, future))
        return future

    def _ended(self, future: _JobFuture, ok: bool, value: Any) -> None:
        with self._lock:
            self._pending.discard(future)
        if future.done():
            return
        try:
            if ok:
                future.set_result(value)
            elif isinstance(value, JobCanceled):  # canceled behind our back (another client, rq)
                future.cancel_and_notify()
            else:
                future.set_exception(as_raised(value))
        except cf.InvalidStateError:  # canceled meanwhile
            pass

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Like ``ProcessPoolExecutor.map``: ``chunksize`` > 1 sends that many calls as one job."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        reference = calls.ref(fn, by_value_ok=self._local)
        chunks = iter(functools.partial(lambda it: list(itertools.islice(it, chunksize)), zip(*iterables)), [])
        results = super().map(calls.run_star_chunk, itertools.repeat(reference), chunks, timeout=timeout)
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submits; ``cancel_futures`` cancels the jobs not started; ``wait`` waits for the rest."""
        with self._lock:
            self._shutdown = True
            pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            self._release(pending)
        else:
            threading.Thread(target=self._release, args=(pending,), name="jobfleet-executor-shutdown", daemon=True).start()

    def _release(self, pending: list[_JobFuture]) -> None:
        cf.wait(pending)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._watcher.close()
        self._queue.close()
