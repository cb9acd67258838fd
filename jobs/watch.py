"""Many jobs watched by one thread, each handed to a callback as it ends.

``jobs.Pool``'s ``AsyncResult`` callbacks and ``jobs.Executor``'s futures need someone to notice
that a job ended while the caller is doing something else; ``multiprocessing.Pool`` has a
result-handler thread for it, and so does each :class:`Watcher` (started with the first job).

- ``local://``: a job's record is handed to the watcher by the dispatcher the moment it ends
  (the task's ``listener``), so no polling and no round trip.
- Redis: one ``XREAD`` over up to 512 jobs' result streams, blocking at most
  :data:`BLOCK_S`, so a job added while the read blocks waits at most that long; when nothing
  ends for :data:`CHECK_AFTER_S` the statuses are read, so a canceled or expired job ends too.
- ``fakeredis://``: the watcher thread runs the queued jobs itself (nothing else would).

The callback gets ``(True, value)`` or ``(False, exception)`` (the exception ``Job.result()``
would raise) in the watcher thread, so it must be quick and must not block on other jobs.
"""

from __future__ import annotations

import functools
import logging
import queue as queue_module
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import JobCanceled, JobNotFound, JobsError
from .job import Job
from .status import JobStatus

__all__ = ["Watcher", "OnEnd", "shared_watcher"]

log = logging.getLogger(__name__)
OnEnd = Callable[[bool, Any], None]
#: Longest a Redis watcher blocks in one read (seconds).
BLOCK_S = 0.05
#: A watcher thread with nothing to watch for this long ends (the next job starts another).
IDLE_EXIT_S = 5.0
#: A Redis watcher that saw nothing end for this long reads its jobs' statuses (seconds).
CHECK_AFTER_S = 1.0


class Watcher:
    """Calls ``on_end`` once for every job given to :meth:`add`, when it ends."""

    def __init__(self, backend: Any) -> None:
        from .backends.local import LocalBackend

        self._impl: _LocalWatch | _RedisWatch = _LocalWatch(backend) if isinstance(backend, LocalBackend) else _RedisWatch(backend)

    def add(self, job: Job, on_end: OnEnd) -> None:
        self._impl.add(job, on_end)

    def discard(self, job: Job) -> None:
        """Stop watching ``job`` (its callback is not called)."""
        self._impl.discard(job)

    def close(self) -> None:
        """Stop the thread; jobs still watched are not reported. Safe twice."""
        self._impl.close()


_shared_lock = threading.Lock()


def shared_watcher(backend: Any) -> Watcher:
    """The one watcher of a backend that ``await job`` uses (kept on the backend)."""
    with _shared_lock:
        watcher = getattr(backend, "_jobfleet_watcher", None)
        if watcher is None:
            watcher = backend._jobfleet_watcher = Watcher(backend)
        return watcher


def _outcome(read: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, read()
    except BaseException as exc:  # noqa: BLE001 - the job's failure, handed to the callback
        return False, exc


def _call(on_end: OnEnd, ok: bool, value: Any) -> None:
    try:
        on_end(ok, value)
    except Exception:  # noqa: BLE001 - a failing callback must not stop the watcher
        log.exception("a job's completion callback raised")


class _LocalWatch:
    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._ended: queue_module.SimpleQueue[Any] = queue_module.SimpleQueue()
        self._watched: dict[int, tuple[Job, list[OnEnd]]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, job: Job, on_end: OnEnd) -> None:
        task = job._keepalive
        with self._lock:
            entry = self._watched.setdefault(task.seq, (job, []))
            entry[1].append(on_end)
            if len(entry[1]) > 1:
                return  # already listened to
            self._start()
        with self._backend._pool.done:  # the dispatcher ends tasks under this lock: no end is missed
            if task.ended():
                self._ended.put(task)
            elif task.listener is None:
                task.listener = self._ended
            else:  # another watcher (or an unordered map) listens too
                task.listener = _Both(task.listener, self._ended)

    def discard(self, job: Job) -> None:
        with self._lock:
            self._watched.pop(job._keepalive.seq, None)

    def _start(self) -> None:
        """Under ``_lock``: a thread, unless one runs (it leaves after IDLE_EXIT_S with nothing watched)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jobfleet-watcher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                task = self._ended.get(timeout=IDLE_EXIT_S)
            except queue_module.Empty:
                with self._lock:
                    if not self._watched:
                        self._thread = None
                        return
                continue
            if task is None:
                return
            self._deliver(task)

    def _deliver(self, task: Any) -> None:
        """In a function of its own so that nothing it touched (a result) outlives the call."""
        with self._lock:
            entry = self._watched.pop(task.seq, None)
        if entry is not None:
            job, callbacks = entry
            for on_end in callbacks:
                _call(on_end, *_outcome(functools.partial(self._backend._value, task, job.id)))

    def close(self) -> None:
        if self._thread is not None:
            self._ended.put(None)


class _Both:
    """Two listeners of one local task."""

    __slots__ = ("first", "second")

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def put(self, task: Any) -> None:
        self.first.put(task)
        self.second.put(task)


class _RedisWatch:
    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._watched: dict[str, list[OnEnd]] = {}
        self._positions: dict[str, str] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, job: Job, on_end: OnEnd) -> None:
        with self._changed:
            self._watched.setdefault(job.id, []).append(on_end)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jobfleet-watcher", daemon=True)
                self._thread.start()
            self._changed.notify()

    def discard(self, job: Job) -> None:
        with self._changed:
            self._watched.pop(job.id, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        quiet_since = time.monotonic()
        while True:
            with self._changed:
                idle_since = time.monotonic()
                while not self._watched and not self._closed:
                    if time.monotonic() - idle_since > IDLE_EXIT_S:
                        self._thread = None
                        return
                    self._changed.wait(1.0)
                if self._closed:
                    return
                window = list(self._watched)[:512]
            try:
                ended = self._read(window)
                if not ended and time.monotonic() - quiet_since > CHECK_AFTER_S:
                    ended = self._check(window)
                    quiet_since = time.monotonic()
            except JobsError as exc:  # Redis is gone: fail what we watch rather than hang it
                ended = [(job_id, False, exc) for job_id in window]
            if ended:
                quiet_since = time.monotonic()
                self._deliver(ended)
                del ended  # no result outlives its delivery

    def _deliver(self, ended: list[tuple[str, bool, Any]]) -> None:
        for job_id, ok, value in ended:
            with self._changed:
                callbacks = self._watched.pop(job_id, [])
                self._positions.pop(job_id, None)
            for on_end in callbacks:
                _call(on_end, ok, value)

    def _read(self, window: list[str]) -> list[tuple[str, bool, Any]]:
        from .backends.base import RunsInProcess
        from .backends.redis_errors import translated
        from .rq_format import results

        backend = self._backend
        in_process = isinstance(backend, RunsInProcess)
        if in_process:
            backend.run_pending()
        with translated(backend._server):
            found = list(results.read_many(backend._client, {i: self._positions.get(i, "0-0") for i in window},
                                           backend._serializer, None if in_process else int(BLOCK_S * 1000)))
        ended = []
        for job_id, last, outcome in found:
            self._positions[job_id] = last
            if outcome is not None:
                ended.append((job_id, *_outcome(outcome.get)))
        if not found and in_process:
            time.sleep(BLOCK_S / 5)  # fakeredis cannot block; its jobs just ran, or wait for a retry
        return ended

    def _check(self, window: list[str]) -> list[tuple[str, bool, Any]]:
        """Jobs that will write no result: canceled, gone, or failed without a result entry."""
        backend = self._backend
        statuses = [(job_id, _outcome(functools.partial(backend.status, job_id))) for job_id in window]
        ended: list[tuple[str, bool, Any]] = []
        for job_id, (ok, status) in statuses:
            if not ok and isinstance(status, JobNotFound):
                ended.append((job_id, False, JobNotFound(f"job {job_id} is gone (deleted or expired) before it ended")))
            elif ok and status == JobStatus.CANCELED:
                ended.append((job_id, False, JobCanceled(f"job {job_id} was canceled before it ran")))
            elif ok and status == JobStatus.FAILED:
                ended.append((job_id, *_outcome(functools.partial(backend.result, job_id, 0.5))))
        return ended
