"""``workers status``: what runs where, read from RQ's keys and jobfleet's held lists.

Read-only (see :mod:`jobs.rq_format.reads`): it never cleans registries.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

import redis
from rq.utils import as_text
from rq.worker import SimpleWorker

from jobs.rq_format import keys, reads, schedules
from jobs.rq_format.reads import QueueCounts
from jobs.schedules import Schedule


@dataclass
class WorkerReport:
    name: str
    state: str
    host: str
    pid: int | None
    current_job: str | None
    held: int
    ok: int
    failed: int


@dataclass
class SupervisorReport:
    id: str
    host: str
    pid: str
    alive: bool
    heartbeat_age_s: float | None
    workers: list[str] = field(default_factory=list)


@dataclass
class FleetReport:
    supervisors: list[SupervisorReport]
    workers: list[WorkerReport]
    queues: list[QueueCounts]
    #: (queue name, schedule) for every queue that has schedules
    schedules: list[tuple[str, Schedule]] = field(default_factory=list)


def collect(connection: redis.Redis) -> FleetReport:
    """Read the whole picture (a handful of round trips plus one pipeline per queue's failed jobs)."""
    return FleetReport(_supervisors(connection), _workers(connection),
                       [reads.queue_counts(connection, q) for q in reads.queues(connection)],
                       [(q, s) for q in schedules.queues_with_schedules(connection) for s in schedules.load(connection, q)])


def _supervisors(connection: redis.Redis) -> list[SupervisorReport]:
    out = []
    for raw in sorted(connection.smembers(keys.SUPERVISORS)):
        sid = as_text(raw)
        data = {as_text(k): as_text(v) for k, v in connection.hgetall(keys.supervisor(sid)).items()}
        beat = float(data["heartbeat"]) if "heartbeat" in data else None
        names = sorted(as_text(n) for n in connection.smembers(keys.supervisor_workers(sid)))
        out.append(SupervisorReport(sid, data.get("host", "?"), data.get("pid", "?"), bool(data),
                                    None if beat is None else max(0.0, time.time() - beat), names))
    return out


def _workers(connection: redis.Redis) -> list[WorkerReport]:
    out = []
    for worker in sorted(SimpleWorker.all(connection=connection), key=lambda w: w.name):
        current, held = reads.held_jobs(connection, worker.name)
        out.append(WorkerReport(worker.name, worker.get_state(), worker.hostname or "?", worker.pid, current, held,
                                worker.successful_job_count, worker.failed_job_count))
    return out


#: Bumped when a field changes meaning or goes away (new fields may appear in any version).
JSON_VERSION = 1


def to_json(status: FleetReport) -> str:
    """The same picture for programs: the schema is ``docs/status.schema.json``."""
    report = dataclasses.asdict(status)
    report["schedules"] = [_schedule_json(queue, sched) for queue, sched in status.schedules]
    return json.dumps({"version": JSON_VERSION, "generated_at": time.time(), **report}, indent=2)


def _schedule_json(queue: str, sched: Schedule) -> dict[str, object]:
    """A schedule for programs: times as Unix seconds, the status as its string."""
    return {"queue": queue, "name": sched.name, "function": sched.function, "rule": sched.rule,
            "next_run": sched.next_run.timestamp(),
            "last_run": None if sched.last_run is None else sched.last_run.timestamp(),
            "last_status": None if sched.last_status is None else str(sched.last_status),
            "last_job_id": sched.last_job_id, "overlap": sched.overlap}


def render(status: FleetReport) -> str:
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
    lines.append("Schedules:")
    for queue, sched in status.schedules:
        last = "never" if sched.last_run is None else f"{sched.last_run:%Y-%m-%d %H:%M:%S} {sched.last_status or 'expired'}"
        lines.append(f"  {queue}/{sched.name}  {sched.rule}  {sched.function}  next={sched.next_run:%Y-%m-%d %H:%M:%S%z} "
                     f"last={last}")
    if not status.schedules:
        lines.append("  (none)")
    return "\n".join(lines)
