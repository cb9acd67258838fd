"""When a later job runs: ``enqueue_in``'s delay and ``enqueue_at``'s datetime, as Unix seconds.

Every backend keeps a later job's time as wall-clock Unix seconds (a float, so ``1.5`` s stays
1.5 s: RQ's own registry rounds to whole seconds, which could run a job up to a second early).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from .errors import ConfigError
from .options import MAX_SECONDS

__all__ = ["run_at_in", "run_at_of"]


def run_at_in(delay: object) -> float:
    """Unix seconds ``delay`` (seconds >= 0, or a ``timedelta``) from now."""
    if isinstance(delay, timedelta):
        seconds: object = delay.total_seconds()
    else:
        seconds = delay
    if (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds)
            or seconds < 0 or seconds > MAX_SECONDS):
        raise ConfigError(f"the delay must be seconds from 0 to {MAX_SECONDS} or a timedelta, not {delay!r}")
    return time.time() + float(seconds)


def run_at_of(when: object) -> float:
    """Unix seconds of ``when``, a ``datetime``; a naive one is local time, as ``datetime.now()`` gives.

    A time in the past runs the job at once.
    """
    if not isinstance(when, datetime):
        raise ConfigError(f"enqueue_at needs a datetime (a naive one is local time), not {type(when).__name__}")
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError) as exc:
        raise ConfigError(f"enqueue_at cannot use {when!r}: {exc}") from exc
