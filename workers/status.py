"""``workers status``: what runs where, read from RQ's keys and jobfleet's held lists.

Read-only: it never cleans registries (RQ's ``count`` would run the abandoned-job cleanup, so
registry sizes are read with ZCARD).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis
from rq.queue import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.utils import as_text
from rq.worker import SimpleWorker

from jobs import meta

from . import keys


@dataclass
class QueueStatus:
    name: str
    queued: int
    started: int
    failed: int
    lost: int


@dataclass
class WorkerStatus:
    name: str
    state: str
    host: str
    pid: int | None
    current_job: str | None
    held: int
    ok: int
    failed: int


@dataclass
class SupervisorStatus:
    id: str
    host: str
    pid: str
    alive: bool
    heartbeat_age_s: float | None
    workers: list[str] = field(default_factory=list)


@dataclass
class Status:
    supervisors: list[SupervisorStatus]
    workers: list[WorkerStatus]
    queues: list[QueueStatus]


def collect(connection: redis.Redis) -> Status:
    """Read the whole picture (a handful of round trips plus one per failed job's meta)."""
    return Status(_supervisors(connection), _workers(connection), _queues(connection))


def _supervisors(connection: redis.Redis) -> list[SupervisorStatus]:
    out = []
    for raw in sorted(connection.smembers(keys.SUPERVISORS)):
        sid = as_text(raw)
        data = {as_text(k): as_text(v) for k, v in connection.hgetall(keys.supervisor(sid)).items()}
        beat = float(data["heartbeat"]) if "heartbeat" in data else None
        names = sorted(as_text(n) for n in connection.smembers(keys.supervisor_workers(sid)))
        out.append(SupervisorStatus(sid, data.get("host", "?"), data.get("pid", "?"), bool(data),
                                    None if beat is None else max(0.0, time.time() - beat), names))
    return out


def _workers(connection: redis.Redis) -> list[WorkerStatus]:
    out = []
    for worker in sorted(SimpleWorker.all(connection=connection), key=lambda w: w.name):
        held = keys.held(worker.name)
        first = connection.lindex(held, 0)
        out.append(WorkerStatus(worker.name, worker.get_state(), worker.hostname or "?", worker.pid,
                                as_text(first) if first else None, connection.llen(held),
                                worker.successful_job_count, worker.failed_job_count))
    return out


def _queues(connection: redis.Redis) -> list[QueueStatus]:
    out = []
    for queue in sorted(Queue.all(connection=connection), key=lambda q: q.name):
        failed_key = FailedJobRegistry(queue.name, connection=connection).key
        failed_ids = [as_text(i) for i in connection.zrange(failed_key, 0, -1)]  # type: ignore[arg-type]
        lost = 0
        if failed_ids:
            with connection.pipeline(transaction=False) as pipe:
                for job_id in failed_ids:
                    pipe.hget(f"{queue.job_class.redis_job_namespace_prefix}{job_id}", "meta")
                metas = pipe.execute()
            lost = sum(1 for raw in metas if raw and _is_lost(queue, raw))
        started = connection.zcard(StartedJobRegistry(queue.name, connection=connection).key)
        out.append(QueueStatus(queue.name, connection.llen(queue.key), started, len(failed_ids), lost))
    return out


def _is_lost(queue: Queue, raw: bytes) -> bool:
    try:
        return meta.LOST in queue.serializer.loads(raw)
    except Exception:  # noqa: BLE001 - another serializer's meta is simply not ours
        return False


def render(status: Status) -> str:
    """Plain text for a terminal, one line per supervisor, worker and queue."""
    lines = ["Supervisors:"]
    for sup in status.supervisors or []:
        age = "lost" if not sup.alive else f"heartbeat {sup.heartbeat_age_s:.0f} s ago"
        lines.append(f"  {sup.id}  host={sup.host} pid={sup.pid} {age}, {len(sup.workers)} workers")
    if not status.supervisors:
        lines.append("  (none)")
    lines.append("Workers:")
    for w in status.workers:
        job = w.current_job or "-"
        lines.append(f"  {w.name}  {w.state:<9} host={w.host} pid={w.pid} job={job} held={w.held} "
                     f"ok={w.ok} failed={w.failed}")
    if not status.workers:
        lines.append("  (none)")
    lines.append("Queues:")
    for q in status.queues:
        lines.append(f"  {q.name:<20} queued={q.queued} started={q.started} failed={q.failed} lost={q.lost}")
    if not status.queues:
        lines.append("  (none)")
    return "\n".join(lines)
