"""Later jobs in RQ's ScheduledJobRegistry, to the fraction of a second.

RQ stores a scheduled job's time as whole seconds (``calendar.timegm``) and its scheduler
compares against the whole second, so ``enqueue_in(1.5)`` could run 0.9 s early under it. The
client lets RQ write the job (``Queue.schedule_job``) and then sets the job's score to the
exact time in the same transaction; jobfleet's supervisor moves jobs against ``time.time()``.
A plain ``rq worker --with-scheduler`` still runs them, at the first whole second past the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import redis
from rq import Queue
from rq.job import Job

from . import keys, reads

__all__ = ["schedule", "move_due", "earliest_due"]


def schedule(queue: Queue, job: Job, run_at: float, pipeline: Any) -> None:
    """Write ``job`` as scheduled for ``run_at`` (Unix seconds) into ``pipeline`` (RQ's records)."""
    queue.schedule_job(job, datetime.fromtimestamp(run_at, timezone.utc), pipeline=pipeline)
    pipeline.zadd(keys.scheduled_registry(queue.name), {job.id: run_at})


def move_due(connection: redis.Redis, queue_name: str, serializer: Any, now: float) -> int:
    """Put the jobs of ``queue_name`` due at ``now`` on their queue, as RQ's scheduler does; how many.

    Only one process may move a queue's jobs at a time (RQ's scheduler lock, or fakeredis's
    single process). Rate-limited jobs are left to RQ's own scheduler.
    """
    queue = Queue(queue_name, connection=connection, serializer=serializer)
    registry = queue.scheduled_job_registry
    job_ids = registry.get_jobs_to_schedule(now)  # a float: RQ compares whole seconds
    if not job_ids:
        return 0
    moved = 0
    with connection.pipeline() as pipe:
        pipe.multi()  # RQ's enqueue_job would start the transaction after our first command
        for job_id, job in zip(job_ids, Job.fetch_many(job_ids, connection=connection, serializer=serializer)):
            if job is not None and job.has_rate_limit:
                continue
            registry.remove(job_id, pipeline=pipe)
            if job is not None:
                queue.enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
                moved += 1
        pipe.execute()
    return moved


def earliest_due(connection: redis.Redis, queue_names: Iterable[str]) -> float | None:
    """The earliest time (Unix seconds) a scheduled job of these queues is due, or None."""
    return reads.earliest_score(connection, [keys.scheduled_registry(name) for name in queue_names])
