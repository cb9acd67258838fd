"""One error tree for everything jobfleet raises.

::

    JobsError                      anything jobfleet raises on purpose
    ├── ConfigError (ValueError)   a bad URL, option or argument: fix the call
    ├── BackendUnavailable         Redis cannot be reached or refused us: start it / fix the address
    │     (ConnectionError)
    ├── SerializationError         an argument, result or function cannot travel to a worker
    │     (TypeError)
    ├── JobFailed                  the job ran and raised; carries the remote type name and traceback
    │   └── JobLost                the job's worker died more times than allowed
    ├── JobCanceled                the job was canceled before it ran
    ├── JobNotFound (LookupError)  no job has that id (never enqueued, or expired)
    └── ResultTimeout              result(timeout) ran out; the job goes on
          (TimeoutError)

Errors of lower layers (redis-py, RQ, pickle) are translated at the backend edge and chained
with ``from`` so the original stays in the traceback.  Each builtin base is there so that code
written against the standard library keeps working: ``except TimeoutError`` catches a wait that
ran out, exactly as with ``concurrent.futures.Future.result``.

No message ever holds a password: URLs are shown through :func:`jobs.urls.redact`.
"""

from __future__ import annotations

__all__ = [
    "JobsError",
    "ConfigError",
    "BackendUnavailable",
    "SerializationError",
    "JobFailed",
    "JobLost",
    "JobCanceled",
    "JobNotFound",
    "ResultTimeout",
]


class JobsError(Exception):
    """Root of every error jobfleet raises on purpose."""


class ConfigError(JobsError, ValueError):
    """A URL, option or argument is wrong; nothing was sent anywhere."""


class BackendUnavailable(JobsError, ConnectionError):
    """The backend (Redis) cannot be reached, or refused the credentials."""


class SerializationError(JobsError, TypeError):
    """A function, argument or result cannot be carried to or from a worker."""


class JobFailed(JobsError):
    """The job ran and raised.

    ``exc_type`` is the name of the remote exception's type (``"ZeroDivisionError"``),
    ``remote_traceback`` the worker's traceback text, ``index`` the position of the item
    when the job was part of a ``map``, ``exception`` the job's own exception rebuilt here
    (remote traceback as its ``__cause__``) or None when it could not travel: ``jobs.Pool`` and
    ``jobs.Executor`` raise that one, as the standard library does (see :mod:`jobs.remote_errors`).
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        exc_type: str = "",
        remote_traceback: str = "",
        index: int | None = None,
        exception: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.exc_type = exc_type
        self.remote_traceback = remote_traceback
        self.index = index
        self.exception = exception

    def at_index(self, index: int) -> "JobFailed":
        """A copy naming the ``map`` item this failure belongs to."""
        err = type(self)(
            f"item {index}: {self}",
            job_id=self.job_id,
            exc_type=self.exc_type,
            remote_traceback=self.remote_traceback,
            index=index,
            exception=self.exception,
        )
        return err


class JobLost(JobFailed):
    """The worker running the job died (SIGKILL, OOM, segfault) more times than allowed."""


class JobCanceled(JobsError):
    """The job was canceled before it ran, so it has no result."""


class JobNotFound(JobsError, LookupError):
    """No job has this id here: it was never enqueued on this queue, or its record expired."""


class ResultTimeout(JobsError, TimeoutError):
    """``result(timeout=...)`` ran out before the job ended; the job itself goes on."""
