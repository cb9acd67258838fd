"""Recurring jobs in Redis: kept where every supervisor sees them, each tick fired once fleet-wide.

Keys are in :mod:`.keys`. Firing a tick is one optimistic transaction on the schedule's hash:
WATCH it, read the next run, and in MULTI/EXEC both move the next run on and enqueue the tick's
job. Of any number of supervisors that try the same tick, one EXEC succeeds and the others'
fail (the hash changed under their WATCH): a tick is enqueued exactly once, and a supervisor
killed half-way has written nothing, so the next supervisor's tick fires it. No lock to time
out, so nothing to fail over: every supervisor tries every due schedule each second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue
from rq.utils import as_text

from ..schedules import Rule, Schedule, local_datetime
from ..status import JobStatus
from . import keys, markers, reads

__all__ = ["save", "remove", "load", "fire_due", "next_due", "queues_with_schedules"]

log = logging.getLogger("jobs.schedules")
#: Statuses of a previous run that make an ``overlap=False`` schedule skip its tick.
_BUSY = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass(frozen=True)
class Fired:
    """One tick handled: ``job_id`` is None when it was skipped (the previous run still busy)."""

    name: str
    tick: float
    job_id: str | None


def save(connection: redis.Redis, queue_name: str, name: str, func_name: str, call: bytes, rule: Rule,
         overlap: bool) -> None:
    """Keep (or replace: a new rule, a new first tick) the schedule; the last run is kept."""
    next_run = rule.next_after(rule.anchor)
    record = {"func": func_name, "call": call, "rule": json.dumps({"every": rule.every, "cron": rule.cron}),
              "anchor": repr(rule.anchor), "overlap": int(overlap), "next_run": repr(next_run)}
    with connection.pipeline() as pipe:
        pipe.hset(keys.schedule(queue_name, name), mapping=record)  # type: ignore[arg-type]
        pipe.zadd(keys.schedule_due(queue_name), {name: next_run})
        pipe.sadd(keys.SCHEDULE_QUEUES, queue_name)
        pipe.execute()


def remove(connection: redis.Redis, queue_name: str, name: str) -> bool:
    with connection.pipeline() as pipe:
        pipe.delete(keys.schedule(queue_name, name))
        pipe.zrem(keys.schedule_due(queue_name), name)
        deleted, _ = pipe.execute()
    return bool(deleted)


def load(connection: redis.Redis, queue_name: str) -> list[Schedule]:
    """The queue's schedules by name, with the status of each one's last run."""
    names = sorted(_text(n) for n in connection.zrange(keys.schedule_due(queue_name), 0, -1))
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.schedule(queue_name, name))
        records = [{as_text(k): v for k, v in raw.items()} for raw in pipe.execute()]
    with connection.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.hget(keys.job(as_text(record.get("last_job", b"-"))), "status")
        statuses = pipe.execute()
    return [_schedule_of(name, record, status) for name, record, status in zip(names, records, statuses) if record]


def _text(value: Any) -> str:
    return as_text(value)


def _rule_of(record: dict[str, Any]) -> Rule:
    rule = json.loads(as_text(record["rule"]))
    return Rule(every=rule["every"], cron=rule["cron"], anchor=float(record["anchor"]))


def _schedule_of(name: str, record: dict[str, Any], status: bytes | None) -> Schedule:
    last_job = as_text(record["last_job"]) if "last_job" in record else None
    return Schedule(name=name, function=as_text(record["func"]), rule=_rule_of(record).text,
                    next_run=local_datetime(float(record["next_run"])),  # type: ignore[arg-type]
                    last_run=local_datetime(float(record["last_run"])) if "last_run" in record else None,
                    last_status=JobStatus.parse(status) if status else None, last_job_id=last_job,
                    overlap=bool(int(record["overlap"])))


def queues_with_schedules(connection: redis.Redis) -> list[str]:
    return sorted(as_text(q) for q in connection.smembers(keys.SCHEDULE_QUEUES))


def next_due(connection: redis.Redis, queue_names: Iterable[str]) -> float | None:
    """The earliest next run (Unix seconds) of these queues' schedules, or None."""
    return reads.earliest_score(connection, [keys.schedule_due(name) for name in queue_names])


def fire_due(connection: redis.Redis, queue_name: str, serializer: Any, now: float) -> list[Fired]:
    """Fire every schedule of ``queue_name`` due at ``now`` that no one else fired first."""
    due = connection.zrangebyscore(keys.schedule_due(queue_name), "-inf", now)
    fired = []
    for raw in due:
        try:
            result = _fire_one(connection, Queue(queue_name, connection=connection, serializer=serializer),
                               _text(raw), now)
        except redis.WatchError:
            continue  # another supervisor fired it, or the schedule changed: nothing to do
        if result is not None:
            fired.append(result)
    return fired


def _fire_one(connection: redis.Redis, queue: Queue, name: str, now: float) -> Fired | None:
    key = keys.schedule(queue.name, name)
    with connection.pipeline() as pipe:
        pipe.watch(key)
        record = {as_text(k): v for k, v in pipe.hgetall(key).items()}
        if not record:  # unscheduled: only its index entry is left
            pipe.multi()
            pipe.zrem(keys.schedule_due(queue.name), name)
            pipe.execute()
            return None
        if float(record["next_run"]) > now:  # fired already; our read of the index was stale
            return None
        tick, upcoming = _rule_of(record).due(now)
        last_job = as_text(record["last_job"]) if "last_job" in record else None
        busy = _busy_status(pipe, last_job) if not int(record["overlap"]) else None
        job = None if busy else _tick_job(queue, name, record, tick)
        pipe.multi()
        pipe.hset(key, "next_run", repr(upcoming))
        pipe.zadd(keys.schedule_due(queue.name), {name: upcoming})
        if job is not None:
            pipe.hset(key, mapping={"last_run": repr(tick), "last_job": job.id})
            queue.enqueue_job(job, pipeline=pipe)
        pipe.execute()
    if busy:
        log.info("schedule %r: tick %s skipped: its previous run %s is still %s (overlap=False)",
                 name, local_datetime(tick), last_job, busy)
    return Fired(name, tick, None if job is None else job.id)


def _busy_status(pipe: Any, last_job: str | None) -> JobStatus | None:
    """The previous run's status when it is still queued or running (read under WATCH, at once)."""
    if last_job is None:
        return None
    status = pipe.hget(keys.job(last_job), "status")
    parsed = JobStatus.parse(status) if status else None
    return parsed if parsed in _BUSY else None


def tick_job_id(name: str, tick: float) -> str:
    """The id of the job of one tick: readable, and unique per (schedule, tick) though RQ's ids
    allow only letters, digits, ``_`` and ``-`` (the digest tells ``a.b`` from ``a_b``)."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return f"schedule-{readable}-{digest}-{int(round(tick * 1000))}"


def _tick_job(queue: Queue, name: str, record: dict[str, Any], tick: float) -> Any:
    """The tick's RQ job, or None (logged) when the stored call cannot be read (another serializer?)."""
    try:
        args, kwargs = queue.serializer.loads(record["call"])
    except Exception as exc:  # noqa: BLE001 - pickle and json raise many types
        log.error("schedule %r: its arguments cannot be read (%s: %s): is this supervisor's --serializer the "
                  "producer's? tick %s skipped", name, type(exc).__name__, exc, local_datetime(tick))
        return None
    return queue.create_job(as_text(record["func"]), args=tuple(args), kwargs=kwargs,
                            job_id=tick_job_id(name, tick),
                            meta={markers.SCHEDULE: name, markers.TICK: tick},
                            description=f"schedule {name} at {local_datetime(tick)}")
