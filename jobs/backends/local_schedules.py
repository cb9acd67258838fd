"""``local://`` schedules: one thread of the queue fires them while the queue is open.

Nothing outlives the queue: a schedule is kept in memory, and ``close()`` stops the thread
before the pool drains. The rule, the missed-tick and the overlap semantics are those of
:mod:`jobs.schedules`, as on Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schedules import Schedule, ScheduleSpec, function_label, local_datetime
from ..status import ENDED, JobStatus

__all__ = ["LocalSchedules"]

log = logging.getLogger("jobs.schedules")

#: submit(spec) -> (job id, the task: has ``.state``)
Submit = Callable[[ScheduleSpec], tuple[str, Any]]


@dataclass
class _Entry:
    spec: ScheduleSpec
    next_run: float
    last_run: float | None = None
    last_id: str | None = None
    last_task: Any = None


class LocalSchedules:
    """The schedules of one local queue and the thread that fires them."""

    def __init__(self, submit: Submit) -> None:
        self._submit = submit
        self._entries: dict[str, _Entry] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def put(self, spec: ScheduleSpec) -> Schedule:
        with self._changed:
            old = self._entries.get(spec.name)
            entry = _Entry(spec, spec.rule.next_after(spec.rule.anchor))
            if old is not None:  # a new rule; the last run still counts for overlap
                entry.last_run, entry.last_id, entry.last_task = old.last_run, old.last_id, old.last_task
            self._entries[spec.name] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jobfleet-local-schedules", daemon=True)
                self._thread.start()
            self._changed.notify_all()
            return self._view(entry)

    def remove(self, name: str) -> bool:
        with self._changed:
            return self._entries.pop(name, None) is not None

    def all(self) -> list[Schedule]:
        with self._changed:
            return [self._view(self._entries[name]) for name in sorted(self._entries)]

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(10)

    def _view(self, entry: _Entry) -> Schedule:
        task = entry.last_task
        return Schedule(name=entry.spec.name, function=function_label(entry.spec.func), rule=entry.spec.rule.text,
                        next_run=local_datetime(entry.next_run),  # type: ignore[arg-type]
                        last_run=local_datetime(entry.last_run), last_status=None if task is None else task.state,
                        last_job_id=entry.last_id, overlap=entry.spec.overlap)

    def _run(self) -> None:
        with self._changed:
            while not self._stopping:
                now = time.time()
                for entry in list(self._entries.values()):
                    if entry.next_run <= now:
                        self._fire(entry, now)
                upcoming = min((e.next_run for e in self._entries.values()), default=now + 60)
                self._changed.wait(max(0.0, upcoming - time.time()))

    def _fire(self, entry: _Entry, now: float) -> None:
        tick, entry.next_run = entry.spec.rule.due(now)
        task = entry.last_task
        if not entry.spec.overlap and task is not None and task.state not in ENDED:
            status = JobStatus.QUEUED if task.state == JobStatus.STARTED and not task.running() else task.state
            log.info("schedule %r: tick %s skipped: its previous run %s is still %s (overlap=False)",
                     entry.spec.name, local_datetime(tick), entry.last_id, status)
            return
        try:
            entry.last_id, entry.last_task = self._submit(entry.spec)
        except Exception as exc:  # noqa: BLE001 - the queue closing or broken: the thread goes on to stop
            log.warning("schedule %r: tick %s not enqueued: %s", entry.spec.name, local_datetime(tick), exc)
            return
        entry.last_run = tick
