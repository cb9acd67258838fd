"""Jobs that wait for other jobs, in RQ's own dependency records.

What is written is what RQ's ``depends_on`` writes — the job hash with status ``deferred`` and
``dependency_ids``, its ``:dependencies`` set, each parent's ``:dependents`` set, the deferred
registry — so ``rq info`` and rq-dashboard show waiting jobs and a plain ``rq worker`` releases
them. Three things differ, each for a reason:

- **Set-up is one Lua script** (``enqueue_dependent.lua``), not RQ's WATCH/MULTI loop: RQ's
  ``setup_dependencies`` raises ``WatchError`` when handed a pipeline that holds other commands,
  and under churn its retry loop is unbounded. A script is atomic, so there is nothing to retry.
- **Release counts, it does not re-read** (``release_dependents.lua``): the dependent's hash keeps
  ``jobfleet_unmet``, the number of parents not yet ended; each parent's end decrements it and
  the last one pushes the job straight onto its queue. RQ instead re-reads every parent's status
  on every parent's end (quadratic for a fan-in of 10,000) and goes through its ready registry,
  whose optimistic lock gives a dependent up when two workers release at the same moment (it then
  sits ``ready_to_enqueue`` until RQ's maintenance, about 10 minutes).
- **Results live as long as someone needs them**: a parent whose value a dependent takes counts
  its readers in ``jobfleet_readers``; its hash and result stream do not expire while it has any
  (rq#2452: RQ deletes a parent before its dependent reads it), and the last reader gives it back
  its ``result_ttl`` (``done_reading.lua``).

Failure propagates at once: a dependent that can no longer run is failed (canceled, for a
canceled parent) with a ``parent`` marker naming the parent and its error type, and so are its
own dependents, down the chain, in one call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from rq.defaults import DEFAULT_FAILURE_TTL, DEFAULT_RESULT_TTL
from rq.job import Job
from rq.queue import Queue
from rq.registry import DeferredJobRegistry
from rq.utils import as_text, now, utcformat

from ..errors import ConfigError, JobNotFound
from . import keys, results
from .markers import FAILURE, Failure
from .scripts import _load
from .writes import fail_unrun

ENQUEUE_DEPENDENT = _load("enqueue_dependent")
RELEASE_DEPENDENTS = _load("release_dependents")
DONE_READING = _load("done_reading")
#: The hash field listing the parents whose values a dependent reads (JSON list of ids).
READS = "jobfleet_reads"
DEFERRED_PREFIX = DeferredJobRegistry.key_template.format("")
ENDED_BADLY = {"canceled", "stopped"}
#: RQ 3 spells a job's dependencies set ``rq:job::<id>:dependencies`` (two colons).
DEPENDENCIES_PREFIX = f"{Job.redis_job_namespace_prefix}:"


def enqueue_dependent(queue: Queue, job: Job, parent_ids: Sequence[str], value_ids: Sequence[str],
                      allow_failure: bool, server: str) -> str:
    """Write ``job`` waiting for ``parent_ids`` (``value_ids`` first among them); its status.

    Raises :class:`jobs.JobNotFound` for a parent that is gone (never enqueued or expired) and
    :class:`jobs.ConfigError` for a job id in use — both before anything is written.
    """
    connection = queue.connection
    ordered = list(dict.fromkeys([*value_ids, *parent_ids]))
    job.origin = queue.name
    job._dependency_ids = ordered
    job.allow_dependency_failures = allow_failure or None
    if job.timeout is None:
        job.timeout = queue._default_timeout  # as RQ's own enqueue sets it
    mapping = job.to_dict()
    mapping.pop("status", None)
    mapping["enqueued_at"] = utcformat(now())  # a release writes it again
    if value_ids:
        mapping[READS] = json.dumps(list(value_ids))
    flat: list[Any] = [item for pair in mapping.items() for item in pair]
    argv = [job.id, keys.JOB_PREFIX, keys.result_stream(""), "1" if allow_failure else "0", now().timestamp(),
            len(flat), len(value_ids), len(ordered), *flat, *ordered]
    reply = [as_text(r) for r in run_script(connection, ENQUEUE_DEPENDENT, [
        job.key, queue.key, DeferredJobRegistry(queue.name, connection=connection).key, Queue.redis_queues_keys,
        job.dependencies_key], argv)]
    if reply[0] == "exists":
        raise ConfigError(f"a job with id {job.id!r} already exists at {server}: choose another job_id, or get the "
                          f"existing one with q.job({job.id!r})")
    if reply[0] == "missing":
        raise JobNotFound(f"cannot wait for job {reply[1]!r}: it is gone from {server} (never enqueued, or its "
                          f"record expired); nothing was enqueued")
    bad = reply[1:]
    if bad:
        doom(connection, job.serializer, [(job.id, bad[0], bad[1])], {})
    return reply[0]


def release(connection: redis.Redis, serializer: Any, parent_ids: Iterable[str], *,
            exc_types: dict[str, str] | None = None, failures_only: bool = False) -> None:
    """These jobs ended: queue the dependents whose last parent they were, doom those that cannot run.

    ``exc_types``: the error type of a parent whose failure is not written yet (RQ's
    ``on_failure`` callback runs before the worker records the failure). ``failures_only``:
    only doom; the dependents that may still run are released after the failure is written.
    """
    ids = list(parent_ids)
    if not ids:
        return
    doomed = _release_script(connection, ids, failures_only)
    doom(connection, serializer, doomed, dict(exc_types or {}))


def _release_script(connection: redis.Redis, ids: list[str], failures_only: bool) -> list[tuple[str, str, str]]:
    reply = [as_text(r) for r in run_script(connection, RELEASE_DEPENDENTS, [], [
        keys.JOB_PREFIX, keys.QUEUE_PREFIX, DEFERRED_PREFIX, Queue.redis_queues_keys, utcformat(now()),
        keys.result_stream(""), "1" if failures_only else "0", DEPENDENCIES_PREFIX, *ids])]
    return [(reply[i], reply[i + 1], reply[i + 2]) for i in range(0, len(reply), 3)]


def propagate(connection: redis.Redis, serializer: Any, job_id: str, *, exc_type: str | None = None,
              failures_only: bool = False) -> None:
    """``job_id`` failed, was lost or canceled: its waiting dependents never run, down the chain."""
    if not connection.exists(Job.dependents_key_for(job_id)):
        return  # the common case: nobody waits (one EXISTS, no script)
    release(connection, serializer, [job_id], exc_types={job_id: exc_type} if exc_type else None,
            failures_only=failures_only)


def doom(connection: redis.Redis, serializer: Any, doomed: list[tuple[str, str, str]], exc_types: dict[str, str]) -> None:
    """Fail (or cancel) each dependent naming its parent, then the dependents of those, level by level."""
    while doomed:
        found = Job.fetch_many([d for d, _, _ in doomed], connection=connection, serializer=serializer)
        ended: list[str] = []
        with connection.pipeline() as pipe:
            for (dependent_id, parent_id, parent_status), job in zip(doomed, found):
                if job is None or job.get_status(refresh=False) != "deferred":
                    continue
                exc_type = exc_types.get(parent_id) or _exc_type_of(connection, serializer, parent_id, parent_status)
                exc_types[dependent_id] = exc_type
                _end_unrun(pipe, job, parent_id, parent_status, exc_type)
                ended.append(dependent_id)
            pipe.execute()
        for dependent_id in ended:
            finished_reading(connection, dependent_id)
        doomed = _release_script(connection, ended, False) if ended else []


def _end_unrun(pipe: Any, job: Job, parent_id: str, parent_status: str, exc_type: str) -> None:
    DeferredJobRegistry(job.origin, connection=job.connection).remove(job, pipeline=pipe)
    if parent_status in ENDED_BADLY:
        marker = Failure("parent_canceled", "JobCanceled",
                         f"job {job.id} was canceled before it ran: the job it waits for, {parent_id}, was {parent_status}")
        job.meta[FAILURE] = marker.to_meta()
        pipe.hset(job.key, "meta", job.serializer.dumps(job.meta))
        job.cancel(pipeline=pipe)
        return
    marker = Failure("parent", exc_type, f"job {job.id} did not run: the job it waits for, {parent_id}, failed ({exc_type})")
    fail_unrun(pipe, job, f"jobs.errors.JobFailed: {marker.message}", marker)


def _exc_type_of(connection: redis.Redis, serializer: Any, job_id: str, status: str) -> str:
    if status in ENDED_BADLY:
        return "JobCanceled"
    marker = results.failure_marker(connection, job_id, serializer)
    if marker is not None:
        return marker.exc_type
    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    result = job.latest_result()
    return results.failure_from(job_id, result.exc_string if result else job.exc_info).exc_type


def parent_values(connection: redis.Redis, serializer: Any, ids: Sequence[str]) -> dict[str, Any]:
    """Each parent's value: its return value, or its :class:`jobs.JobFailed` when it failed.

    One pipelined read of the newest entry of each result stream: a fan-in of 10,000 costs a
    few round trips, not 10,000.
    """
    values: dict[str, Any] = {}
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start:start + 1000])
        with connection.pipeline(transaction=False) as pipe:
            for job_id in chunk:
                pipe.xrevrange(keys.result_stream(job_id), count=1)
            replies = pipe.execute()
        for job_id, entries in zip(chunk, replies):
            outcome = results.parse_entries(connection, job_id, entries, serializer)[1] if entries else None
            if outcome is None:
                raise JobNotFound(f"the result of job {job_id} is gone (its record expired or was deleted)")
            values[job_id] = outcome.error if outcome.error is not None else outcome.value
    return values


def finished_reading(connection: redis.Redis, job_id: str) -> None:
    """Job ``job_id`` will never read its parents' results (it was failed, canceled or given up)."""
    done_reading(connection, json.loads(as_text(connection.hget(keys.job(job_id), READS) or b"[]")))


def done_reading(connection: redis.Redis, ids: Sequence[str]) -> None:
    """A dependent is done with its parents' results: the last reader lets them expire again."""
    if ids:
        run_script(connection, DONE_READING, [], [keys.JOB_PREFIX, keys.result_stream(""), DEFAULT_RESULT_TTL,
                                             DEFAULT_FAILURE_TTL, *ids])


def run_script(connection: redis.Redis, script: str, script_keys: list[str], argv: list[Any]) -> Any:
    """EVALSHA (loading the script once), as the documented ACL users may run it; never EVAL."""
    return connection.register_script(script)(keys=script_keys, args=argv)
