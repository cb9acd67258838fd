"""Read RQ results: one job or many at once, blocking on Redis streams instead of polling.

RQ appends each run's outcome to the stream ``rq:results:<job id>``. One ``XREAD BLOCK`` over
hundreds of those streams waits for whichever finishes first, so waiting for a ``map`` of
10,000 jobs costs a few round trips per batch of results, not one per job. A failure costs one
more round trip: the job's ``meta`` may hold a :class:`~jobs.rq_format.markers.Failure` saying
what the failure really was (lost, unreadable, one item of a chunk).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from rq.defaults import UNSERIALIZABLE_RETURN_VALUE_PAYLOAD
from rq.results import Result

from ..errors import JobCanceled, JobFailed, JobLost, SerializationError
from ..serializers import for_rq, name_of
from . import keys
from .markers import Failure, stored_exception

#: How many result streams one XREAD watches.
WINDOW = 512
#: The outcome kinds that end a job (RETRIED means the job runs again: keep waiting).
_FINAL = {Result.Type.SUCCESSFUL, Result.Type.FAILED, Result.Type.STOPPED}
if hasattr(Result.Type, "MAX_RETRIES_EXCEEDED"):
    _FINAL.add(Result.Type.MAX_RETRIES_EXCEEDED)


def failure_from(job_id: str, exc_string: str | None, marker: Failure | None = None, *,
                 stopped: bool = False, exception: BaseException | None = None) -> JobFailed:
    """The :class:`JobFailed` (or :class:`JobLost`) a failed RQ result stands for; ``exception``
    is the job's own, rebuilt (see :mod:`jobs.remote_errors`), when the worker stored it."""
    text = exc_string or ""
    if marker is not None and marker.kind == "lost":
        return JobLost(f"job {job_id} {marker.message}", job_id=job_id, exc_type="JobLost", remote_traceback=text)
    if marker is not None and marker.kind == "parent":
        return JobFailed(marker.message, job_id=job_id, exc_type=marker.exc_type, remote_traceback=text)
    if marker is not None and marker.kind == "chunk_item":
        return JobFailed(f"{marker.exc_type}: {marker.message}", job_id=job_id, exc_type=marker.exc_type,
                         remote_traceback=text, index=marker.index, exception=exception)
    if marker is not None:
        return JobFailed(f"jobs.errors.{marker.exc_type}: {marker.message}", job_id=job_id,
                         exc_type=marker.exc_type, remote_traceback=text)
    if stopped:
        return JobFailed(f"job {job_id} was stopped", job_id=job_id, exc_type="StopRequested", remote_traceback=text)
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    # The last line of a Python traceback is "module.Type: message": RQ's own exc_string format.
    exc_type = last.split(":", 1)[0].strip().rsplit(".", 1)[-1] if last else "Exception"
    return JobFailed(last or f"job {job_id} failed", job_id=job_id, exc_type=exc_type, remote_traceback=text,
                     exception=exception)


def job_meta(client: redis.Redis, job_id: str, serializer: Any) -> dict[str, Any] | None:
    """The job's ``meta`` (None when it has none or cannot be read)."""
    raw = client.hget(keys.job(job_id), "meta")
    if not raw:
        return None
    try:
        meta = serializer.loads(raw)
    except Exception:  # noqa: BLE001 - a meta another serializer wrote carries no marker of ours
        return None
    return meta if isinstance(meta, dict) else None


def failure_marker(client: redis.Redis, job_id: str, serializer: Any) -> Failure | None:
    """The job's failure marker, read from its ``meta`` (None when it has none or cannot be read)."""
    return Failure.from_meta(job_meta(client, job_id, serializer))


def canceled_job(client: redis.Redis, job_id: str, serializer: Any) -> JobCanceled:
    """The error for a canceled job: the marker's words when a canceled parent canceled it."""
    marker = failure_marker(client, job_id, serializer)
    if marker is not None and marker.kind == "parent_canceled":
        return JobCanceled(marker.message)
    return JobCanceled(f"job {job_id} was canceled before it ran")


def failed_job(client: redis.Redis, job_id: str, exc_string: str | None, serializer: Any) -> JobFailed:
    """The error for a job that failed: its marker if any, else its ``exc_string``; with the job's
    own exception when the worker's handler stored one (one read of ``meta`` for both)."""
    from ..remote_errors import rebuild

    meta = job_meta(client, job_id, serializer)
    marker = Failure.from_meta(meta)
    rebuildable = name_of(serializer) == "pickle" and (marker is None or marker.kind == "chunk_item")
    exception = rebuild(stored_exception(meta), exc_string or "") if rebuildable else None
    return failure_from(job_id, exc_string, marker, exception=exception)


class UnserializableResult(JobFailed, SerializationError):
    """The job ran, but the worker could not serialize its result (RQ stores a placeholder string).

    Both a :class:`jobs.JobFailed` and a :class:`jobs.SerializationError`, as ``local://`` raises.
    """


class FinalResult:
    """A job's final result: ``value`` when it succeeded, else ``error`` to raise."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any = None, error: JobFailed | None = None) -> None:
        self.value, self.error = value, error

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def parse_entries(client: redis.Redis, job_id: str, entries: Any, serializer: Any) -> tuple[str, FinalResult | None]:
    """Read a stream's newest entries: (the last id seen, the final result or None)."""
    result_id, payload = entries[-1]
    rid = result_id.decode() if isinstance(result_id, bytes) else str(result_id)
    result = Result.restore(job_id, rid, payload, connection=client, serializer=for_rq(serializer))
    if result.type not in _FINAL:
        return rid, None
    if result.type == Result.Type.SUCCESSFUL:
        if isinstance(result.return_value, str) and result.return_value == UNSERIALIZABLE_RETURN_VALUE_PAYLOAD:
            return rid, FinalResult(error=UnserializableResult(
                f"job {job_id}: its result cannot be serialized with {name_of(serializer)} (the worker stored RQ's "
                f"placeholder {UNSERIALIZABLE_RETURN_VALUE_PAYLOAD!r} instead): return a value the serializer carries",
                job_id=job_id, exc_type="SerializationError"))
        return rid, FinalResult(value=result.return_value)
    if result.type == Result.Type.STOPPED:
        return rid, FinalResult(error=failure_from(job_id, result.exc_string, stopped=True))
    return rid, FinalResult(error=failed_job(client, job_id, result.exc_string, serializer))


def read_many(
    client: redis.Redis, positions: dict[str, str], serializer: Any, block_ms: int | None
) -> Iterator[tuple[str, str, FinalResult | None]]:
    """XREAD (blocking up to ``block_ms``, or not at all when None) over ``positions``
    (job id → last stream id seen); yield (job id, new last id, final result or None)."""
    streams: dict[Any, Any] = {keys.result_stream(job_id): last for job_id, last in positions.items()}
    response: Any = client.xread(streams, block=block_ms) if block_ms is not None else client.xread(streams)
    for key, entries in response or ():
        name = key.decode() if isinstance(key, bytes) else key
        job_id = keys.job_id_of_stream(name)
        last, outcome = parse_entries(client, job_id, entries, serializer)
        yield job_id, last, outcome


def statuses(client: redis.Redis, job_ids: list[str]) -> list[str | None]:
    """Each job's stored status (None where its hash is gone), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hget(keys.job(job_id), "status")
    return [raw.decode() if isinstance(raw, bytes) else raw for raw in pipe.execute()]


def status(client: redis.Redis, job_id: str) -> str | None:
    raw = client.hget(keys.job(job_id), "status")
    return raw.decode() if isinstance(raw, bytes) else raw


def exists(client: redis.Redis, job_id: str) -> bool:
    return bool(client.exists(keys.job(job_id)))


def exc_string(client: redis.Redis, job_id: str, serializer: Any) -> str | None:
    """The failure text of a job that failed without a result entry (e.g. abandoned by an old RQ)."""
    from rq.job import Job

    return Job.fetch(job_id, connection=client, serializer=serializer).exc_info
