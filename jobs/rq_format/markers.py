"""What jobfleet keeps in an RQ job's ``meta``: the contract between client and workers, typed.

RQ stores ``meta`` with the job, so everything here is visible to ``rq info`` users, survives a
restart of either side, and travels with either serializer (only numbers, strings and None).

- ``jobfleet_losses`` (int): how many times a worker died (SIGKILL, OOM, segfault, a host that
  vanished) while it held this job. Each loss puts the job back on its queue.
- ``jobfleet_max_losses`` (int, optional): the job's own bound on losses; when absent the
  supervisor's ``--max-losses`` applies.
- ``jobfleet_lost`` (str): set when the job was given up after too many losses, holding the
  reason (``"lost 3 times: worker died by signal 9"``).
- ``jobfleet_failure`` (dict, a :class:`Failure`): why a job failed when the reason is not an
  exception of the job's own making — lost, unreadable, one item of a map chunk, or a job it
  waited for that failed (``parent``) or was canceled (``parent_canceled``) — with the
  error type and message the client raises. The failed result's ``exc_string`` still says it
  in words for people; the client reads this, never that text.
- ``jobfleet_progress`` (dict ``{"done", "total", "message"}``): the job's last
  :func:`jobs.report_progress`, written by the job while it runs (rate-limited; see
  :mod:`jobs.progress`) and kept after it ended; rq-dashboard shows it with the meta.
- ``jobfleet_schedule`` (str), ``jobfleet_tick`` (float): on a job a schedule enqueued, which
  schedule and which tick (Unix seconds) it runs for.
- ``jobfleet_exception`` (str, pickle-serializer queues only): the exception the job raised,
  pickled and base64-encoded by the worker's exception handler
  :func:`jobs.remote_errors.store_exception`, so that ``jobs.Pool`` and ``jobs.Executor``
  re-raise its own type and args (:func:`stored_exception` decodes it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

LOSSES = "jobfleet_losses"
MAX_LOSSES = "jobfleet_max_losses"
LOST = "jobfleet_lost"
FAILURE = "jobfleet_failure"
REMOTE_EXCEPTION = "jobfleet_exception"
PROGRESS = "jobfleet_progress"
#: On a job a schedule enqueued: the schedule's name (str) and the tick it ran for (Unix seconds, float).
SCHEDULE = "jobfleet_schedule"
TICK = "jobfleet_tick"
#: The default bound on losses, for the supervisor and the local backend alike.
DEFAULT_MAX_LOSSES = 3
#: How a given-up job's failed result begins, for people reading ``rq info`` (never parsed).
LOST_EXC_PREFIX = "jobs.errors.JobLost: "

FailureKind = Literal["lost", "unreadable", "chunk_item", "parent", "parent_canceled"]
_KINDS = ("lost", "unreadable", "chunk_item", "parent", "parent_canceled")


@dataclass(frozen=True)
class Failure:
    """A failure the client rebuilds as it was meant, not from traceback text.

    ``exc_type`` is the name :attr:`jobs.JobFailed.exc_type` carries; ``message`` the error's
    text; ``index`` the failing item's position inside a chunk (``chunk_item`` only).
    """

    kind: FailureKind
    exc_type: str
    message: str
    index: int | None = None

    def to_meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "exc_type": self.exc_type, "message": self.message, "index": self.index}

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Failure | None:
        """The marker in a job's meta, or None (no marker, or one this version cannot read)."""
        raw = (meta or {}).get(FAILURE)
        if not isinstance(raw, dict) or raw.get("kind") not in _KINDS:
            return None
        index = raw.get("index")
        return cls(raw["kind"], str(raw.get("exc_type") or ""), str(raw.get("message") or ""),
                   index if isinstance(index, int) else None)


def lost(reason: str) -> Failure:
    return Failure("lost", "JobLost", reason)


def unreadable(message: str) -> Failure:
    return Failure("unreadable", "SerializationError", message)


def chunk_item(index: int, exc: BaseException) -> Failure:
    return Failure("chunk_item", type(exc).__name__, str(exc), index)


def losses(meta: dict[str, Any]) -> int:
    return int(meta.get(LOSSES, 0))


def record_loss(meta: dict[str, Any], default_max: int) -> tuple[int, bool]:
    """Count one more loss in ``meta``; ``(losses, given_up)``: given up at the job's bound."""
    count = losses(meta) + 1
    meta[LOSSES] = count
    return count, count >= int(meta.get(MAX_LOSSES) or default_max)


def mark_lost(meta: dict[str, Any], reason: str) -> Failure:
    marker = lost(reason)
    meta[LOST] = reason
    meta[FAILURE] = marker.to_meta()
    return marker


def is_lost(meta: dict[str, Any]) -> bool:
    return LOST in meta


def stored_exception(meta: dict[str, Any] | None) -> bytes | None:
    """The pickled exception :func:`jobs.remote_errors.store_exception` kept in ``meta`` (as
    base64 text), or None."""
    text = (meta or {}).get(REMOTE_EXCEPTION)
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return None
