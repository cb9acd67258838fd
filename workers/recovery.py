"""Putting held jobs back: after a clean stop, a dead child, or a whole lost host.

The rules (the contract with :mod:`jobs.rq_format.markers`):

- a job that never started goes back to the FRONT of its queue, in order, with no loss;
- the one job that was running when its process died gets ``meta["jobfleet_losses"] += 1``
  and goes back too, unless that makes ``losses >= max_losses`` (the job's own
  ``jobfleet_max_losses``, else the supervisor's ``--max-losses``): then it is failed in RQ's
  format (status ``failed``, failed registry, a FAILED Result whose ``exc_string`` says so) and
  its meta holds the reason (``jobfleet_lost``) and a typed ``lost`` failure marker;
- a held job already finished or failed (its result written, the held list not yet trimmed)
  is only dropped from the started registry.

Exactly one process re-queues a dead worker's jobs: it first takes ``jobfleet:claim:<worker>``
with SET NX, so two supervisors noticing the same lost host cannot both re-queue a job.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import redis
from rq.job import Job
from rq.serializers import resolve_serializer
from rq.utils import as_text

from jobs.rq_format import dependencies, keys, markers, state
from jobs.rq_format.unreadable import Unreadable, fetch_jobs
from jobs.rq_format.writes import drop_started, fail_unrun, put_back, register_worker_death, save_meta

log = logging.getLogger(__name__)

#: Seconds a claim on a dead worker's jobs lasts; a claimer that dies lets another retry after it.
CLAIM_TTL_S = 30


@dataclass(frozen=True)
class Requeued:
    """What happened to one held job: ``requeued``, ``lost`` (given up), ``timed out``, ``unreadable``
    (failed: its hash does not load) or ``settled``; ``queue``: its queue, when its record says."""

    job_id: str
    action: str
    losses: int = 0
    queue: str = ""


def recover_worker(
    connection: redis.Redis,
    worker_name: str,
    *,
    lost_job_id: str | None,
    charge_first_held: bool = False,
    reason: str,
    max_losses: int,
    serializer: Any = None,
    claimer: str = "",
    timed_out: bool = False,
) -> list[Requeued] | None:
    """Re-queue everything a dead worker held; charge a loss to ``lost_job_id`` only.

    ``lost_job_id``: the job that was running when the worker died (from shared memory); with
    ``--threads``, the space-separated ids of all the jobs it was running: each is charged.
    ``charge_first_held``: for a lost host, where nothing tells which job was running, the
    first unsettled held job is charged instead. ``timed_out``: the supervisor killed the worker because that
    job ignored its timeout; it is failed with RQ's ``JobTimeoutException`` instead of being
    charged a loss. Returns None when another process holds the claim on this worker (it does
    the work), else what was done to each held job.
    """
    claimer = claimer or socket.gethostname()
    if not connection.set(keys.claim(worker_name), claimer, nx=True, ex=CLAIM_TTL_S):
        return None
    held_key = keys.held(worker_name)
    ids = [as_text(i) for i in connection.lrange(held_key, 0, -1)]
    found = fetch_jobs(Job, connection, resolve_serializer(serializer), ids)
    with connection.pipeline() as pipe:
        loss = _Loss(set((lost_job_id or "").split()), charge_first_held, timed_out, reason, max_losses)
        done = [_settle_held(pipe, job_id, job, worker_name, loss) for job_id, job in zip(ids, found)]
        put_back(pipe, loss.back)
        pipe.delete(held_key)
        pipe.delete(keys.claim(worker_name))
        pipe.execute()
    register_worker_death(connection, worker_name)
    _log_events(worker_name, reason, done)
    _propagate_failures(connection, serializer, done)
    return done


#: The error type a job failed here carries down to the jobs waiting on it.
_FAILED_AS = {"lost": "JobLost", "timed out": "JobTimeoutException", "unreadable": "SerializationError"}


def _propagate_failures(connection: redis.Redis, serializer: Any, done: list[Requeued]) -> None:
    """Jobs failed here ran no RQ ``on_failure`` callback: fail the jobs waiting on them, down the chain."""
    for event in done:
        if event.action in _FAILED_AS:
            dependencies.propagate(connection, resolve_serializer(serializer), event.job_id,
                                   exc_type=_FAILED_AS[event.action])
            dependencies.finished_reading(connection, event.job_id)


@dataclass
class _Loss:
    """Which held jobs a worker's death is charged to, and the jobs that go back."""

    job_ids: set[str]
    charge_first_held: bool
    timed_out: bool
    reason: str
    max_losses: int
    back: list[Job] = field(default_factory=list)


def _settle_held(pipe: Any, job_id: str, job: Job | Unreadable | None, worker_name: str, loss: _Loss) -> Requeued:
    """Queue what happens to one held job of a dead worker (see the module docstring)."""
    if job is None:
        return Requeued(job_id, "settled")
    if isinstance(job, Unreadable):  # re-queueing it would only bring it back here: fail it
        drop_started(pipe, job.job, worker_name)
        fail_unrun(pipe, job.job, job.exc_string, job.failure)
        return Requeued(job_id, "unreadable", queue=job.job.origin or "")
    drop_started(pipe, job, worker_name)
    if state.is_settled(job):
        return Requeued(job_id, "settled")
    if loss.charge_first_held and not loss.job_ids:
        loss.job_ids = {job_id}
    if job_id not in loss.job_ids:
        loss.back.append(job)
        return Requeued(job_id, "requeued", queue=job.origin)
    if loss.timed_out:
        fail_unrun(pipe, job, f"rq.timeouts.JobTimeoutException: {loss.reason}")
        return Requeued(job_id, "timed out", queue=job.origin)
    return _charge_loss(job, pipe, loss.reason, loss.max_losses, loss.back)


def _log_events(worker_name: str, reason: str, done: list[Requeued]) -> None:
    for event in done:
        if event.action == "requeued":
            log.info("job %s re-queued from worker %s (losses: %d)", event.job_id, worker_name, event.losses)
        elif event.action == "lost":
            log.warning("job %s given up after %d losses: %s", event.job_id, event.losses, reason)
        elif event.action == "timed out":
            log.warning("job %s failed: %s", event.job_id, reason)
        elif event.action == "unreadable":
            log.error("job %s failed: its record in Redis cannot be read", event.job_id)


def _charge_loss(job: Job, pipe: Any, reason: str, default_max: int, back: list[Job]) -> Requeued:
    losses, given_up = markers.record_loss(job.meta, default_max)
    if given_up:
        text = f"lost {losses} times: {reason}"
        marker = markers.mark_lost(job.meta, text)
        fail_unrun(pipe, job, markers.LOST_EXC_PREFIX + text, marker)
        return Requeued(job.id, "lost", losses, job.origin)
    save_meta(pipe, job)
    back.append(job)
    return Requeued(job.id, "requeued", losses, job.origin)


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
        result = recover_worker(connection, name, lost_job_id=None, charge_first_held=True, reason=reason, max_losses=max_losses,
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
