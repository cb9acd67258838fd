"""``jobs.Process``: ``multiprocessing.Process``'s API, the target run as a jobfleet job.

::

    from multiprocessing import Process     # before
    from jobs import Process                # after: local://1, or the queue JOBFLEET_URL names

``start()`` enqueues ``target(*args, **kwargs)`` (or an overridden ``run()``) on ``url``, else
``$JOBFLEET_URL``, else a ``local://1`` queue of its own; ``join(timeout)`` waits; ``exitcode``
is 0 when it returned, 1 when it raised (its traceback is printed here, to stderr, as
``multiprocessing`` prints it), or ``SystemExit``'s code. What the target prints reaches the
worker's output: the terminal on ``local://``, the worker's log on Redis.

Non-daemon processes are joined at interpreter exit, as ``multiprocessing`` does. A job queue
has no process to signal: ``terminate()`` and ``kill()`` cancel the job if it has not started.
"""

from __future__ import annotations

import itertools
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import JobFailed, JobsError, ResultTimeout
from .exit_hooks import at_exit
from .job import Job
from .pool import queue_url
from .queue import Queue
from .remote_errors import original

__all__ = ["Process"]

_counter = itertools.count(1)
_started: weakref.WeakSet[Process] = weakref.WeakSet()


def _join_at_exit() -> None:
    for process in list(_started):
        if not process.daemon and process._exitcode is None:
            process.join()


class Process:
    """``multiprocessing.Process`` on a jobfleet queue; see the module docstring."""

    def __init__(self, group: None = None, target: Callable[..., object] | None = None, name: str | None = None,
                 args: Iterable[Any] = (), kwargs: Mapping[str, Any] | None = None, *, daemon: bool | None = None,
                 url: str | None = None) -> None:
        if group is not None:
            raise AssertionError("group argument must be None for now")
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self.name = name or f"Process-{next(_counter)}"
        self.daemon = bool(daemon)
        self._url = url
        self._queue: Queue | None = None
        self._job: Job | None = None
        self._exitcode: int | None = None

    def __repr__(self) -> str:
        state = "initial" if self._job is None else ("started" if self._exitcode is None else f"stopped exitcode={self._exitcode}")
        return f"<jobs.Process name={self.name!r} {state}>"

    def __getstate__(self) -> dict[str, Any]:
        """A subclass's ``run`` travels with its instance: without the queue and the job."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_queue", "_job")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _queue=None, _job=None)

    def run(self) -> None:
        """What the job runs: ``target(*args, **kwargs)``; a subclass may override it."""
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def start(self) -> None:
        if self._job is not None:
            raise AssertionError("cannot start a process twice")
        self._queue = Queue(queue_url(self._url, 1))
        at_exit(_join_at_exit)
        if type(self).run is Process.run:
            if self._target is None:
                self._exitcode = 0
                self._job = self._queue.enqueue(len, ())  # nothing to run; keeps join() and exitcode uniform
                return
            self._job = self._queue.enqueue_call(self._target, self._args, self._kwargs)
        else:
            self._job = self._queue.enqueue(self.run)
        _started.add(self)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the job to end, or ``timeout`` seconds; then ``exitcode`` is set (or still None)."""
        if self._job is None:
            raise AssertionError("can only join a started process")
        if self._exitcode is None:
            try:
                self._job.result(timeout)
            except ResultTimeout:
                return
            except JobsError as exc:
                self._exitcode = self._failed(exc)
            else:
                self._exitcode = 0
        self._release()

    def _failed(self, exc: JobsError) -> int:
        raised = original(exc)
        if isinstance(raised, SystemExit):
            code = raised.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        text = exc.remote_traceback if isinstance(exc, JobFailed) and exc.remote_traceback else f"{type(exc).__name__}: {exc}\n"
        sys.stderr.write(f"Process {self.name}:\n{text}")
        sys.stderr.flush()
        return 1

    def _release(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None

    def is_alive(self) -> bool:
        if self._job is None or self._exitcode is not None:
            return False
        try:
            return not self._job.done()
        except JobsError:
            return False

    @property
    def exitcode(self) -> int | None:
        """None while the job runs; 0 when it returned, 1 when it raised."""
        if self._exitcode is None and self._job is not None and not self.is_alive():
            self.join(5.0)  # the job ended: its outcome is there at once (a Redis read needs a moment)
        return self._exitcode

    @property
    def job(self) -> Job | None:
        """The job running the target, once started."""
        return self._job

    def terminate(self) -> None:
        """Cancel the job if it has not started (a started job runs to its end)."""
        if self._job is not None and self._exitcode is None:
            try:
                self._job.cancel()
            except JobsError:
                pass

    kill = terminate

    def close(self) -> None:
        if self.is_alive():
            raise ValueError("Cannot close a process while it is still running. You should first call join() or terminate().")
        self._release()
