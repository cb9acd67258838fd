"""Calls of a ``local://`` pool that wait for a time: retries with an interval, later jobs.

A heap by due time (``time.monotonic()``), safe from any thread: the dispatcher pushes retries,
callers push later jobs (``enqueue_in``/``enqueue_at``), the dispatcher pops what is due and
sleeps until the next one.
"""

from __future__ import annotations

import heapq
import threading
from typing import Any

from ..status import JobStatus

__all__ = ["DueCalls", "NOT_SENT"]

#: A call waiting in the pool, not yet sent to a worker (scheduled: a later job before its time).
NOT_SENT = (JobStatus.QUEUED, JobStatus.SCHEDULED)


class DueCalls:
    """Tasks (anything with ``seq`` and ``state``) waiting for their time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._lock = threading.Lock()

    def push(self, due: float, task: Any, scheduled: bool = False) -> None:
        """Wait until ``due``; a later job (``scheduled``) reads as ``scheduled`` meanwhile."""
        with self._lock:
            if scheduled:
                task.state = JobStatus.SCHEDULED
            heapq.heappush(self._heap, (due, task.seq, task))

    def pop_due(self, now: float) -> list[Any]:
        """The tasks due at ``now`` that still wait (a canceled one is dropped), now ``queued``."""
        due = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, _, task = heapq.heappop(self._heap)
                if task.state in NOT_SENT:
                    task.state = JobStatus.QUEUED
                    due.append(task)
        return due

    def delay(self, now: float) -> float | None:
        """Seconds from ``now`` until the next task is due (0 if one is), None when none waits."""
        with self._lock:
            return max(0.0, self._heap[0][0] - now) if self._heap else None

    def waiting(self) -> bool:
        """Whether a task still waits (a canceled later job no longer counts)."""
        with self._lock:
            return any(task.state in NOT_SENT for _, _, task in self._heap)

    def tasks(self) -> list[Any]:
        with self._lock:
            return [task for _, _, task in self._heap]
