"""The one set of job statuses, the same on every backend.

The values are RQ's own status strings, so a status read from Redis needs no translation and
``rq info`` users see the same words. :class:`JobStatus` is a ``str`` enum: ``job.status ==
"finished"`` keeps working for code written before it existed.
"""

from __future__ import annotations

import enum

__all__ = ["JobStatus", "ENDED", "WAITING"]


class JobStatus(str, enum.Enum):
    """Where a job is in its life; see README.md for what each one means to a caller."""

    QUEUED = "queued"
    #: waiting for the jobs it depends on (RQ's ``depends_on``)
    DEFERRED = "deferred"
    #: waiting for its time (RQ's scheduled registry: a retry with an interval, ``enqueue_at``)
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    #: stopped by RQ's ``send_stop_job_command``
    STOPPED = "stopped"
    #: RQ's own transitional statuses, passed through as RQ writes them
    CREATED = "created"
    RATE_LIMITED = "rate_limited"
    READY_TO_ENQUEUE = "ready_to_enqueue"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | bytes) -> JobStatus:
        """The status a backend stored (RQ keeps a few rarer ones; they pass as they are)."""
        text = value.decode() if isinstance(value, bytes) else value
        return cls(text)


#: Statuses after which a job never runs again.
ENDED = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED})
#: Statuses of a job that has not started and may still be canceled.
WAITING = frozenset({JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
