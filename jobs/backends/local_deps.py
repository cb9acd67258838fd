"""``local://`` workflows: a task that waits for others, and gets their values in-process.

A dependent task starts ``deferred`` and stays out of the pool's queue. Each parent task carries a
:class:`Dependents` listener (the pool calls ``listener.put(task)`` when a task ends, under its
``done`` lock): the last parent to finish builds the dependent's arguments from the parents'
values and queues it; a parent that failed or was canceled fails (cancels) the dependent at once,
which in turn ends its own dependents, down the chain. Nothing polls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import JobCanceled, JobFailed, JobsError
from ..status import ENDED, JobStatus
from ..workflows import resolve
from .local_pool import ProcessPool, Task

#: What a parent's end gives: its value or the error it raises (the backend's reading of a task).
ValueOf = Callable[[Task, str], Any]


class Dependents:
    """The listener of a parent task: everything waiting on it."""

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting: list[Waiting] = []

    def put(self, task: Task) -> None:
        for waiting in self.waiting:
            waiting.parent_ended(task)
        self.waiting = []


class Waiting:
    """One deferred task: its parents, its arguments with placeholders, and how to queue it."""

    def __init__(self, task: Task, job_id: str, call: tuple[tuple[Any, ...], dict[str, Any]],
                 parents: dict[str, Task], allow_failure: bool, pool: ProcessPool, serializer: Any,
                 value_of: ValueOf) -> None:
        self.task, self.job_id, self.call = task, job_id, call
        self.parents, self.allow_failure = parents, allow_failure
        self.pool, self.serializer, self.value_of = pool, serializer, value_of
        self.unmet = len(parents)

    def start(self) -> None:
        """Listen on every parent (those already ended count at once)."""
        with self.pool.done:
            for parent in list(self.parents.values()):
                if self.task.state != JobStatus.DEFERRED:
                    return
                if parent.state in ENDED:
                    self.parent_ended(parent)
                    continue
                listener = parent.listener
                if not isinstance(listener, Dependents):
                    listener = parent.listener = Dependents()
                listener.waiting.append(self)

    def parent_ended(self, parent: Task) -> None:
        """Called under the pool's ``done`` lock."""
        if self.task.state != JobStatus.DEFERRED:
            return
        parent_id = next(i for i, t in self.parents.items() if t is parent)
        if parent.state == JobStatus.CANCELED:
            self._end(JobStatus.CANCELED, JobCanceled(
                f"job {self.job_id} was canceled before it ran: the job it waits for, {parent_id}, was canceled"))
            return
        if parent.state == JobStatus.FAILED and not self.allow_failure:
            exc_type = _exc_type(self.value_of, parent, parent_id)
            self._end(JobStatus.FAILED, JobFailed(
                f"job {self.job_id} did not run: the job it waits for, {parent_id}, failed ({exc_type})",
                job_id=self.job_id, exc_type=exc_type))
            return
        self.unmet -= 1
        if self.unmet == 0:
            self._queue()

    def _queue(self) -> None:
        values = {}
        for parent_id, parent in self.parents.items():
            try:
                values[parent_id] = self.value_of(parent, parent_id)
            except JobFailed as exc:
                values[parent_id] = exc
        args, kwargs = self.call
        try:
            self.task.payload = self.serializer.dumps((resolve(args, values), resolve(kwargs, values)))
        except Exception as exc:  # noqa: BLE001 - a parent's value that does not serialize
            self._end(JobStatus.FAILED, JobFailed(f"job {self.job_id}: a parent's value cannot be passed on: {exc}",
                                                  job_id=self.job_id, exc_type="SerializationError"))
            return
        self.parents = {}
        self.task.state = JobStatus.QUEUED
        self.pool.pending.append(self.task)
        self.pool.wake()

    def _end(self, state: JobStatus, error: JobsError) -> None:
        task = self.task
        task.state, task.data, self.parents = state, error, {}
        if task.listener is not None:
            task.listener.put(task)  # its own dependents, down the chain
        self.pool.done.notify_all()


def _exc_type(value_of: ValueOf, parent: Task, parent_id: str) -> str:
    try:
        value_of(parent, parent_id)
    except JobFailed as exc:
        return exc.exc_type
    except JobsError as exc:
        return type(exc).__name__
    return "JobFailed"
