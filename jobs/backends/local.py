"""``local://N``: jobs run in N worker processes on this machine, no server needed.

Unlike ``multiprocessing.Pool`` (which hangs for ever when a worker is SIGKILLed mid-task,
cpython#96062), a dead worker is replaced and its job re-run, up to ``max_losses`` times, then
the job ends with :class:`jobs.JobLost`.

``local://N?threads=T&max_async=M`` runs up to T calls at once in each process on threads and up
to M ``async def`` calls at once on one event loop per process, for I/O-bound calls
(:mod:`jobs.backends.local_concurrent`); a call is marked async here, from its function.

Job records live as long as a :class:`jobs.Job` handle refers to them (or until they end, for
jobs nobody holds): a long-lived queue does not grow without bound.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import itertools
import os
import queue as queue_module
import time
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import (
    ConfigError,
    JobCanceled,
    JobFailed,
    JobLost,
    JobNotFound,
    JobsError,
    ResultTimeout,
    SerializationError,
)
from ..functions import dumps_function
from ..options import JobOptions
from ..progress import Progress
from ..remote_errors import rebuild
from ..rq_format.markers import DEFAULT_MAX_LOSSES
from ..schedules import Schedule, ScheduleSpec
from ..serializers import PickleSerializer, check_dumps
from ..status import JobStatus
from .base import Backend, MapCall
from .local_child import Kind, Outcome
from .local_deps import Waiting
from .local_pool import ProcessPool, Task
from .local_schedules import LocalSchedules

__all__ = ["LocalBackend"]

_live_backends: weakref.WeakSet[LocalBackend] = weakref.WeakSet()


@atexit.register
def _terminate_at_exit() -> None:
    for backend in list(_live_backends):
        backend.terminate()


class LocalBackend(Backend):
    """Jobs in worker processes of ``multiprocessing``; see the module docstring."""

    def __init__(self, processes: int, serializer: Any, threads: int = 1, max_async: int = 0) -> None:
        self._serializer = serializer
        self._processes, self._threads, self._max_async = processes, threads, max_async
        self._prefix = f"local-{os.getpid()}-{id(self):x}-"
        self._seq = itertools.count(1)
        self._tasks: weakref.WeakValueDictionary[int, Task] = weakref.WeakValueDictionary()
        self._named: weakref.WeakValueDictionary[str, Task] = weakref.WeakValueDictionary()  # job_id= ids
        self._func_cache: dict[Any, bytes] = {}
        self._pool = ProcessPool(processes, serializer, threads=threads, max_async=max_async)
        self._schedules = LocalSchedules(lambda spec: self.submit(spec.func, spec.args, spec.kwargs, JobOptions()))
        _live_backends.add(self)

    def __repr__(self) -> str:
        return f"<LocalBackend processes={self._processes} threads={self._threads} max_async={self._max_async}>"

    def _is_async(self, func: Callable[..., Any]) -> bool:
        """Whether ``func``'s calls go to its worker's event loop (only with ``max_async``): the
        parent counts them against that bound, so it must know before it sends them."""
        if not self._max_async:
            return False
        while isinstance(func, functools.partial):
            func = func.func
        if inspect.iscoroutinefunction(func):
            return True
        return not inspect.isroutine(func) and inspect.iscoroutinefunction(type(func).__call__)  # an async __call__

    # -- submitting -----------------------------------------------------------------------

    def _function_blob(self, func: Callable[..., Any]) -> bytes:
        if not isinstance(func, (types.FunctionType, types.BuiltinFunctionType)):
            return dumps_function(func)  # a bound method or callable object: caching would keep its instance alive
        try:
            blob = self._func_cache.get(func)
        except TypeError:  # an unhashable callable
            return dumps_function(func)
        if blob is None:
            blob = dumps_function(func)
            if len(self._func_cache) > 1024:
                self._func_cache.clear()
            self._func_cache[func] = blob
        return blob

    def submit(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions) -> tuple[str, Any]:
        task, job_id, parents = self._task_of(func, args, kwargs, options)
        if parents:  # waits, deferred, for its parents (jobs.backends.local_deps)
            task.state = JobStatus.DEFERRED
            Waiting(task, job_id, (args, kwargs), parents, options.allow_failure, self._pool, self._serializer,
                    self._value).start()
        else:
            self._pool.submit(task)
        return job_id, task

    def submit_later(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions,
                     run_at: float) -> tuple[str, Any]:
        task, job_id, _ = self._task_of(func, args, kwargs, options)  # (Queue refuses parents with a time)
        # A timer in the pool: the dispatcher wakes at the task's time (monotonic, so a clock
        # change after the call does not move it).
        self._pool.submit(task, due=time.monotonic() + max(0.0, run_at - time.time()))
        return job_id, task

    def _task_of(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 options: JobOptions) -> tuple[Task, str, dict[str, Task]]:
        blob = self._function_blob(func)
        payload = check_dumps(self._serializer, (args, kwargs), f"the arguments of {getattr(func, '__qualname__', func)!r}")
        if options.job_id is not None and options.job_id in self._named:
            raise ConfigError(f"a job with id {options.job_id!r} already exists on this local queue: choose another "
                              f"job_id, or get the existing one with q.job({options.job_id!r})")
        parents = {parent_id: self._task(parent_id) for parent_id in options.parents}  # JobNotFound first
        seq = next(self._seq)
        job_id = options.job_id or f"{self._prefix}{seq}"
        task = Task(seq, Kind.CALL, blob, payload, timeout=options.timeout,
                    max_losses=options.max_losses or DEFAULT_MAX_LOSSES, retries=options.retries, options=options)
        task.is_async = self._is_async(func)
        self._tasks[seq] = task
        if options.job_id is not None:
            self._named[job_id] = task
        return task, job_id, parents

    # -- recurring jobs ---------------------------------------------------------------------

    def schedule(self, spec: ScheduleSpec) -> Schedule:
        self._function_blob(spec.func)  # refuse what cannot reach a worker before keeping it
        check_dumps(self._serializer, (spec.args, spec.kwargs), f"the arguments of schedule {spec.name!r}")
        return self._schedules.put(spec)

    def schedules(self) -> list[Schedule]:
        return self._schedules.all()

    def unschedule(self, name: str) -> bool:
        return self._schedules.remove(name)

    def _task(self, job_id: str) -> Task:
        task = self._named.get(job_id) if isinstance(job_id, str) else None
        if task is None and isinstance(job_id, str) and job_id.startswith(self._prefix):
            tail = job_id[len(self._prefix):]
            if tail.isdigit():
                task = self._tasks.get(int(tail))
        if task is None:
            raise JobNotFound(f"no job {job_id!r} on this local queue (local jobs live in the process that enqueued them)")
        return task

    def exists(self, job_id: str) -> bool:
        try:
            self._task(job_id)
        except JobsError:
            return False
        return True

    # -- results --------------------------------------------------------------------------

    def status(self, job_id: str) -> JobStatus:
        task = self._task(job_id)
        if task.state == JobStatus.STARTED and not task.running():
            return JobStatus.QUEUED  # prefetched: waiting in its worker's pipe
        return task.state

    def progress(self, job_id: str) -> Progress | None:
        return self._task(job_id).progress

    def result(self, job_id: str, timeout: float | None) -> Any:
        task = self._task(job_id)
        if not self._pool.wait(task, timeout):
            raise ResultTimeout(f"job {job_id} did not end within {timeout} s; it goes on running")
        return self._value(task, job_id)

    def _value(self, task: Task, job_id: str | None) -> Any:
        if isinstance(task.data, JobsError):  # ended by a parent's failure or cancel (local_deps)
            raise task.data
        if task.state == JobStatus.FINISHED:
            return self._serializer.loads(task.data)
        if task.state == JobStatus.CANCELED:
            raise JobCanceled(f"job {job_id} was canceled before it ran")
        outcome, data = task.outcome, task.data
        if outcome == Outcome.ERROR:
            exception = rebuild(data.pickled, data.traceback) if self._serializer is PickleSerializer else None
            raise JobFailed(f"{data.exc_type}: {data.message}", job_id=job_id, exc_type=data.exc_type,
                            remote_traceback=data.traceback, exception=exception)
        if outcome == Outcome.UNSERIALIZABLE:
            raise SerializationError(f"job {job_id}: {data}")
        if outcome == Outcome.LOST:
            raise JobLost(f"job {job_id} {data}", job_id=job_id, exc_type="JobLost")
        assert outcome == Outcome.BROKEN, outcome
        raise JobsError(f"job {job_id}: {data}")

    def cancel(self, job_id: str) -> bool:
        return self._pool.cancel(self._task(job_id))

    # -- map ------------------------------------------------------------------------------

    def imap(self, call: MapCall) -> Iterator[Any]:
        return self._imap(call, ordered=True)

    def imap_unordered(self, call: MapCall) -> Iterator[Any]:
        return self._imap(call, ordered=False)

    def _imap(self, call: MapCall, ordered: bool) -> Iterator[Any]:
        deadline = None if call.timeout is None else time.monotonic() + call.timeout
        blob = self._function_blob(call.func)
        values = call.items
        is_async = self._is_async(call.func)  # a chunk is one async call: its items awaited in turn
        # about four chunks per call a worker runs at once, so the threads or the loop are used
        width = self._processes * (self._max_async if is_async else self._threads)
        chunksize = call.chunksize or _pool_chunksize(len(values), width)
        listener: queue_module.SimpleQueue[Task] | None = None if ordered else queue_module.SimpleQueue()
        kind = Kind.STARCHUNK if call.star else Kind.CHUNK
        tasks = []
        for start in range(0, len(values), chunksize):
            chunk = values[start:start + chunksize]
            payload = check_dumps(self._serializer, chunk, f"item(s) {start}-{start + len(chunk) - 1} of the map")
            tasks.append(Task(next(self._seq), kind, blob, payload, listener=listener, first_index=start, size=len(chunk)))
            tasks[-1].is_async = is_async
        self._pool.submit_many(tasks)
        # chunk by chunk, flattened in C: a per-item generator step costs a third of a tiny map
        return itertools.chain.from_iterable(self._collect(tasks, listener, deadline))

    def _collect(self, tasks: list[Task], listener: Any, deadline: float | None) -> Iterator[list[Any]]:
        """Each chunk's values, in order or as chunks end; cancels what has not started when left early."""
        try:
            if listener is None:
                for task in tasks:
                    self._wait_until(task, deadline)
                    yield self._chunk_values(task)
            else:
                for _ in tasks:
                    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                    try:
                        task = listener.get(timeout=remaining)
                    except queue_module.Empty:
                        raise ResultTimeout("the map did not finish within its timeout; its jobs go on") from None
                    yield self._chunk_values(task)
        finally:
            for task in tasks:  # stop what has not started when the caller stops early or fails
                self._pool.cancel(task)

    def _wait_until(self, task: Task, deadline: float | None) -> None:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._pool.wait(task, remaining):
            raise ResultTimeout("the map did not finish within its timeout; its jobs go on")

    def _chunk_values(self, task: Task) -> list[Any]:
        if task.state == JobStatus.FINISHED:
            return self._serializer.loads(task.data)
        try:
            return self._value(task, None)  # raises
        except JobFailed as exc:
            offset_in_chunk = (task.data.item or 0) if task.outcome == Outcome.ERROR else 0
            raise exc.at_index(task.first_index + offset_in_chunk) from None

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._schedules.stop()
        self._pool.close()
        _live_backends.discard(self)

    def terminate(self) -> None:
        self._schedules.stop()
        self._pool.terminate()


def _pool_chunksize(n_items: int, workers: int) -> int:
    """``Pool.map``'s default: about four chunks per worker (a thread or an async slot counts as one)."""
    chunksize, extra = divmod(n_items, workers * 4)
    return max(1, chunksize + (1 if extra else 0))

