"""Jobs a worker cannot read: fail that one job with a reason, never the worker.

Two ways a stored job can be unreadable. Its payload (``data``: function, arguments) may not
decode with the worker's serializer: written by a producer with another ``serializer``,
truncated, or not a payload at all; RQ raises a bare ``DeserializationError`` when the job
runs. Or the job's hash itself may not load (a field RQ cannot parse): plain RQ workers
crash on that and leave the rest of the queue. Either way the job is failed into RQ's failed
registry with a last line that says what happened and what to do; the client reads that
line as the :class:`jobs.JobFailed` message.
"""

from __future__ import annotations

import zlib
from typing import Any

from rq.job import Job, JobStatus
from rq.utils import now

from jobs.serializers import name_of

#: The exception name the reason line carries (``exc_type`` of the client's :class:`jobs.JobFailed`).
REASON_TYPE = "jobs.errors.SerializationError"


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def payload_reason(job: Job, exc: BaseException) -> str:
    """The last line of a failure whose payload did not decode (``exc`` is RQ's DeserializationError)."""
    serializer = name_of(job.serializer)
    return (f"{REASON_TYPE}: job {job.id}: its payload cannot be decoded with the {serializer} serializer "
            f"({_cause(exc)}): enqueue it with the serializer the workers use (--serializer {serializer}), "
            "or it was corrupted in Redis")


def record_reason(job_id: str, exc: BaseException) -> str:
    """The last line of a failure whose job hash did not load."""
    return (f"{REASON_TYPE}: job {job_id}: its record in Redis cannot be read ({_cause(exc)}): it was corrupted, "
            "or written by an incompatible RQ version")


def unreadable_job(job_class: type[Job], connection: Any, serializer: Any, job_id: str, fields: dict[bytes, bytes],
                   exc: BaseException, worker_name: str = "") -> Job:
    """A stand-in :class:`rq.job.Job` for a hash that did not load, carrying the failure reason.

    It has what writing a failure needs (id, origin, times, the stored payload as it was: RQ
    rewrites the hash when it fails a job); whoever holds it fails it without running it.
    """
    job = job_class(job_id, connection=connection, serializer=serializer)
    raw = fields.get(b"data") or b""
    try:
        job.data = zlib.decompress(raw)
    except zlib.error:
        job.data = raw
    job.origin = (fields.get(b"origin") or b"").decode(errors="replace")
    job.started_at = job.ended_at = now()
    job.worker_name, job._status = worker_name or None, JobStatus.STARTED
    job.jobfleet_unreadable = record_reason(job_id, exc)  # type: ignore[attr-defined]  # read with getattr
    return job


def fetch_jobs(job_class: type[Job], connection: Any, serializer: Any, ids: list[str]) -> list[Job | None]:
    """``Job.fetch_many``, but a hash that does not load gives an :func:`unreadable_job`, not an exception."""
    try:
        return list(job_class.fetch_many(ids, connection=connection, serializer=serializer))
    except Exception:  # noqa: BLE001 - one unreadable hash: load them one by one
        pass
    found: list[Job | None] = []
    for job_id in ids:
        fields = connection.hgetall(job_class.key_for(job_id))
        if not fields:
            found.append(None)
            continue
        job = job_class(job_id, connection=connection, serializer=serializer)
        try:
            job.restore(fields)
        except Exception as exc:  # noqa: BLE001 - any parse error of RQ's
            job = unreadable_job(job_class, connection, serializer, job_id, fields, exc)
        found.append(job)
    return found
