"""Due scheduled jobs back onto their queues: RQ retries with an interval, ``enqueue_in``/``at``.

RQ parks such a job in its ScheduledJobRegistry and relies on a scheduler to move it back when
it is due; without one, ``enqueue_call(retries=2, retry_interval=5)`` would wait for ever. The
supervisor drives RQ's own :class:`rq.scheduler.RQScheduler` from its loop (about once a second)
instead of forking a process for it. RQ's per-queue scheduler lock means one scheduler in the
whole fleet moves a queue's jobs; a supervisor that did not get the lock tries again each tick,
so when the holder dies its lock (60 s TTL) passes on.
"""

from __future__ import annotations

import logging

import redis
from rq.scheduler import RQScheduler

from jobs.backends.redis_errors import TRANSIENT_ERRORS

log = logging.getLogger(__name__)




class ScheduledJobs:
    """One tick at a time of RQ's scheduler; safe to call when Redis is down (it skips)."""

    def __init__(self, connection: redis.Redis, queues: tuple[str, ...], serializer: str, log_level: str) -> None:
        self._queues = set(queues)
        self._scheduler = RQScheduler(list(queues), connection=connection, serializer=serializer,
                                      interval=1, logging_level=log_level)
        self._registered = False
        self._warned = False

    @property
    def rq_scheduler(self) -> RQScheduler:
        """RQ's own scheduler behind the ticks (its locks and registration), for code that inspects it."""
        return self._scheduler

    def tick(self) -> None:
        scheduler = self._scheduler
        try:
            if not self._registered:
                scheduler.register_birth()
                self._registered = True
            if scheduler.acquired_locks != self._queues:
                scheduler.acquire_locks()
            if scheduler.acquired_locks:
                scheduler.heartbeat()
                scheduler.enqueue_scheduled_jobs()
        except TRANSIENT_ERRORS as exc:
            log.debug("scheduler tick skipped: %s", type(exc).__name__)
        except redis.exceptions.RedisError as exc:
            # e.g. an ACL that denies a command: scheduled jobs wait, the workers go on.
            if not self._warned:
                log.warning("scheduled jobs cannot be moved to their queues: Redis said %s", exc)
                self._warned = True

    def stop(self) -> None:
        """Release the locks at once, so another supervisor takes over without waiting."""
        try:
            if self._registered:
                self._scheduler.stop()
        except redis.exceptions.RedisError as exc:
            log.debug("scheduler stop: %s", type(exc).__name__)
