"""The batch worker's heartbeat thread: its RQ worker key and its held jobs' started entries.

It runs in a thread so a long job does not make its worker look dead to ``rq info`` or to RQ's
abandoned-job cleanup (which would fail a job whose started-registry entry expired). Between
beats it lets the :class:`workers.batch_guard.BatchGuard` look at the running job.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq.utils import now
from rq.worker_registration import register

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.rq_format import keys, state

from .batch_guard import CHECK_INTERVAL_S

log = logging.getLogger(__name__)


def heartbeat_loop(worker: Any) -> None:
    """Beat every ``worker.heartbeat_interval_s`` until ``worker._stop_heartbeat``; never raises on Redis errors."""
    client = worker.connection
    while not worker._stop_heartbeat:
        try:
            held = worker._held
            with client.pipeline(transaction=False) as pipe:
                worker.last_heartbeat = now()
                # The whole registration, not just the time: after a Redis restart the worker
                # reappears complete in rq info.
                pipe.hset(worker.key, mapping={**worker.serialize(), "state": worker.get_state() or state.IDLE,
                                               "total_working_time": worker.total_working_time})
                pipe.expire(worker.key, worker.worker_ttl + 60)
                register(worker, pipe)
                score = time.time() + worker.worker_ttl + 60
                for qname, job_id in held:
                    pipe.zadd(keys.started_registry(qname), {keys.started_member(job_id, worker.name): score}, xx=True)
                pipe.execute()
        except TRANSIENT_ERRORS as exc:
            log.debug("worker %s: heartbeat failed: %s", worker.name, exc)
        deadline = time.monotonic() + worker.heartbeat_interval_s
        while not worker._stop_heartbeat and time.monotonic() < deadline:
            try:
                worker._guard.check()
                worker._runner.check()  # --threads: a job past its timeout (workers.job_runner)
            except Exception:  # noqa: BLE001 - this thread keeps the worker alive in Redis: it must not die
                log.exception("worker %s: batch guard or timeout watchdog failed", worker.name)
            time.sleep(CHECK_INTERVAL_S)
