"""One backoff policy for every retry loop: delays that double up to a cap.

Every wait on a failing Redis (a worker's dequeue and writes, a child's start, the supervisor's
first ping, a crash-looping child's restart) uses it, so the policy is tuned in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Backoff:
    """``first``, ``2 * first``, … seconds, never more than ``cap``; :meth:`reset` after a success."""

    def __init__(self, first: float = 0.1, cap: float = 5.0, factor: float = 2.0) -> None:
        if not (0 < first <= cap) or factor < 1:
            raise ValueError(f"bad backoff: first={first}, cap={cap}, factor={factor}")
        self.first, self.cap, self.factor = first, cap, factor
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next try (and count the try)."""
        delay = min(self.cap, self.first * self.factor ** self.attempts)
        self.attempts += 1
        return delay

    def peek(self) -> float:
        """The delay :meth:`next` would give, without counting a try."""
        return min(self.cap, self.first * self.factor ** self.attempts)

    def reset(self) -> None:
        self.attempts = 0

    def sleep(self, sleeper: Callable[[float], object] = time.sleep) -> float:
        """Wait the next delay (with ``sleeper``, e.g. a wait that a signal interrupts); return it."""
        delay = self.next()
        sleeper(delay)
        return delay
