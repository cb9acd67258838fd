"""Due scheduled jobs back onto their queues: RQ retries with an interval, ``enqueue_in``/``at``;
and, every few seconds, waiting jobs whose parents ended unnoticed (``dependency_sweep``).

RQ parks such a job in its ScheduledJobRegistry and relies on a scheduler to move it back when
it is due; without one, ``enqueue_call(retries=2, retry_interval=5)`` would wait for ever. The
supervisor drives RQ's own :class:`rq.scheduler.RQScheduler` from its loop instead of forking a
process for it. RQ's per-queue scheduler lock means one scheduler in the whole fleet moves a
queue's jobs; a supervisor that did not get the lock tries again each tick, so when the holder
dies its lock (60 s TTL) passes on.

RQ's scheduler compares whole seconds, once a second: a job due at 12.2 s moves at 13 s (or, as
RQ writes it, at 12 s, early). The lock holder moves jobs against ``time.time()`` itself
(:func:`jobs.rq_format.scheduled.move_due`) and wakes at the earliest job's time when that comes
before the next second, so a job runs within a few milliseconds of its time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from rq.scheduler import RQScheduler

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.rq_format import dependency_sweep, scheduled, schedules

log = logging.getLogger(__name__)
#: Seconds between ticks when no job is due sooner (a job written meanwhile is seen by then).
INTERVAL_S = 1.0

class ScheduledJobs:
    """One tick at a time of RQ's scheduler; safe to call when Redis is down (it skips)."""

    def __init__(self, connection: redis.Redis, queues: tuple[str, ...], serializer: str, log_level: str) -> None:
        self._connection = connection
        self._queues = set(queues)
        self._scheduler = RQScheduler(list(queues), connection=connection, serializer=serializer,
                                      interval=1, logging_level=log_level)
        self._registered = False
        self._warned: set[str] = set()
        self._next_sweep = 0.0

    @property
    def rq_scheduler(self) -> RQScheduler:
        """RQ's own scheduler behind the ticks (its locks and registration), for code that inspects it."""
        return self._scheduler

    def tick(self) -> float:
        """Fire due schedules, move due jobs of the queues whose lock we hold; seconds until the
        next tick is wanted. One failing (Redis down, an ACL that denies a command) does not
        stop the other, nor the workers."""
        return min(self._guarded(self._fire_schedules, "recurring schedules cannot fire"),
                   self._guarded(self._move_scheduled, "scheduled jobs cannot be moved to their queues"),
                   self._guarded(self._sweep_dependents, "waiting jobs cannot be checked"))

    def _guarded(self, step: Callable[[], float], what: str) -> float:
        try:
            return step()
        except TRANSIENT_ERRORS as exc:
            log.debug("%s this tick: %s", what, type(exc).__name__)
        except redis.exceptions.RedisError as exc:
            if what not in self._warned:
                log.warning("%s: Redis said %s", what, exc)
                self._warned.add(what)
        return INTERVAL_S

    def _move_scheduled(self) -> float:
        scheduler = self._scheduler
        if not self._registered:
            scheduler.register_birth()
            self._registered = True
        if scheduler.acquired_locks != self._queues:
            scheduler.acquire_locks()
        if not scheduler.acquired_locks:
            return INTERVAL_S
        scheduler.heartbeat()
        return self._move(sorted(scheduler.acquired_locks))

    def _sweep_dependents(self) -> float:
        """Every :data:`dependency_sweep.SWEEP_INTERVAL_S`: queue (or fail) the waiting jobs whose parents
        ended where no release counted them (a plain rq worker; see :mod:`jobs.rq_format.dependency_sweep`)."""
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + dependency_sweep.SWEEP_INTERVAL_S
            handled = dependency_sweep.sweep(self._connection, self._scheduler.serializer, sorted(self._queues))
            if handled:
                log.info("%d waiting jobs whose parents had ended were queued or failed", handled)
        return INTERVAL_S

    def _fire_schedules(self) -> float:
        """Every supervisor fires every due schedule of its queues (each tick once fleet-wide: see
        :mod:`jobs.rq_format.schedules`); seconds until the next one is due."""
        queues = sorted(self._queues)
        for name in queues:
            for fired in schedules.fire_due(self._connection, name, self._scheduler.serializer, time.time()):
                if fired.job_id:
                    log.debug("schedule %r: enqueued %s", fired.name, fired.job_id)
        return _until(schedules.next_due(self._connection, queues))

    def _move(self, queues: list[str]) -> float:
        serializer = self._scheduler.serializer
        for name in queues:
            scheduled.move_due(self._connection, name, serializer, time.time())
        self._scheduler.enqueue_scheduled_jobs()  # what RQ alone handles: rate-limited jobs
        return _until(scheduled.earliest_due(self._connection, queues))

    def stop(self) -> None:
        """Release the locks at once, so another supervisor takes over without waiting."""
        try:
            if self._registered:
                self._scheduler.stop()
        except redis.exceptions.RedisError as exc:
            log.debug("scheduler stop: %s", type(exc).__name__)


def _until(due: float | None) -> float:
    """Seconds to wait for a job or tick due at ``due``, within the next interval. What is due
    already was not ours to move (rate-limited: RQ moves it) or not ours to fire (fired by
    another supervisor a moment ago): no faster tick for it."""
    wait_s = INTERVAL_S if due is None else due - time.time()
    return wait_s if 0.0 < wait_s < INTERVAL_S else INTERVAL_S
