"""A job's progress in its RQ ``meta`` (:data:`.markers.PROGRESS`): written by the job, read by clients.

The job writes only the ``meta`` field of its hash (RQ's ``save_meta``), one HSET. The worker
writes ``meta`` only from that same job object (a failure marker), so the last report stays
after the job ended.
"""

from __future__ import annotations

from typing import Any

import redis
from rq.job import Job

from ..progress import Progress
from . import keys, markers


def write(job: Job, progress: Progress) -> None:
    """Store the report in the running job's meta (the caller rate-limits)."""
    job.meta[markers.PROGRESS] = {"done": progress.done, "total": progress.total, "message": progress.message}
    job.save_meta()


def read(client: redis.Redis, job_id: str, serializer: Any) -> tuple[bool, Progress | None]:
    """(whether the job exists, its last report or None), in one round trip."""
    raw = client.hget(keys.job(job_id), "meta")
    if raw is None:
        return bool(client.exists(keys.job(job_id))), None
    try:
        meta = serializer.loads(raw)
    except Exception:  # noqa: BLE001 - a meta another serializer wrote carries no report of ours
        return True, None
    return True, from_meta(meta)


def from_meta(meta: object) -> Progress | None:
    found = meta.get(markers.PROGRESS) if isinstance(meta, dict) else None
    if not isinstance(found, dict) or not isinstance(found.get("done"), (int, float)):
        return None
    total, message = found.get("total"), found.get("message")
    return Progress(found["done"], total if isinstance(total, (int, float)) else None,
                    message if isinstance(message, str) else None)
