"""The handle ``Queue.enqueue`` returns: like ``concurrent.futures.Future``, but by id.

A :class:`Job` holds only its id and its backend, so ``q.job(job_id)`` in another process gives
an equal handle to the same job.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .status import ENDED, JobStatus

if TYPE_CHECKING:
    from .backends.base import Backend
    from .progress import Progress

__all__ = ["Job"]


class Job:
    """One enqueued call. ``status`` asks the backend each time; ``result()`` waits."""

    __slots__ = ("_backend", "_id", "_keepalive")

    def __init__(self, backend: Backend, job_id: str, keepalive: Any = None) -> None:
        self._backend = backend
        self._id = job_id
        self._keepalive = keepalive  # local:// keeps a job's record while a handle exists

    @property
    def id(self) -> str:
        return self._id

    @property
    def status(self) -> JobStatus:
        """``"queued"``, ``"started"``, ``"finished"``, ``"failed"`` or ``"canceled"``."""
        return self._backend.status(self._id)

    @property
    def progress(self) -> Progress | None:
        """What the job last said with :func:`jobs.report_progress`: a :class:`jobs.Progress`
        ``(done, total, message)``, or None when it said nothing (yet). Asks the backend each time."""
        return self._backend.progress(self._id)

    def done(self) -> bool:
        """True once the job finished, failed or was canceled."""
        return self.status in ENDED

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return its value, as ``Future.result(timeout)`` does.

        Raises :class:`jobs.JobFailed` (remote type name and traceback attached) when the job
        raised, :class:`jobs.JobLost` when its worker died too often, :class:`jobs.JobCanceled`
        when it was canceled, and :class:`jobs.ResultTimeout` — a builtin ``TimeoutError`` —
        when ``timeout`` seconds pass first; the job itself goes on. ``timeout=None`` waits for
        the job however long it runs, but never for a dead worker: that is ``JobLost``.
        """
        return self._backend.result(self._id, timeout)

    def cancel(self) -> bool:
        """Keep the job from running; True when it will not run (False once it has started)."""
        return self._backend.cancel(self._id)

    def __await__(self) -> Generator[Any, None, Any]:
        """``await job``: the value, or what :meth:`result` raises. Never blocks the event loop;
        cancelling the ``await`` leaves the job running (see :mod:`jobs.aio`)."""
        from .aio import wait_for_job

        return wait_for_job(self).__await__()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other._id == self._id and other._backend is self._backend

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"<jobs.Job {self._id}>"
