"""Jobs a worker cannot read: fail that one job with a reason, never the worker.

Two ways a stored job can be unreadable. Its payload (``data``: function, arguments) may not
decode with the worker's serializer: written by a producer with another ``serializer``,
truncated, or not a payload at all; RQ raises a bare ``DeserializationError`` when the job
runs. Or the job's hash itself may not load (a field RQ cannot parse): plain RQ workers
crash on that and leave the rest of the queue. Either way the job is failed into RQ's failed
registry; its result's last line says in words what happened and what to do, and its meta
holds the same as a typed :class:`~jobs.rq_format.markers.Failure` the client raises from.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from rq.job import Job, JobStatus
from rq.utils import now

from ..serializers import for_rq, name_of
from . import markers, timestamps

#: The exception name the reason line carries, for people reading ``rq info``.
REASON_TYPE = "jobs.errors.SerializationError"


@dataclass
class Unreadable:
    """A stand-in :class:`rq.job.Job` for a hash that did not load, and why.

    ``job`` has what writing a failure needs (id, origin, times, the stored payload as it
    was: RQ rewrites the hash when it fails a job); whoever holds it fails it without running it.
    """

    job: Job
    failure: markers.Failure

    @property
    def exc_string(self) -> str:
        return f"{REASON_TYPE}: {self.failure.message}"


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


def payload_failure(job: Job, exc: BaseException) -> markers.Failure:
    """Why a job whose payload did not decode failed (``exc`` is RQ's DeserializationError)."""
    serializer = name_of(job.serializer)
    return markers.unreadable(
        f"job {job.id}: its payload cannot be decoded with the {serializer} serializer ({_cause(exc)}): enqueue it "
        f"with the serializer the workers use (--serializer {serializer}), or it was corrupted in Redis")


def payload_reason(failure: markers.Failure) -> str:
    """The line appended to such a job's traceback, for people."""
    return f"{REASON_TYPE}: {failure.message}"


def record_failure(job_id: str, exc: BaseException) -> markers.Failure:
    """Why a job whose hash did not load failed."""
    return markers.unreadable(f"job {job_id}: its record in Redis cannot be read ({_cause(exc)}): it was corrupted, "
                              "or written by an incompatible RQ version")


def unreadable_job(job_class: type[Job], connection: Any, serializer: Any, job_id: str, fields: dict[bytes, bytes],
                   exc: BaseException, worker_name: str = "") -> Unreadable:
    """The :class:`Unreadable` stand-in for the hash ``fields`` that raised ``exc`` when loaded."""
    job = job_class(job_id, connection=connection, serializer=for_rq(serializer))
    raw = fields.get(b"data") or b""
    try:
        job.data = zlib.decompress(raw)
    except zlib.error:
        job.data = raw
    job.origin = (fields.get(b"origin") or b"").decode(errors="replace")
    job.started_at = job.ended_at = now()
    job.worker_name, job._status = worker_name or None, JobStatus.STARTED
    return Unreadable(job, record_failure(job_id, exc))


def load(job_class: type[Job], connection: Any, serializer: Any, job_id: str,
         fields: dict[bytes, bytes]) -> Job | Unreadable:
    """The job a hash's ``fields`` hold, or its :class:`Unreadable` stand-in."""
    job = job_class(job_id, connection=connection, serializer=for_rq(serializer))
    try:
        timestamps.restore(job, fields)
    except Exception as exc:  # noqa: BLE001 - any parse error of RQ's: one job, never the worker
        return unreadable_job(job_class, connection, serializer, job_id, fields, exc)
    return job


def fetch_jobs(job_class: type[Job], connection: Any, serializer: Any, ids: list[str]) -> list[Job | Unreadable | None]:
    """``Job.fetch_many``, but a hash that does not load gives an :class:`Unreadable`, not an exception."""
    try:
        return list(job_class.fetch_many(ids, connection=connection, serializer=serializer))
    except Exception:  # noqa: BLE001 - one unreadable hash: load them one by one
        pass
    found: list[Job | Unreadable | None] = []
    for job_id in ids:
        fields = connection.hgetall(job_class.key_for(job_id))
        found.append(load(job_class, connection, serializer, job_id, fields) if fields else None)
    return found
