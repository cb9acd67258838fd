"""What a ``local://`` pool's dispatcher knows of each call (:class:`Task`) and each worker (:class:`Slot`).

A sequential worker (the default) gets a batch only once it has reported everything it held,
and runs it in order; what it holds behind its running call can be taken back
(:meth:`Slot.take_back_unstarted`). A concurrent worker (``?threads=`` / ``?max_async=``,
:mod:`jobs.backends.local_concurrent`) starts every call it receives at once, so the dispatcher
sends it only what it has room for (:meth:`Slot.has_room`): nothing waits in it behind a running
call, and there is nothing to take back.
"""

from __future__ import annotations

from typing import Any

from ..progress import Progress
from ..rq_format.markers import DEFAULT_MAX_LOSSES
from ..status import ENDED, JobStatus
from .local_child import Claims, Kind, Outcome

__all__ = ["Task", "Slot"]


class Task:
    """One call (or one chunk of a map) and, once it ends, its outcome."""

    __slots__ = ("seq", "kind", "func_blob", "payload", "timeout", "state", "outcome", "data",
                 "losses", "max_losses", "retries", "options", "listener", "first_index", "size", "slot", "progress",
                 "ticket", "is_async", "__weakref__")

    def __init__(self, seq: int, kind: Kind, func_blob: bytes, payload: bytes, timeout: float | None = None,
                 max_losses: int = DEFAULT_MAX_LOSSES, retries: int = 0, options: Any = None,
                 listener: Any = None, first_index: int = 0, size: int = 1) -> None:
        self.seq, self.kind, self.func_blob, self.payload, self.timeout = seq, kind, func_blob, payload, timeout
        self.state: JobStatus = JobStatus.QUEUED
        self.outcome: Outcome | None = None
        self.data: Any = None  # outcome data: result bytes, error tuple or a reason
        self.losses, self.max_losses, self.retries, self.options = 0, max_losses, retries, options
        self.listener, self.first_index, self.size = listener, first_index, size  # size: items carried
        self.slot: Slot | None = None
        self.progress: Progress | None = None  # the call's last report_progress, sent by its worker
        self.ticket = -1  # its place in its worker's batch (see local_child.Claims)
        self.is_async = False  # an async def call, for a worker's event loop (counted against max_async)

    def running(self) -> bool:
        """Sent to a worker *and* begun there (a prefetched call waits in the worker's pipe).

        A sequential worker begins calls in ``seq`` order; a concurrent one in ticket order
        (a call sent again after a loss keeps its old ``seq``), writing the ticket once the
        call's ``seq`` is in its ``current`` array.
        """
        slot = self.slot
        if self.state != JobStatus.STARTED or slot is None:
            return False
        return slot.started.value >= (self.seq if slot.claims is not None else self.ticket)

    def ended(self) -> bool:
        return self.state in ENDED


class Slot:
    """A worker process, the pipe to it, and what it holds."""

    __slots__ = ("process", "conn", "current", "started", "claims", "next_ticket", "inflight",
                 "threads", "max_async", "sync_n", "async_n", "alone")

    def __init__(self, process: Any, conn: Any, current: Any, started: Any, claims: Claims | None,
                 threads: int = 1, max_async: int = 0) -> None:
        # current: the call running now (0 when idle), or an array of them in a concurrent
        # worker (claims None); started: the last call begun (its seq, or its ticket)
        self.process, self.conn, self.current, self.started = process, conn, current, started
        self.claims, self.next_ticket = claims, 0
        self.inflight: dict[int, Task] = {}
        self.threads, self.max_async = threads, max_async
        self.sync_n = self.async_n = 0  # calls in flight on threads, and on the event loop
        self.alone = False  # it runs a call that killed a worker: nothing else may share its death

    @property
    def concurrent(self) -> bool:
        return self.claims is None

    def has_room(self, task: Task) -> bool:
        """Whether a concurrent worker can start ``task`` at once (its threads or its loop).

        A call that killed a worker runs alone, as on a sequential worker: were it to kill this
        one too, the calls sharing the process would be charged a loss each.
        """
        if self.alone or (task.losses and self.inflight):
            return False
        if task.is_async:
            return self.async_n < self.max_async
        return self.sync_n < self.threads

    def hold(self, task: Task) -> None:
        self.inflight[task.seq] = task
        self.alone = self.alone or task.losses > 0
        if task.is_async:
            self.async_n += 1
        else:
            self.sync_n += 1

    def pop(self, seq: int) -> Task:
        """The call ``seq`` ended (or was taken back): it no longer takes room."""
        task = self.inflight.pop(seq)
        if task.losses:
            self.alone = False
        if task.is_async:
            self.async_n -= 1
        else:
            self.sync_n -= 1
        return task

    def running_seqs(self) -> set[int]:
        """The calls running now, from shared memory: those a death of this worker is charged to."""
        if self.claims is None:
            return set(self.current[:]) - {0}
        return {self.current.value} - {0}

    def take_back_unstarted(self) -> list[Task]:
        """The calls this worker holds but has not begun, taken back (it will skip them), in order.

        Only while it runs one of its calls: the claimed ticket is then one of ``inflight``, so
        the child cannot report its batch as done before it saw the new limit. A concurrent
        worker holds nothing it has not begun.
        """
        if self.claims is None or not self.inflight or not self.claims.lock.acquire(timeout=0.05):
            return []  # (a child killed holding the lock)
        try:
            claimed = self.claims.claimed.value
            if not any(t.ticket == claimed for t in self.inflight.values()):
                return []
            taken = sorted((t for t in self.inflight.values() if t.ticket > claimed), key=lambda t: t.ticket)
            if taken:
                self.claims.limit.value = claimed + 1
        finally:
            self.claims.lock.release()
        for task in taken:
            self.pop(task.seq)
        return taken
