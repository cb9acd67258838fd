"""RQ job and worker attributes a batch worker sets in memory, mirroring what its scripts wrote.

RQ keeps these in private attributes (``Job._status``, ``Worker._state``); setting them
anywhere else would tie that code to RQ's internals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rq.job import Job, JobStatus
from rq.worker import WorkerStatus

#: Statuses of a held job whose result is already written (only its held entry is left).
SETTLED = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})


def mark_started(job: Job, worker_name: str, started_at: datetime) -> None:
    """The dequeue script wrote status ``started``: the loaded job says so too."""
    job.worker_name, job.started_at, job._status = worker_name, started_at, JobStatus.STARTED


def is_settled(job: Job) -> bool:
    return job.get_status(refresh=False) in SETTLED


def mark_busy(worker: Any, busy: bool) -> None:
    """The script set the RQ worker's ``state`` in Redis; the worker object says so too."""
    worker._state = WorkerStatus.BUSY if busy else WorkerStatus.IDLE


IDLE = WorkerStatus.IDLE
