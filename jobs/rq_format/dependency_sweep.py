"""The safety net under the dependency release: waiting jobs whose parents ended unnoticed.

A release runs where a parent ends. Three ways a parent can end without one that fits:

- a **plain ``rq worker``** finished it: RQ's own release re-reads the parents' statuses, but
  does not count down ``jobfleet_unmet``, so when a batch worker ends the last parent its count
  still says a parent is missing (a fleet mixing both would leave the dependent waiting);
- it **failed where nothing propagates**: RQ leaves the dependents of a failed or abandoned job
  ``deferred`` for ever;
- RQ's **ready step gave up** (its optimistic lock lost a race between two workers): the job sits
  ``ready_to_enqueue`` in RQ's ready registry until RQ's maintenance, about ten minutes.

:func:`sweep` looks at the waiting jobs of some queues, reads their parents' statuses in two
pipelined round trips, then queues those whose parents all ended well (``release_ready.lua``
checks again, atomically, so a job is queued once) and fails (or cancels) those that can no
longer run, down the chain, as the release does. It also drains RQ's ready registry with RQ's
own ``cleanup``. ``workers supervise`` runs it every :data:`SWEEP_INTERVAL_S`; a dependent that
one of those parents held back waits at most that long.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from rq.queue import Queue
from rq.registry import DeferredJobRegistry, ReadyJobRegistry
from rq.utils import as_text, now, utcformat

from . import keys
from .dependencies import DEFERRED_PREFIX, DEPENDENCIES_PREFIX, ENDED_BADLY, doom, run_script
from .scripts import _load

RELEASE_READY = _load("release_ready")
#: Seconds between two sweeps of a supervisor.
SWEEP_INTERVAL_S = 5.0
#: Waiting jobs looked at per queue and sweep (the oldest first).
SWEEP_LIMIT = 1000


def sweep(connection: redis.Redis, serializer: Any, queue_names: Iterable[str], limit: int = SWEEP_LIMIT) -> int:
    """Queue or doom the waiting jobs of ``queue_names`` whose parents ended unnoticed; how many."""
    handled = 0
    for name in queue_names:
        ReadyJobRegistry(name, connection=connection).cleanup()
        waiting = [str(_text(i)) for i in connection.zrange(DeferredJobRegistry(name, connection=connection).key, 0, limit - 1)]
        if waiting:
            ready, doomed = _verdicts(connection, waiting)
            if ready:
                handled += len(run_script(connection, RELEASE_READY, [], [
                    keys.JOB_PREFIX, keys.QUEUE_PREFIX, DEFERRED_PREFIX, Queue.redis_queues_keys, utcformat(now()),
                    DEPENDENCIES_PREFIX, *ready]))
            if doomed:
                doom(connection, serializer, doomed, {})
                handled += len(doomed)
    return handled


def _verdicts(connection: redis.Redis, waiting: list[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The waiting jobs that may run now, and ``(job, parent, parent status)`` of those that never can."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in waiting:
            pipe.hmget(keys.JOB_PREFIX + job_id, "status", "allow_dependency_failures")
            pipe.smembers(f"{DEPENDENCIES_PREFIX}{job_id}:dependencies")
        rows = pipe.execute()
    jobs = [(job_id, rows[2 * i], [as_text(p) for p in rows[2 * i + 1]]) for i, job_id in enumerate(waiting)]
    jobs = [(job_id, _text(fields[1]) == "1", parents) for job_id, fields, parents in jobs
            if _text(fields[0]) == "deferred"]
    parent_ids = sorted({p for _, _, parents in jobs for p in parents})
    with connection.pipeline(transaction=False) as pipe:
        for parent_id in parent_ids:
            pipe.hget(keys.JOB_PREFIX + parent_id, "status")
        status = {p: _text(s) for p, s in zip(parent_ids, pipe.execute())}
    ready: list[str] = []
    doomed: list[tuple[str, str, str]] = []
    for job_id, allow, parents in jobs:
        bad = [p for p in parents if status[p] in ENDED_BADLY or (status[p] == "failed" and not allow)]
        if bad:
            doomed.append((job_id, bad[0], status[bad[0]] or ""))
        elif all(status[p] in (None, "finished") or (status[p] == "failed" and allow) for p in parents):
            ready.append(job_id)
    return ready, doomed


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
