"""Per-job options, kept apart from the function's own keyword arguments.

``Queue.enqueue(func, *args, **kwargs)`` passes every keyword to ``func``; options go through
``Queue.enqueue_call(func, args, kwargs, timeout=..., retries=...)`` and land here, checked
before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["JobOptions"]

_JOB_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
#: The longest duration an option may give (about 68 years): it still fits ``signal.alarm``,
#: Redis ``EXPIRE`` and a ``datetime``, where a bigger one would fail on the worker, not here.
MAX_SECONDS = 2**31 - 1


def _positive_seconds(name: str, value: object, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
            or value > MAX_SECONDS):
        raise ConfigError(f"{name} must be a positive number of seconds up to {MAX_SECONDS}, not {value!r}")
    return float(value)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass(frozen=True)
class JobOptions:
    """What a caller may say about one job. Durations are in seconds.

    - ``timeout``: the job is stopped (and fails) after this long; None = the backend default
      (RQ's 180 s on Redis, none on local://).
    - ``retries``: how many more times a *failing* job is run (an exception, not a lost worker).
    - ``retry_interval``: seconds before each retry; a list gives one value per retry (backoff).
    - ``job_id``: your own id (letters, digits, ``_.:-``); None = a new UUID.
    - ``result_ttl`` / ``failure_ttl``: how long a result or failure is kept (Redis only).
    - ``description``: shown by ``rq info`` and dashboards.
    - ``max_losses``: how many worker deaths the job survives before :class:`jobs.JobLost`.
    - ``parents``: ids of the jobs this one waits for (``depends_on=`` and jobs among its
      arguments); ``allow_failure``: run it even when one of them failed.
    """

    timeout: float | None = None
    retries: int = 0
    retry_interval: float | tuple[float, ...] = 0
    job_id: str | None = None
    result_ttl: float | None = None
    failure_ttl: float | None = None
    description: str | None = None
    max_losses: int | None = None
    parents: tuple[str, ...] = ()
    allow_failure: bool = False

    def __post_init__(self) -> None:
        _positive_seconds("timeout", self.timeout)
        _positive_seconds("result_ttl", self.result_ttl)
        _positive_seconds("failure_ttl", self.failure_ttl)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 1000:
            raise ConfigError(f"retries must be a whole number from 0 to 1000, not {self.retries!r}")
        interval = self.retry_interval
        values = list(interval) if isinstance(interval, Sequence) and not isinstance(interval, str) else [interval]
        if not values:
            raise ConfigError("retry_interval must not be an empty list")
        for value in values:
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
                    or value > MAX_SECONDS):
                raise ConfigError(f"retry_interval must be seconds from 0 to {MAX_SECONDS} (or a list of them), not {interval!r}")
        object.__setattr__(self, "retry_interval", tuple(float(v) for v in values) if len(values) > 1 else float(values[0]))
        if self.job_id is not None and (not isinstance(self.job_id, str) or not _JOB_ID.fullmatch(self.job_id)):
            raise ConfigError(f"job_id must be 1-200 letters, digits or _.:- characters, not {self.job_id!r}")
        if self.description is not None and not isinstance(self.description, str):
            raise ConfigError(f"description must be a string, not {type(self.description).__name__}")
        if self.description is not None and _has_surrogates(self.description):
            raise ConfigError("description must be text that UTF-8 can carry: it holds a lone surrogate (\\ud800-\\udfff)")
        if self.max_losses is not None and (
            isinstance(self.max_losses, bool) or not isinstance(self.max_losses, int) or not 1 <= self.max_losses <= 1000
        ):
            raise ConfigError(f"max_losses must be a whole number from 1 to 1000, not {self.max_losses!r}")
        if not isinstance(self.allow_failure, bool):
            raise ConfigError(f"allow_failure must be True or False, not {self.allow_failure!r}")
        for parent in self.parents:
            if not isinstance(parent, str) or not _JOB_ID.fullmatch(parent):
                raise ConfigError(f"depends_on takes jobs or job ids, not {parent!r:.60}")

    def interval_before(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (0-based)."""
        if isinstance(self.retry_interval, tuple):
            return self.retry_interval[min(retry_number, len(self.retry_interval) - 1)]
        return float(self.retry_interval)

    def timeout_seconds(self) -> int | None:
        """The timeout rounded up to whole seconds, as RQ stores it."""
        return None if self.timeout is None else max(1, math.ceil(self.timeout))
