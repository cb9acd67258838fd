"""The records a worker leaves in RQ's format: a batch's outcomes, held jobs put back, jobs failed unrun.

What :class:`BatchWrite` queues per job is what RQ's own worker writes: status and ``ended_at``
in the job hash, a :class:`rq.results.Result` in the result stream, the finished or failed
registry (or RQ's retry), the job's expiry; per batch: the started-registry removals, the
held-list trim and the worker's job counters. It all goes in one MULTI/EXEC, so a child killed
mid-write leaves all of a batch's state or none of it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import redis
from rq.job import Job, JobStatus
from rq.job_lifecycle import format_exc_info, record_job_failure
from rq.queue import Queue
from rq.results import Result
from rq.utils import now

from ..sentinel import durability_of
from ..serializers import for_rq
from . import keys, timestamps
from .markers import FAILURE, Failure
from .scripts import FINISH_JOBS, FINISH_JOBS_SHA

logger = logging.getLogger(__name__)


def exc_text(exc_info: Any) -> str:
    """A failure's ``exc_string`` as RQ stores it (the whole traceback text)."""
    return format_exc_info(exc_info)


class BatchWrite:
    """The writes of one batch of finished jobs, on one transaction; :meth:`execute` sends them."""

    def __init__(self, connection: redis.Redis, worker_name: str, worker_key: str, default_result_ttl: int,
                 record_failures: bool = True) -> None:
        self.pipe: Any = connection.pipeline(transaction=True)
        self._connection = connection
        self._worker_name, self._worker_key = worker_name, worker_key
        self._default_result_ttl = default_result_ttl
        self._record_failures = record_failures  # False: RQ's disable_default_exception_handler
        self._finished: dict[str, dict[str, float]] = {}
        self._dependents: list[str] = []
        self._successes: list[Any] = []  # FINISH_JOBS's arguments, queued by _queue_successes()
        self._success_count = 0
        self.ok = self.failed = 0

    def success(self, job: Job, queue: Queue, value: Any) -> str | None:
        """Queue a success's writes. When the value cannot be stored (e.g. it does not pickle)
        the job failed instead: its failure is queued and the error text returned."""
        ttl = job.get_result_ttl(self._default_result_ttl)
        if ttl != 0:
            try:  # the result is serialized before anything is queued, so a failure leaves no trace
                # what RQ's Result.create saves, with the serializer RQ takes without a check (for_rq)
                fields = Result(job.id, Result.Type.SUCCESSFUL, job.connection, return_value=value,
                                worker_name=self._worker_name, serializer=for_rq(job.serializer),
                                execution_id=self._worker_name, execution_started_at=job.started_at,
                                execution_ended_at=job.ended_at).serialize()
            except Exception:  # noqa: BLE001 - e.g. an unpicklable return value: the job failed
                exc_string = format_exc_info(sys.exc_info())
                self._fail(job, queue, exc_string, None)
                return exc_string
        job._status = JobStatus.FINISHED
        ended = timestamps.format(job.ended_at or now())
        self._dependents.append(job.dependents_key)
        self.ok += 1
        if ttl == 0:  # no result kept: RQ deletes the job
            self.pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": ended,
                                             "last_heartbeat": ended, **_started(job)})
            job.delete(pipeline=self.pipe, remove_from_queue=False)
            return None
        started = _started(job).get("started_at", "")
        self._successes += [job.key, keys.result_stream(job.id), JobStatus.FINISHED.value, ended, started, ttl,
                            len(fields)]
        for name, item in fields.items():
            self._successes += [name, item]
        self._success_count += 1
        self._finished.setdefault(job.origin, {})[job.id] = ttl if ttl < 0 else time.time() + ttl
        return None

    def failure(self, job: Job, queue: Queue, exc_string: str, marker: Failure | None = None) -> None:
        """Queue a failure's writes (or RQ's retry, when the job has retries left)."""
        self._fail(job, queue, exc_string, marker)

    def _fail(self, job: Job, queue: Queue, exc_string: str, marker: Failure | None) -> None:
        pipe = self.pipe
        if job.started_at:
            pipe.hset(job.key, mapping=_started(job))
        self._dependents.append(job.dependents_key)
        self.failed += 1  # as RQ counts: a failure that is retried is still a failure of this worker
        if job.should_retry:
            job.retry(queue, pipe)
            return
        if marker is not None:
            job.meta[FAILURE] = marker.to_meta()
            pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        if not self._record_failures:
            return
        job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=exc_string, pipeline=pipe)
        Result.create_failure(job, job.failure_ttl, exc_string=exc_string, worker_name=self._worker_name,
                              pipeline=pipe, execution_id=self._worker_name, execution_started_at=job.started_at,
                              execution_ended_at=job.ended_at)

    def settle(self, held: Sequence[tuple[str, str]], prefix: bool = True) -> None:
        """These held jobs (queue name, job id) are done: out of the started registry and the held
        list. ``prefix``: they are its first entries, in order (one LTRIM); else each is removed (LREM)."""
        self._queue_successes()
        members: dict[str, list[str]] = {}
        for qname, job_id in held:
            members.setdefault(qname, []).append(keys.started_member(job_id, self._worker_name))
        for qname, scores in self._finished.items():
            self.pipe.zadd(keys.finished_registry(qname), scores)
        for qname, names in members.items():
            self.pipe.zrem(keys.started_registry(qname), *names)
        if prefix:
            self.pipe.ltrim(keys.held(self._worker_name), len(held), -1)
        else:
            for _, job_id in held:
                self.pipe.lrem(keys.held(self._worker_name), 1, job_id)
        if self.ok:
            self.pipe.hincrby(self._worker_key, "successful_job_count", self.ok)
        if self.failed:
            self.pipe.hincrby(self._worker_key, "failed_job_count", self.failed)

    def _queue_successes(self) -> None:
        """The successes so far, as one FINISH_JOBS call in the transaction. Its SCRIPT LOAD goes in
        the same MULTI: an EVALSHA of a script Redis lost (a restart) would fail alone inside the
        transaction, whose other commands would still run, leaving the batch half written; and
        the workers' documented ACL has EVALSHA and SCRIPT LOAD, not EVAL."""
        if self._success_count:
            self.pipe.script_load(FINISH_JOBS)
            self.pipe.evalsha(FINISH_JOBS_SHA, 0, self._success_count, *self._successes)
            self._successes, self._success_count = [], 0

    def execute(self) -> bool:
        """Send everything; True when some job of the batch has dependents waiting on it."""
        self._queue_successes()
        if self._dependents:
            self.pipe.exists(*self._dependents)
        replies = self.pipe.execute()
        durability = durability_of(self._connection)  # ?wait_replicas=N: the batch survives a failover
        if durability is not None and durability.wait(self._connection) < durability.replicas:
            logger.warning("a batch's results are on the primary but not confirmed by %d replica(s) within %s s",
                           durability.replicas, durability.timeout_s)
        return bool(self._dependents and replies[-1])


def _started(job: Job) -> dict[str, str]:
    """When the job really began: the claim wrote the batch's claim time (RQ writes it as the job starts)."""
    return {"started_at": timestamps.format(job.started_at)} if job.started_at else {}


def has_dependents(connection: redis.Redis, job: Job) -> bool:
    return bool(connection.exists(job.dependents_key))


def requeue_unstarted(connection: redis.Redis, worker_name: str, held: Sequence[tuple[str, str]],
                      prefixes: keys.Prefixes = keys.RQ_PREFIXES) -> None:
    """Put jobs a worker held but never started back at the front of their queues (no loss);
    ``held`` is ``(queue name, job id)`` in held order. Empties the worker's held list."""
    with connection.pipeline() as pipe:
        _requeue(pipe, worker_name, held, prefixes)
        pipe.delete(keys.held(worker_name))
        pipe.execute()


def release_tail(connection: redis.Redis, worker_name: str, tail: Sequence[tuple[str, str]],
                 prefixes: keys.Prefixes = keys.RQ_PREFIXES) -> None:
    """Give back the last ``len(tail)`` jobs of the worker's held list (none of them started):
    front of their queues in their order, status ``queued``, out of the started registry."""
    if not tail:
        return
    with connection.pipeline() as pipe:
        pipe.ltrim(keys.held(worker_name), 0, -len(tail) - 1)
        _requeue(pipe, worker_name, tail, prefixes)
        pipe.execute()


def _requeue(pipe: Any, worker_name: str, held: Sequence[tuple[str, str]], prefixes: keys.Prefixes) -> None:
    """Front of their queues in their order, status ``queued``, out of the started registry."""
    for qname, job_id in reversed(held):
        pipe.lpush(prefixes.queue + qname, job_id)
        pipe.hset(prefixes.job + job_id, "status", JobStatus.QUEUED.value)
        pipe.zrem(keys.started_registry(qname), keys.started_member(job_id, worker_name))


def return_strays(connection: redis.Redis, worker_name: str, prefixes: keys.Prefixes = keys.RQ_PREFIXES) -> int:
    """Put back every id on the worker's held list (none of them started); how many went back.

    For a worker that lost a dequeue reply: Redis moved ids to its held list, the worker never
    saw them. An id whose job hash is gone is dropped.
    """
    ids = [i.decode() for i in connection.lrange(keys.held(worker_name), 0, -1)]  # type: ignore[union-attr]
    if not ids:
        return 0
    with connection.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(prefixes.job + job_id, "origin")
        origins = pipe.execute()
    strays = [(origin.decode(), job_id) for origin, job_id in zip(origins, ids) if origin]
    requeue_unstarted(connection, worker_name, strays, prefixes)
    return len(strays)


def drop_started(pipe: Any, job: Job, worker_name: str) -> None:
    """The worker no longer runs ``job``: its started-registry entry goes."""
    pipe.zrem(keys.started_registry(job.origin), keys.started_member(job.id, worker_name))


def put_back(pipe: Any, jobs: Sequence[Job]) -> None:
    """Back at the front of their queues, in this order, status ``queued``."""
    for job in reversed(jobs):
        job.set_status(JobStatus.QUEUED, pipeline=pipe)
        pipe.lpush(keys.queue(job.origin), job.id)


def save_meta(pipe: Any, job: Job) -> None:
    pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))


def fail_unrun(pipe: Any, job: Job, exc_string: str, marker: Failure | None = None) -> None:
    """Fail a job no worker will run (lost, unreadable, timed out): RQ's worker-less failure."""
    if marker is not None:
        job.meta[FAILURE] = marker.to_meta()
        save_meta(pipe, job)
    record_job_failure(job, exc_string, pipe)


def register_worker_death(connection: redis.Redis, worker_name: str) -> None:
    """Take a dead worker out of RQ's worker sets, as its own ``register_death`` would have."""
    from rq.worker import SimpleWorker

    worker = SimpleWorker.find_by_key(SimpleWorker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if worker is not None and worker.death_date is None:
        worker.register_death()
