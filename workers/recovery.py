"""Putting held jobs back: after a clean stop, a dead child, or a whole lost host.

The rules (the contract with :mod:`jobs.meta`):

- a job that never started goes back to the FRONT of its queue, in order, with no loss;
- the one job that was running when its process died gets ``meta["jobfleet_losses"] += 1``
  and goes back too, unless that makes ``losses >= max_losses`` (the job's own
  ``jobfleet_max_losses``, else the supervisor's ``--max-losses``): then it is failed in RQ's
  format (status ``failed``, failed registry, a FAILED Result whose ``exc_string`` starts with
  ``jobs.errors.JobLost: ``) and ``meta["jobfleet_lost"]`` holds the reason;
- a held job already finished or failed (its result written, the held list not yet trimmed)
  is only dropped from the started registry.

Exactly one process re-queues a dead worker's jobs: it first takes ``jobfleet:claim:<worker>``
with SET NX, so two supervisors noticing the same lost host cannot both re-queue a job.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

import redis
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.serializers import resolve_serializer
from rq.utils import as_text
from rq.worker import SimpleWorker

from jobs import meta

from . import keys

log = logging.getLogger(__name__)

#: Seconds a claim on a dead worker's jobs lasts; a claimer that dies lets another retry after it.
CLAIM_TTL_S = 30
_SETTLED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@dataclass(frozen=True)
class Requeued:
    """What happened to one held job: ``requeued``, ``lost`` (given up), ``timed out`` or ``settled``."""

    job_id: str
    action: str
    losses: int = 0


def requeue_unstarted(connection: redis.Redis, worker_name: str, held: list[tuple[str, str]]) -> None:
    """Put jobs a worker held but never started back at the front of their queues (no loss);
    ``held`` is ``(queue name, job id)`` in held order. Empties the worker's held list."""
    with connection.pipeline() as pipe:
        for qname, job_id in reversed(held):
            pipe.lpush(Queue.redis_queue_namespace_prefix + qname, job_id)
            pipe.hset(Job.key_for(job_id), "status", JobStatus.QUEUED.value)
            pipe.zrem(StartedJobRegistry(qname, connection=connection).key, f"{job_id}:{worker_name}")
        pipe.delete(keys.held(worker_name))
        pipe.execute()


def recover_worker(
    connection: redis.Redis,
    worker_name: str,
    *,
    lost_job_id: str | None,
    reason: str,
    max_losses: int,
    serializer: Any = None,
    claimer: str = "",
    timed_out: bool = False,
) -> list[Requeued] | None:
    """Re-queue everything a dead worker held; charge a loss to ``lost_job_id`` only.

    ``lost_job_id="first"`` charges the first unsettled held job (used for a lost host, where
    no shared memory tells which job was running). ``timed_out``: the supervisor killed the
    worker because that job ignored its timeout; it is failed with RQ's ``JobTimeoutException``
    instead of being charged a loss. Returns None when another process holds
    the claim on this worker (it does the work), else what was done to each held job.
    """
    claimer = claimer or socket.gethostname()
    if not connection.set(keys.claim(worker_name), claimer, nx=True, ex=CLAIM_TTL_S):
        return None
    held_key = keys.held(worker_name)
    ids = [as_text(i) for i in connection.lrange(held_key, 0, -1)]
    jobs = Job.fetch_many(ids, connection=connection, serializer=resolve_serializer(serializer))
    done: list[Requeued] = []
    back: list[Job] = []
    with connection.pipeline() as pipe:
        for job_id, job in zip(ids, jobs):
            if job is None:
                done.append(Requeued(job_id, "settled"))
                continue
            pipe.zrem(job.started_job_registry.key, f"{job_id}:{worker_name}")
            if job.get_status(refresh=False) in _SETTLED:
                done.append(Requeued(job_id, "settled"))
                continue
            if lost_job_id == "first":
                lost_job_id = job_id
            if job_id == lost_job_id and timed_out:
                record_job_failure(job, f"rq.timeouts.JobTimeoutException: {reason}", pipe)
                done.append(Requeued(job_id, "timed out"))
            elif job_id == lost_job_id:
                done.append(_charge_loss(job, pipe, reason, max_losses, back))
            else:
                back.append(job)
                done.append(Requeued(job_id, "requeued"))
        for job in reversed(back):
            job.set_status(JobStatus.QUEUED, pipeline=pipe)
            pipe.lpush(Queue.redis_queue_namespace_prefix + job.origin, job.id)
        pipe.delete(held_key)
        pipe.delete(keys.claim(worker_name))
        pipe.execute()
    _register_death(connection, worker_name)
    for event in done:
        if event.action == "requeued":
            log.info("job %s re-queued from worker %s (losses: %d)", event.job_id, worker_name, event.losses)
        elif event.action == "lost":
            log.warning("job %s given up after %d losses: %s", event.job_id, event.losses, reason)
        elif event.action == "timed out":
            log.warning("job %s failed: %s", event.job_id, reason)
    return done


def _register_death(connection: redis.Redis, worker_name: str) -> None:
    """Take a dead worker out of RQ's worker sets, as its own ``register_death`` would have."""
    worker = SimpleWorker.find_by_key(SimpleWorker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if worker is not None and worker.death_date is None:
        worker.register_death()


def _charge_loss(job: Job, pipe: Any, reason: str, default_max: int, back: list[Job]) -> Requeued:
    losses = int(job.meta.get(meta.LOSSES, 0)) + 1
    job.meta[meta.LOSSES] = losses
    limit = int(job.meta.get(meta.MAX_LOSSES) or default_max)
    if losses >= limit:
        text = f"lost {losses} times: {reason}"
        job.meta[meta.LOST] = text
        pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
        record_job_failure(job, meta.LOST_EXC_PREFIX + text, pipe)
        return Requeued(job.id, "lost", losses)
    pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
    back.append(job)
    return Requeued(job.id, "requeued", losses)


def lost_supervisors(connection: redis.Redis) -> list[str]:
    """Ids of registered supervisors whose heartbeat key has expired (their host is gone)."""
    ids = [as_text(i) for i in connection.smembers(keys.SUPERVISORS)]
    if not ids:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for sid in ids:
            pipe.exists(keys.supervisor(sid))
        alive = pipe.execute()
    return [sid for sid, up in zip(ids, alive) if not up]


def recover_host(connection: redis.Redis, supervisor_id: str, *, max_losses: int, serializer: Any = None,
                 claimer: str = "") -> list[Requeued]:
    """Re-queue the jobs every worker of a lost supervisor held; then forget that supervisor."""
    reason = f"host lost: supervisor {supervisor_id} stopped heartbeating"
    events: list[Requeued] = []
    for raw in connection.smembers(keys.supervisor_workers(supervisor_id)):
        name = as_text(raw)
        result = recover_worker(connection, name, lost_job_id="first", reason=reason, max_losses=max_losses,
                                serializer=serializer, claimer=claimer)
        if result is None:
            continue
        events += result
        connection.srem(keys.supervisor_workers(supervisor_id), name)
    if not connection.exists(keys.supervisor(supervisor_id)) and not connection.scard(
            keys.supervisor_workers(supervisor_id)):
        connection.srem(keys.SUPERVISORS, supervisor_id)
    if events:
        log.warning("recovered %d held jobs of lost supervisor %s", len(events), supervisor_id)
    return events
