"""Read RQ results: one job or many at once, blocking on Redis streams instead of polling.

RQ appends each run's outcome to the stream ``rq:results:<job id>``. One ``XREAD BLOCK`` over
hundreds of those streams waits for whichever finishes first, so waiting for a ``map`` of
10,000 jobs costs a few round trips per batch of results, not one per job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from rq.results import Result

from ..errors import JobFailed, JobLost
from ..meta import LOST_EXC_PREFIX

#: How many result streams one XREAD watches.
WINDOW = 512
#: The outcome kinds that end a job (RETRIED means the job runs again: keep waiting).
_FINAL = {Result.Type.SUCCESSFUL, Result.Type.FAILED, Result.Type.STOPPED}
if hasattr(Result.Type, "MAX_RETRIES_EXCEEDED"):
    _FINAL.add(Result.Type.MAX_RETRIES_EXCEEDED)


def stream_key(job_id: str) -> str:
    return Result.get_key(job_id)


def failure_from(job_id: str, exc_string: str | None, *, stopped: bool = False) -> JobFailed:
    """The :class:`JobFailed` (or :class:`JobLost`) a failed RQ result stands for."""
    text = exc_string or ""
    if text.startswith(LOST_EXC_PREFIX):
        reason = text[len(LOST_EXC_PREFIX):].strip().splitlines()[0]
        return JobLost(f"job {job_id} {reason}", job_id=job_id, exc_type="JobLost", remote_traceback=text)
    if stopped:
        return JobFailed(f"job {job_id} was stopped", job_id=job_id, exc_type="StopRequested", remote_traceback=text)
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    exc_type = last.split(":", 1)[0].strip().rsplit(".", 1)[-1] if last else "Exception"
    return JobFailed(last or f"job {job_id} failed", job_id=job_id, exc_type=exc_type, remote_traceback=text)


class Outcome:
    """A final result: ``value`` when it succeeded, else ``error`` to raise."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any = None, error: JobFailed | None = None) -> None:
        self.value, self.error = value, error

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def parse_entries(client: redis.Redis, job_id: str, entries: Any, serializer: Any) -> tuple[str, Outcome | None]:
    """Read a stream's newest entries: (the last id seen, the final outcome or None)."""
    result_id, payload = entries[-1]
    rid = result_id.decode() if isinstance(result_id, bytes) else str(result_id)
    result = Result.restore(job_id, rid, payload, connection=client, serializer=serializer)
    if result.type not in _FINAL:
        return rid, None
    if result.type == Result.Type.SUCCESSFUL:
        return rid, Outcome(value=result.return_value)
    return rid, Outcome(error=failure_from(job_id, result.exc_string, stopped=result.type == Result.Type.STOPPED))


def latest(client: redis.Redis, job_id: str, serializer: Any) -> tuple[str, Outcome | None]:
    """The newest entry of one job's stream, without blocking."""
    entries = client.xrevrange(stream_key(job_id), "+", "-", count=1)
    if not entries:
        return "0-0", None
    return parse_entries(client, job_id, entries, serializer)


def read_many(
    client: redis.Redis, positions: dict[str, str], serializer: Any, block_ms: int | None
) -> Iterator[tuple[str, str, Outcome | None]]:
    """XREAD (blocking up to ``block_ms``, or not at all when None) over ``positions``
    (job id → last stream id seen); yield (job id, new last id, outcome or None)."""
    streams: dict[Any, Any] = {stream_key(job_id): last for job_id, last in positions.items()}
    response: Any = client.xread(streams, block=block_ms) if block_ms is not None else client.xread(streams)
    for key, entries in response or ():
        name = key.decode() if isinstance(key, bytes) else key
        job_id = name[len(stream_key("")):]
        last, outcome = parse_entries(client, job_id, entries, serializer)
        yield job_id, last, outcome
