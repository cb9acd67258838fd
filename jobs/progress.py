"""``jobs.report_progress`` inside a job, ``job.progress`` in the client: how far a long job got.

RQ users write ``job.meta`` by hand for this (and lose it when the worker saves the job over it,
rq#784). Here one call works on every backend:

- ``local://``: the worker process sends the report to the parent over the pipe its results
  travel on; ``job.progress`` reads what the parent last heard.
- Redis (``workers supervise``, a plain ``rq worker``, ``fakeredis://``): the report is stored
  in the job's ``meta`` (:data:`jobs.rq_format.markers.PROGRESS`), where rq-dashboard shows it
  and where it stays once the job ended.

A tight loop calling it cannot flood Redis or the pipe: per job, a report is sent at most once
every :data:`MIN_INTERVAL_S` (0.25 s: at most 4 writes a second), except the first one and one
that reaches its total, which always go out. A report that falls inside the interval is
dropped; the next one after it carries the newer figures.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from .backends.redis_errors import TRANSIENT_ERRORS
from .errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["Progress", "report_progress", "MIN_INTERVAL_S"]

#: Least seconds between two reports sent for one job (a final report is never held back).
MIN_INTERVAL_S = 0.25


class Progress(NamedTuple):
    """How far a job got: ``done`` of ``total`` (None: unknown), and a short ``message``."""

    done: float
    total: float | None = None
    message: str | None = None

    @property
    def final(self) -> bool:
        return self.total is not None and self.done >= self.total


class Throttle:
    """Lets through the first report of a job, a final one, and others :data:`MIN_INTERVAL_S` apart."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._job: object = None
        self._sent_at = -math.inf
        self._lock = threading.Lock()

    def allow(self, job: object, progress: Progress) -> bool:
        with self._lock:
            now = self._clock()
            if job != self._job or progress.final or now - self._sent_at >= MIN_INTERVAL_S:
                self._job, self._sent_at = job, now
                return True
            return False


#: Where a local:// worker process sends reports (set by the child around each call).
_local_sink: Callable[[Progress], bool] | None = None
_redis_throttle = Throttle()


def set_local_sink(sink: Callable[[Progress], bool] | None) -> None:
    """For ``local://`` worker processes: the function that sends the running call's reports."""
    global _local_sink
    _local_sink = sink


def report_progress(done: float, total: float | None = None, message: str | None = None) -> bool:
    """Tell whoever watches this job how far it got; call it as often as you like.

    Returns True inside a job (the report is sent, or dropped by the rate limit, or not stored
    because Redis is unreachable: a report never fails the job), False outside one, where it
    does nothing. Raises :class:`jobs.ConfigError`
    for a ``done`` or ``total`` that is not a finite number >= 0, or a non-str ``message``.
    """
    progress = checked(done, total, message)
    if _local_sink is not None:
        return _local_sink(progress)
    from rq.job import get_current_job

    job = get_current_job()
    if job is None:
        return False
    if _redis_throttle.allow(job.id, progress):
        from .rq_format.progress import write

        try:
            write(job, progress)
        except TRANSIENT_ERRORS as exc:  # a report must never fail the job that makes it
            log.warning("job %s: progress report not stored (Redis: %s)", job.id, type(exc).__name__)
    return True


def checked(done: object, total: object, message: object) -> Progress:
    for name, value in (("done", done), ("total", total)):
        if value is None and name == "total":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"report_progress: {name} must be a finite number >= 0, not {value!r}")
    if message is not None and not isinstance(message, str):
        raise ConfigError(f"report_progress: message must be a str or None, not {type(message).__name__}")
    return Progress(done, total, message)  # type: ignore[arg-type]  # checked above
