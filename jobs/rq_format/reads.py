"""Read-only counts from RQ's records, for ``workers status`` and ``/metrics``.

Registry sizes are read with ZCARD: RQ's own ``count`` runs the abandoned-job cleanup, and a
status command must never change what it looks at.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from rq.queue import Queue
from rq.utils import as_text, utcparse

from . import keys, markers


@dataclass(frozen=True)
class QueueCounts:
    name: str
    queued: int
    started: int
    failed: int
    #: failed jobs that were given up after too many losses
    lost: int


def queues(connection: redis.Redis) -> list[Queue]:
    return sorted(Queue.all(connection=connection), key=lambda q: q.name)


def queue_counts(connection: redis.Redis, queue: Queue) -> QueueCounts:
    """One queue's depths; one round trip per registry, plus one pipeline over the failed jobs' meta."""
    failed_ids = [as_text(i) for i in connection.zrange(keys.failed_registry(queue.name), 0, -1)]  # type: ignore[arg-type]
    lost = 0
    if failed_ids:
        with connection.pipeline(transaction=False) as pipe:
            for job_id in failed_ids:
                pipe.hget(queue.job_class.key_for(job_id), "meta")
            metas = pipe.execute()
        lost = sum(1 for raw in metas if raw and _is_lost(queue.serializer, raw))
    started = int(connection.zcard(keys.started_registry(queue.name)))
    return QueueCounts(queue.name, int(connection.llen(queue.key)), started, len(failed_ids), lost)


def _is_lost(serializer: Any, raw: bytes) -> bool:
    try:
        meta = serializer.loads(raw)
    except Exception:  # noqa: BLE001 - another serializer's meta is simply not ours
        return False
    return isinstance(meta, dict) and markers.is_lost(meta)


def held_jobs(connection: redis.Redis, worker_name: str) -> tuple[str | None, int]:
    """The job a worker runs now (the head of its held list) and how many it holds."""
    key = keys.held(worker_name)
    first = connection.lindex(key, 0)
    return (as_text(first) if first else None), int(connection.llen(key))


#: The states of ``jobfleet_queue_jobs``, each one command per queue.
QUEUE_STATES = ("queued", "started", "scheduled", "deferred", "failed")


@dataclass(frozen=True)
class QueueStates:
    """One queue's jobs by state, and how long the job at its head has waited (None: empty)."""

    name: str
    counts: dict[str, int]
    oldest_queued_age_s: float | None


def queue_states(connection: redis.Redis) -> list[QueueStates]:
    """Every queue's jobs by state, fleet-wide, in three round trips whatever the queues hold:
    the set of queues; per queue one LLEN, four ZCARDs and its head's id (one pipeline); the
    heads' ``enqueued_at`` (one pipeline)."""
    names = sorted(as_text(k)[len(keys.QUEUE_PREFIX):] for k in connection.smembers(keys.ALL_QUEUES))
    if not names:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(keys.queue(name))
            for registry in (keys.started_registry, keys.scheduled_registry, keys.deferred_registry, keys.failed_registry):
                pipe.zcard(registry(name))
            pipe.lindex(keys.queue(name), 0)
        replies = pipe.execute()
    per_queue = [replies[i:i + 6] for i in range(0, len(replies), 6)]
    heads = [as_text(row[5]) if row[5] else None for row in per_queue]
    with connection.pipeline(transaction=False) as pipe:
        for head in heads:
            pipe.hget(keys.job(head or "-"), "enqueued_at")
        enqueued = pipe.execute()
    now = time.time()
    return [QueueStates(name, dict(zip(QUEUE_STATES, (int(n) for n in row[:5]))),
                        _age(now, when) if head else None)
            for name, row, head, when in zip(names, per_queue, heads, enqueued)]


def _age(now: float, enqueued_at: bytes | None) -> float | None:
    if not enqueued_at:
        return None
    try:
        return max(0.0, now - utcparse(as_text(enqueued_at)).timestamp())
    except ValueError:
        return None
def earliest_score(connection: redis.Redis, sorted_sets: Iterable[str]) -> float | None:
    """The lowest score over these sorted sets (a due time, Unix seconds), or None when all are empty."""
    with connection.pipeline(transaction=False) as pipe:
        for key in sorted_sets:
            pipe.zrange(key, 0, 0, withscores=True)
        found = [rows[0][1] for rows in pipe.execute() if rows]
    return min(found) if found else None
