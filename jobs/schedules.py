"""Recurring jobs: ``q.schedule(name, func, every=...)`` or ``cron=...``, and what ``q.schedules()`` shows.

A schedule is a rule of ticks. ``every=N`` ticks every N seconds from the moment the schedule
was (re)defined; ``cron="m h dom mon dow"`` ticks on the matching minutes, in UTC (every host
of a fleet agrees on UTC, whatever its own timezone). Each tick enqueues one job. A tick that
was missed (nobody was running) fires once, not once per missed tick: the next run is always
the first tick after *now*. With ``overlap=False`` a tick is skipped while the previous run is
still queued or running.

This module is the rule and its checks, the same on every backend; where schedules are kept
and who fires them is each backend's (Redis: :mod:`jobs.rq_format.schedules`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import ConfigError
from .options import MAX_SECONDS
from .status import JobStatus

__all__ = ["Schedule", "Rule", "ScheduleSpec", "check_name"]

_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
#: Each cron field, the values it takes, and a field that is every value.
_CRON_FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day-of-month", "1-31"), ("month", "1-12 or jan-dec"),
                ("day-of-week", "0-6 or sun-sat"))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"schedule name must be 1-128 letters, digits or _.:- characters, not {name!r}")
    return name


@dataclass(frozen=True)
class Rule:
    """When a schedule ticks: every ``every`` seconds from ``anchor`` (Unix seconds), or by ``cron``."""

    every: float | None = None
    cron: str | None = None
    anchor: float = 0.0

    @classmethod
    def of(cls, every: object, cron: object, anchor: float) -> Rule:
        """The checked rule; :class:`ConfigError` naming what is wrong."""
        if (every is None) == (cron is None):
            raise ConfigError("a schedule needs exactly one of every= (seconds) or cron= (five cron fields)")
        if every is not None:
            if (isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every)
                    or not 1 <= every <= MAX_SECONDS):
                raise ConfigError(f"every must be a number of seconds from 1 to {MAX_SECONDS}, not {every!r}")
            return cls(every=float(every), anchor=anchor)
        from croniter import CroniterBadDateError

        rule = cls(cron=_checked_cron(cron), anchor=anchor)
        try:
            rule.next_after(anchor)
        except CroniterBadDateError:
            raise ConfigError(f"bad cron {cron!r}: it matches no date (e.g. February 30th)") from None
        return rule

    @property
    def text(self) -> str:
        return f"every {self.every:g} s" if self.every is not None else f"cron {self.cron}"

    def next_after(self, t: float) -> float:
        """The first tick strictly after ``t`` (Unix seconds)."""
        if self.every is not None:
            return self.anchor + (math.floor((t - self.anchor) / self.every) + 1) * self.every
        return float(_croniter(self.cron, t).get_next(float))

    def before(self, tick: float) -> float:
        """The tick before ``tick`` (itself a tick)."""
        if self.every is not None:
            return tick - self.every
        return float(_croniter(self.cron, tick).get_prev(float))

    def due(self, now: float) -> tuple[float, float]:
        """(the latest tick at or before ``now``, the next tick after it): what one firing runs and
        when the next is, however many ticks were missed."""
        upcoming = self.next_after(now)
        return self.before(upcoming), upcoming


def _croniter(cron: str | None, t: float) -> Any:
    # Imported when a cron rule is used: croniter runs `file` on the interpreter at import
    # (platform.architecture), a child process a supervisor without cron rules need not fork.
    from croniter import croniter

    assert cron is not None
    return croniter(cron, datetime.fromtimestamp(t, timezone.utc))


def _checked_cron(cron: object) -> str:
    from croniter import croniter

    if not isinstance(cron, str):
        raise ConfigError(f"cron must be a string of five fields such as '*/5 * * * *', not {type(cron).__name__}")
    fields = cron.split()
    if len(fields) != 5:
        raise ConfigError(f"bad cron {cron!r}: a cron rule has five fields (minute hour day-of-month month "
                          f"day-of-week), this one has {len(fields)}")
    for index, (field, values) in enumerate(_CRON_FIELDS):
        alone = ["*"] * 5
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            raise ConfigError(f"bad cron {cron!r}: the {field} field {fields[index]!r} is not valid ({values}, *, "
                              "ranges a-b, lists a,b and steps */n)")
    if not croniter.is_valid(" ".join(fields)):
        raise ConfigError(f"bad cron {cron!r}: croniter cannot read it")
    return " ".join(fields)


@dataclass(frozen=True)
class ScheduleSpec:
    """What ``q.schedule`` asks a backend to keep: the checked call and its rule."""

    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    rule: Rule
    overlap: bool


@dataclass(frozen=True)
class Schedule:
    """A recurring job as ``q.schedule`` returns it and ``q.schedules()`` lists it.

    Times are timezone-aware datetimes in local time. ``last_run`` is the tick of the last run
    enqueued (None before the first), ``last_status`` that job's status (None when it has
    expired or never ran), ``last_job_id`` its id.
    """

    name: str
    function: str
    rule: str
    next_run: datetime
    last_run: datetime | None = None
    last_status: JobStatus | None = None
    last_job_id: str | None = None
    overlap: bool = False


def local_datetime(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).astimezone()


def function_label(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{name}" if module else name


def check_sequence_args(args: object, kwargs: object) -> None:
    """The positional arguments are a list or tuple and the keywords a dict of str keys (as enqueue_call)."""
    if args is not None and (isinstance(args, (str, bytes)) or not isinstance(args, Sequence)):
        raise ConfigError(f"args must be a list or tuple of positional arguments, not {type(args).__name__}")
    if kwargs is not None and (not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs)):
        described = ("a dict with the key " + repr(next(k for k in kwargs if not isinstance(k, str)))
                     if isinstance(kwargs, dict) else type(kwargs).__name__)
        raise ConfigError(f"kwargs must be a dict of keyword arguments with str keys, not {described}")
