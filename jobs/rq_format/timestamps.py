"""RQ's job timestamps (``2026-12-02T04:30:00.123456Z``), read without ``strptime``.

``Job.restore`` parses five timestamps per job with ``datetime.strptime``, which goes through
the locale-aware ``_strptime`` module: 12% of a no-op job's time in a worker. The format is
ISO 8601, which ``datetime.fromisoformat`` (C code) reads about 5× faster. :func:`restore`
hands RQ's ``restore`` the hash without those fields and sets them itself, to the same values;
a field in any other shape goes through RQ's own parser, with its rules and its errors.
:func:`format` writes them (``strftime``, RQ's way, was 6% of a no-op job's time).
"""

from __future__ import annotations

import datetime
from typing import Any

from rq.job import Job
from rq.utils import str_to_date, utcformat

__all__ = ["parse", "restore", "format"]

#: The job hash's timestamp fields, each the Job attribute of the same name.
TIME_FIELDS = (b"created_at", b"enqueued_at", b"started_at", b"ended_at", b"last_heartbeat")
_UTC = datetime.timezone.utc


def parse(raw: bytes) -> datetime.datetime:
    """One RQ timestamp, as ``rq.utils.str_to_date`` reads it."""
    if raw.endswith(b"Z"):
        try:
            return datetime.datetime.fromisoformat(raw[:-1].decode()).replace(tzinfo=_UTC)
        except ValueError:
            pass
    return str_to_date(raw)


def format(moment: datetime.datetime) -> str:  # noqa: A001 - the module's name says whose format
    """``rq.utils.utcformat`` (``%Y-%m-%dT%H:%M:%S.%fZ``) of a UTC time by ``isoformat``, 1.6× faster than ``strftime``."""
    if moment.tzinfo is not _UTC:
        return utcformat(moment)  # naive, or another zone: RQ writes its wall clock as it is, so do we
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # without its "+00:00"


def restore(job: Job, fields: dict[bytes, Any]) -> None:
    """``job.restore(fields)`` with the timestamps read by :func:`parse`."""
    times = {name: fields[name] for name in TIME_FIELDS if fields.get(name)}
    job.restore({k: v for k, v in fields.items() if k not in times} if times else fields)
    for name, raw in times.items():
        setattr(job, name.decode(), parse(raw))
