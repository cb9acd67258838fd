"""Writing a batch's outcomes in RQ's format: one MULTI/EXEC per batch instead of ~20 calls per job.

:class:`BatchWrites` is a mixin for :class:`workers.worker.BatchWorker`; it uses the RQ worker's
``connection``, ``name``, ``key`` and ``default_result_ttl``, and the batch worker's
``_pending`` outcomes, ``_held`` list and ``held_key``. What it writes per job is what RQ's own
worker writes: status and ``ended_at`` in the job hash, a :class:`rq.results.Result` in the
result stream, the finished or failed registry (or RQ's retry), the job's expiry; per batch:
the started-registry removals, the held-list trim and the worker's job counters.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis
from rq.job import Job, JobStatus
from rq.job_lifecycle import format_exc_info
from rq.queue import Queue
from rq.registry import FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.utils import now, utcformat

log = logging.getLogger(__name__)
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@dataclass
class Outcome:
    job: Job | None  # None: the job hash was gone when dequeued; only its held entry is settled
    queue: Queue
    ok: bool
    value: Any = None
    exc_string: str = ""


class BatchWrites:
    """Mixin: flush the pending outcomes of a batch (see the module docstring)."""

    _pending: list[Outcome]
    _held: list[tuple[str, str]]
    _stop_requested: bool
    held_key: str
    connection: Any
    name: str
    key: str
    default_result_ttl: int

    def _flush_with_retry(self) -> None:
        delay = 0.1
        while True:
            try:
                self._flush()
                return
            except _REDIS_ERRORS as exc:
                if self._stop_requested:
                    raise  # stopping: _settle tries a few more times, then the supervisor re-queues
                log.warning("worker %s: cannot write results (%s); retrying in %.1f s", self.name, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _flush(self) -> None:
        """Write every pending outcome in RQ's format, in one pipeline, then forget them."""
        settled = len(self._pending)
        if settled == 0:
            return
        ok_count = 0
        finished: dict[str, dict[str, float]] = {}
        # MULTI/EXEC: a child killed mid-write leaves all of a batch's state or none of it.
        with self.connection.pipeline(transaction=True) as pipe:
            for out in self._pending:
                if out.job is None:
                    continue
                if out.ok and self._write_success(out, pipe, finished):
                    ok_count += 1
                elif not out.ok:
                    self._write_failure(out, pipe)
            for qname, scores in finished.items():
                pipe.zadd(FinishedJobRegistry(qname, connection=self.connection).key, scores)
            wip: dict[str, list[str]] = {}
            for qname, job_id in self._held[:settled]:
                wip.setdefault(qname, []).append(f"{job_id}:{self.name}")
            for qname, members in wip.items():
                pipe.zrem(StartedJobRegistry(qname, connection=self.connection).key, *members)
            pipe.ltrim(self.held_key, settled, -1)
            if ok_count:
                pipe.hincrby(self.key, "successful_job_count", ok_count)
            failed_count = sum(1 for out in self._pending if out.job is not None and not out.ok)
            if failed_count:
                pipe.hincrby(self.key, "failed_job_count", failed_count)
            dependents = [out.job.dependents_key for out in self._pending if out.job is not None]
            if dependents:
                pipe.exists(*dependents)
            replies = pipe.execute()
        pending, self._pending = self._pending, []
        self._held = self._held[settled:]
        if dependents and replies[-1]:
            self._enqueue_dependents(pending)

    def _write_success(self, out: Outcome, pipe: Any, finished: dict[str, dict[str, float]]) -> bool:
        """Queue a success's writes; False (and a failure written instead) if the result cannot be stored."""
        job = out.job
        assert job is not None
        ttl = job.get_result_ttl(self.default_result_ttl)
        if ttl != 0:
            try:  # the result is serialized before anything is queued, so a failure leaves no trace
                Result.create(job, Result.Type.SUCCESSFUL, ttl, return_value=out.value, worker_name=self.name,
                              pipeline=pipe, execution_id=self.name, execution_started_at=job.started_at,
                              execution_ended_at=job.ended_at)
            except Exception:  # noqa: BLE001 - e.g. an unpicklable return value: the job failed
                out.ok, out.exc_string = False, format_exc_info(sys.exc_info())
                self._write_failure(out, pipe)
                return False
        job._status = JobStatus.FINISHED
        ended = utcformat(job.ended_at or now())
        pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": ended, "last_heartbeat": ended})
        if ttl == 0:
            job.delete(pipeline=pipe, remove_from_queue=False)
            return True
        if ttl > 0:
            pipe.expire(job.key, ttl)
        finished.setdefault(job.origin, {})[job.id] = ttl if ttl < 0 else time.time() + ttl
        return True

    def _write_failure(self, out: Outcome, pipe: Any) -> None:
        job = out.job
        assert job is not None
        if job.should_retry:
            job.retry(out.queue, pipe)
            return
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=out.exc_string, pipeline=pipe)
        Result.create_failure(job, job.failure_ttl, exc_string=out.exc_string, worker_name=self.name,
                              pipeline=pipe, execution_id=self.name, execution_started_at=job.started_at,
                              execution_ended_at=job.ended_at)

    def _enqueue_dependents(self, outcomes: list[Outcome]) -> None:
        for out in outcomes:
            if out.job is not None and self.connection.exists(out.job.dependents_key):
                out.queue.enqueue_dependents(out.job)
