"""RQ's own per-job settling, for the jobs that use a feature the batch write does not model.

Most jobs are plain: a value (or an exception) to record, which :class:`.writes.BatchWrite`
writes for a whole batch in one transaction. A job that returned an :class:`rq.Retry`, repeats,
has webhooks or a rate-limit slot, or keeps no result (``result_ttl=0``, whose dependents RQ
moves before it deletes the job) is settled the way RQ's worker settles it, by RQ's own
``handle_job_success`` / ``handle_job_retry`` / ``handle_job_failure``: a few more round trips
for that job, RQ's exact writes and ordering (dependents, webhooks, slot release, repeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rq.job import Job, JobStatus, Retry
from rq.queue import Queue

from . import keys


@dataclass
class WorkerRun:
    """What RQ's settle methods read of an ``Execution``: its id and start (the worker's name
    and the job's start, as :class:`.writes.BatchWrite` records them)."""

    id: str
    created_at: datetime | None


def needs_rq_settle(job: Job, value: Any, default_result_ttl: int) -> bool:
    """True when ``job`` (which returned ``value``, None on failure) must be settled by RQ's methods."""
    return (isinstance(value, Retry) or bool(job.repeats_left) or bool(job.webhooks) or job.has_rate_limit
            or job.get_result_ttl(default_result_ttl) == 0)


def mark_ended(job: Job, ok: bool) -> None:
    """The job's cached status as RQ sets it before the callbacks run (they may read it)."""
    job._status = JobStatus.FINISHED if ok else JobStatus.FAILED


def settle_like_rq(worker: Any, job: Job, queue: Queue, ok: bool, value: Any, exc_string: str) -> None:
    """Write one job's outcome with RQ's worker methods (``worker`` is an RQ worker whose
    ``cleanup_execution`` drops the job's started entry and held-list head)."""
    run = WorkerRun(worker.name, job.started_at)
    if ok and isinstance(value, Retry):
        worker.handle_job_retry(job=job, queue=queue, retry=value, started_job_registry=queue.started_job_registry,
                                execution=run)
    elif ok:
        job._result = value
        worker.handle_job_success(job=job, queue=queue, started_job_registry=queue.started_job_registry,
                                  execution=run)
        job.send_webhooks(JobStatus.FINISHED)
    else:
        worker.handle_job_failure(job=job, queue=queue, started_job_registry=queue.started_job_registry,
                                  exc_string=exc_string, execution=run)


def was_canceled(job: Job) -> bool:
    """True when ``job`` was canceled while it ran (``job.cancel()`` puts it in the canceled
    registry); RQ then holds back its dependents, as it reads the status before it writes
    ``finished``."""
    from rq.registry import CanceledJobRegistry

    registry = CanceledJobRegistry(job.origin, job.connection, job_class=type(job), serializer=job.serializer)
    return job.id in registry


def drop_execution(pipe: Any, job: Job, worker_name: str) -> None:
    """RQ's ``cleanup_execution`` for a batch worker: the job leaves the started registry and the
    worker's held list (LREM from the head: with one thread it is the head, the jobs before it were
    settled first; with several, jobs end in any order)."""
    pipe.zrem(keys.started_registry(job.origin), keys.started_member(job.id, worker_name))
    pipe.lrem(keys.held(worker_name), 1, job.id)
