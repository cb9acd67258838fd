"""Read-only counts from RQ's records, for ``workers status`` (and metrics).

Registry sizes are read with ZCARD: RQ's own ``count`` runs the abandoned-job cleanup, and a
status command must never change what it looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from rq.queue import Queue
from rq.utils import as_text

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
