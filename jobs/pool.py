"""``jobs.Pool``: the ``multiprocessing.Pool`` API on a jobfleet queue, so a program changes one import.

::

    from multiprocessing import Pool        # before
    from jobs import Pool                   # after: local://N, or the queue JOBFLEET_URL names

``Pool(4)`` runs on ``local://4`` unless ``JOBFLEET_URL`` (or ``url=``) names another queue
(``redis://...`` served by ``workers supervise``, ``fakeredis://``), so the same program runs on
a cluster. It raises what ``multiprocessing`` raises: the task's own exception with the remote
traceback as ``__cause__`` (see :mod:`jobs.remote_errors`), ``multiprocessing.TimeoutError`` from
``get(timeout)``, ``ValueError`` from a pool that is not running. A task that kills its workers
ends with :class:`jobs.JobLost`, where ``multiprocessing.Pool`` hangs for ever.

What a job queue changes: ``maxtasksperchild`` and ``context`` are accepted and not used (the
workers belong to the queue, not to the pool); ``terminate()`` cancels the pool's jobs that have
not started and, on ``local://``, kills the pool's worker processes, while on Redis a started job
runs to its end on its worker. ``initializer`` runs once per worker process, before that process
runs the pool's first task (a plain forking ``rq worker`` forks per job: there it runs per task).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import calls
from .backends.base import MapCall
from .errors import JobsError, SerializationError
from .functions import importable_name
from .job import Job
from .pool_results import ApplyResult, AsyncResult, IMapIterator, MapResult, as_raised, reraise
from .queue import Queue
from .watch import Watcher

__all__ = ["Pool", "AsyncResult", "MapResult", "ApplyResult", "IMapIterator", "queue_url", "as_raised"]

log = logging.getLogger(__name__)
_RUN, _CLOSE, _TERMINATE = "RUN", "CLOSE", "TERMINATE"


def queue_url(url: str | None, processes: int | None) -> str:
    """``url``, else ``$JOBFLEET_URL``, else ``local://<processes>`` (one per CPU when None)."""
    return url or os.environ.get("JOBFLEET_URL") or f"local://{processes or ''}"


class Pool:
    """``multiprocessing.Pool`` on a jobfleet queue; see the module docstring."""

    def __init__(self, processes: int | None = None, initializer: Callable[..., object] | None = None,
                 initargs: Iterable[Any] = (), maxtasksperchild: int | None = None, context: Any = None, *,
                 url: str | None = None, name: str = "default") -> None:
        if processes is not None and (not isinstance(processes, int) or processes < 1):
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None and (not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0):
            raise ValueError("maxtasksperchild must be a positive int or None")
        if maxtasksperchild is not None or context is not None:
            # not silently: the program runs, but its worker processes are not recycled
            warnings.warn("jobs.Pool ignores maxtasksperchild and context: the worker processes belong to the "
                          "queue, not the pool (on Redis, recycle them with workers supervise --max-jobs-per-child)",
                          RuntimeWarning, stacklevel=2)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._processes = processes or os.cpu_count() or 1
        self._run_state = _RUN
        self._queue = Queue(queue_url(url, processes), name)
        from .backends.local import LocalBackend

        self._local = isinstance(self._queue.backend, LocalBackend)
        self._init: tuple[str, Any, tuple[Any, ...]] | None = None
        if initializer is not None:
            self._init = (uuid.uuid4().hex, calls.ref(initializer, by_value_ok=self._local), tuple(initargs))
        self._watcher = Watcher(self._queue.backend)
        self._outstanding: set[AsyncResult | IMapIterator] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<jobs.Pool state={self._run_state} queue={self._queue.url}>"

    # -- bookkeeping ---------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._run_state != _RUN:
            raise ValueError("Pool not running")

    def _started(self, result: AsyncResult | IMapIterator) -> None:
        with self._lock:
            self._outstanding.add(result)

    def _ended(self, result: AsyncResult | IMapIterator) -> None:
        with self._lock:
            self._outstanding.discard(result)

    def _call(self, func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The job function and arguments for ``func(*args)``: wrapped when there is an initializer."""
        if self._init is None:
            return func, args
        return calls.run_initialized, (*self._init, calls.ref(func, by_value_ok=self._local), *args)

    # -- one call ------------------------------------------------------------------------

    def apply(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict[str, Any] | None = None) -> Any:
        """``func(*args, **kwds)`` on a worker; waits and returns its value (or raises its exception)."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict[str, Any] | None = None,
                    callback: Callable[[Any], object] | None = None,
                    error_callback: Callable[[BaseException], object] | None = None) -> AsyncResult:
        self._check_running()
        result = AsyncResult(self, callback, error_callback)
        function, call_args = self._call(func, tuple(args))
        try:
            job = self._queue.enqueue_call(function, call_args, dict(kwds or {}))
        except SerializationError as exc:  # as multiprocessing: the pickling error comes out of get()
            result._set(False, exc)
            return result
        result.jobs.append(job.id)
        self._watcher.add(job, result._set)
        return result

    # -- many calls ----------------------------------------------------------------------

    def _results(self, func: Callable[..., Any], items: list[Any], chunksize: int | None, *, star: bool,
                 ordered: bool) -> Iterator[Any]:
        """Submit every item now; return the iterator of their results."""
        if chunksize is not None and (not isinstance(chunksize, int) or chunksize < 1):
            raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")
        if not self._local and chunksize is None:  # multiprocessing's default; local:// computes the same
            chunksize, extra = divmod(len(items), self._processes * 4)
            chunksize += 1 if extra or not chunksize else 0
        head: tuple[Any, ...] = ()
        if self._init is not None:
            head = (*self._init, calls.ref(func, by_value_ok=self._local))
            func = calls.run_initialized
        elif not self._local and importable_name(func) is None:  # Redis maps import their function by name
            head, func = (func,), calls.call
        if head:
            items = [(*head, *item) if star else (*head, item) for item in items]
            star = True
        call = MapCall(func, items, chunksize=chunksize, star=star)
        backend = self._queue.backend
        return backend.imap(call) if ordered else backend.imap_unordered(call)

    def _map(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None, star: bool) -> list[Any]:
        self._check_running()
        items = iterable if isinstance(iterable, list) else list(iterable)
        try:
            return list(self._results(func, items, chunksize, star=star, ordered=True))
        except JobsError as exc:
            reraise(exc)
            raise  # pragma: no cover - reraise always raises

    def map(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None) -> list[Any]:
        """``[func(x) for x in iterable]`` on the workers, in order; raises the first failing item's exception."""
        return self._map(func, iterable, chunksize, star=False)

    def starmap(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]], chunksize: int | None = None) -> list[Any]:
        return self._map(func, iterable, chunksize, star=True)

    def _map_async(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None, star: bool,
                   callback: Callable[[Any], object] | None,
                   error_callback: Callable[[BaseException], object] | None) -> AsyncResult:
        self._check_running()
        items = iterable if isinstance(iterable, list) else list(iterable)
        result = AsyncResult(self, callback, error_callback)
        try:
            results = self._results(func, items, chunksize, star=star, ordered=True)
        except JobsError as exc:
            result._set(False, exc)
            return result
        result.jobs.extend(getattr(results, "job_ids", ()))

        def collect() -> None:
            try:
                value = list(results)
            except BaseException as exc:  # noqa: BLE001 - handed to the result
                result._set(False, exc)
            else:
                result._set(True, value)
        threading.Thread(target=collect, name="jobfleet-pool-map", daemon=True).start()
        return result

    def map_async(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None,
                  callback: Callable[[Any], object] | None = None,
                  error_callback: Callable[[BaseException], object] | None = None) -> AsyncResult:
        return self._map_async(func, iterable, chunksize, False, callback, error_callback)

    def starmap_async(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]], chunksize: int | None = None,
                      callback: Callable[[Any], object] | None = None,
                      error_callback: Callable[[BaseException], object] | None = None) -> AsyncResult:
        return self._map_async(func, iterable, chunksize, True, callback, error_callback)

    def _imap(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int, ordered: bool) -> IMapIterator:
        self._check_running()
        if not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")
        items: list[Any] = []
        trailing: BaseException | None = None
        try:  # as multiprocessing: items before a failing iterable's chunk still run
            for item in iterable:
                items.append(item)
        except Exception as exc:  # noqa: BLE001 - raised by next() after the results before it
            trailing = exc
            del items[len(items) - len(items) % chunksize:]
        iterator = IMapIterator(self)
        try:
            results = self._results(func, items, chunksize, star=False, ordered=ordered)
        except JobsError as exc:
            results, trailing = iter(()), exc
        iterator.jobs.extend(getattr(results, "job_ids", ()))
        threading.Thread(target=iterator._feed, args=(results, trailing), name="jobfleet-pool-imap", daemon=True).start()
        return iterator

    def imap(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1) -> IMapIterator:
        """Results in order, each as soon as it and those before it are done."""
        return self._imap(func, iterable, chunksize, ordered=True)

    def imap_unordered(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1) -> IMapIterator:
        """Results in the order they finish."""
        return self._imap(func, iterable, chunksize, ordered=False)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """No more tasks; those submitted run. ``join()`` then waits for them."""
        if self._run_state == _RUN:
            self._run_state = _CLOSE

    def terminate(self) -> None:
        """Stop now: cancel the pool's jobs that have not started; on ``local://`` kill its workers."""
        if self._run_state == _TERMINATE:
            return
        self._run_state = _TERMINATE
        with self._lock:
            outstanding = list(self._outstanding)
        if self._local:
            self._queue.backend.terminate()  # type: ignore[attr-defined]  # fails what is left: results end
        else:
            for result in outstanding:
                for job_id in result.jobs:
                    try:
                        Job(self._queue.backend, job_id).cancel()
                    except JobsError as exc:
                        log.warning("Pool.terminate: could not cancel job %s: %s", job_id, exc)

    def join(self) -> None:
        """Wait for the pool's tasks (after ``close()`` or ``terminate()``), then release the queue."""
        if self._run_state == _RUN:
            raise ValueError("Pool is still running")
        # After terminate() on Redis, jobs that had started run on; nobody waits for them.
        while self._local or self._run_state != _TERMINATE:
            with self._lock:
                outstanding = list(self._outstanding)
            if not outstanding:
                break
            for result in outstanding:
                result.wait(1.0)
        self._watcher.close()
        self._queue.close()

    def __del__(self) -> None:
        if getattr(self, "_state", None) == _RUN:
            warnings.warn(f"unclosed running multiprocessing pool {self!r}", ResourceWarning, stacklevel=2, source=self)

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()
