"""A process pool that never hangs on a dead worker and re-runs what the worker held.

One dispatcher thread owns the worker processes. It sends calls in batches sized to the backlog
(many tiny calls travel together; long calls go one at a time), reads results, and watches
every child's sentinel. When a child dies the call it was running (known from shared memory)
counts one loss and goes back on the queue; calls it had not started go back without a loss.
A call lost ``max_losses`` times ends as lost instead of killing workers for ever. When a
worker is idle and nothing waits, the calls a busy worker holds behind its running one are
taken back and given to the idle one (``_steal``), so a long call never holds back the others
(``tests/test_prefetch.py``: ``imap_unordered`` of one 3-second call and 40 short ones finished
the short ones behind the long one before).

With ``threads`` or ``max_async`` (``local://N?threads=T&max_async=M``) each worker runs every
call it receives at once (:mod:`jobs.backends.local_concurrent`): the dispatcher sends a worker
only the calls it has room for (T on threads, M on its event loop), first come first sent, so
nothing waits behind a running call and nothing is stolen; a dead worker is charged one loss
for each call it was running (its shared array of running calls), and a call that killed a
worker then runs alone, so its next death charges no other call.

Callers never touch the processes: they append to ``pending`` and wait on ``done``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections import deque
from multiprocessing.connection import wait as wait_for_ready
from typing import Any

from ..status import JobStatus
from .local_child import CallItem, Claims, Outcome, ProgressItem, ResultItem, child_main
from .local_concurrent import concurrent_main
from .local_due import NOT_SENT, DueCalls
from .local_slots import Slot, Task

__all__ = ["ProcessPool", "Task"]

logger = logging.getLogger(__name__)

MAX_BATCH = 256


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"worker died by signal {-exitcode}"
    return f"worker exited with code {exitcode}"


class ProcessPool:
    """``processes`` worker processes fed by one dispatcher thread."""

    def __init__(self, processes: int, serializer: Any, threads: int = 1, max_async: int = 0) -> None:
        methods = multiprocessing.get_all_start_methods()
        # fork: a worker is a copy of this process, so it runs functions defined anywhere, as a
        # multiprocessing user expects, and starts in a millisecond.
        self._ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._serializer = serializer
        self._threads, self._max_async = threads, max_async
        self._concurrent = threads > 1 or max_async > 0
        self.pending: deque[Task] = deque()
        self.done = threading.Condition()
        self._due = DueCalls()  # retries with an interval, later jobs
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._wake_flag = False
        self._closing = False
        self._broken: str | None = None
        self._slots = [self._start_slot() for _ in range(processes)]
        self._thread = threading.Thread(target=self._run, name="jobfleet-local-dispatcher", daemon=True)
        self._thread.start()

    # -- caller side ----------------------------------------------------------------------

    def submit(self, task: Task, due: float | None = None) -> None:
        """Queue ``task``; with ``due`` (a ``time.monotonic()`` time) it is scheduled until then."""
        if self._closing or self._broken:
            from ..errors import JobsError

            raise JobsError(self._broken or "the queue is closed; open a new jobs.Queue")
        if due is None:
            self.pending.append(task)
        else:
            self._due.push(due, task, scheduled=True)
        self.wake()

    def submit_many(self, tasks: list[Task]) -> None:
        self.pending.extend(tasks)
        self.wake()

    def wake(self) -> None:
        if not self._wake_flag:
            self._wake_flag = True
            try:
                self._wake_w.send_bytes(b"")
            except OSError:
                pass

    def cancel(self, task: Task) -> bool:
        with self.done:
            if task.state in NOT_SENT or task.state == JobStatus.DEFERRED:
                task.state = JobStatus.CANCELED
                self._notify(task)
                return True
            return task.state == JobStatus.CANCELED

    def wait(self, task: Task, timeout: float | None) -> bool:
        """Block until ``task`` ends or ``timeout`` seconds pass; True when it ended."""
        if task.ended():
            return True
        with self.done:
            return self.done.wait_for(task.ended, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Let queued and running calls finish, then stop the children. Safe twice."""
        if self._closing:
            self._thread.join(timeout=10)
            return
        self._closing = True
        self.wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("local queue: jobs still running after %s s; stopping the workers", timeout)
            self._broken = "the queue was closed while jobs were running"
            self.wake()
            self._thread.join(10)

    def terminate(self) -> None:
        """Stop at once (interpreter exit): kill the children, fail what is left."""
        self._broken = self._broken or "the queue was terminated"
        self._closing = True
        self.wake()
        self._thread.join(5)
        for slot in self._slots:
            if slot.process.is_alive():
                slot.process.kill()

    # -- dispatcher thread ------------------------------------------------------------------

    def _start_slot(self) -> Slot:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        started = self._ctx.RawValue("q", 0)
        claims: Claims | None = None
        if self._concurrent:  # an entry for each call it may run at once
            current = self._ctx.RawArray("q", self._threads + self._max_async)
            target: Any = concurrent_main
            args: tuple[Any, ...] = (self._threads, self._max_async)
        else:
            current, claims, target = self._ctx.RawValue("q", 0), Claims(self._ctx), child_main
            args = (claims,)
        process = self._ctx.Process(
            target=target, args=(child_conn, current, started, self._serializer, os.getpid(), *args),
            name="jobfleet-local-worker", daemon=True,
        )
        process.start()
        child_conn.close()
        return Slot(process, parent_conn, current, started, claims, self._threads, self._max_async)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - a bug here must not leave callers waiting
            logger.exception("local queue dispatcher failed")
            self._broken = f"the local queue's dispatcher failed: {type(exc).__name__}: {exc}"
        self._shutdown_children()
        self._fail_everything(self._broken or "the queue was closed before the job ran")

    def _loop(self) -> None:
        while True:
            # Drain, then clear the flag (the other order could swallow a wake and mute later ones).
            while self._wake_r.poll():
                self._wake_r.recv_bytes()
            self._wake_flag = False
            self._promote_due_retries()
            self._dispatch()
            if self._broken or (self._closing and not self._busy()):
                return
            waitables: list[Any] = [self._wake_r]
            for slot in self._slots:
                waitables += (slot.conn, slot.process.sentinel)
            delay = self._due.delay(time.monotonic())
            for ready in wait_for_ready(waitables, delay):
                if ready is self._wake_r:
                    continue
                for index, slot in enumerate(self._slots):
                    if ready is slot.conn:
                        self._receive(slot)
                    elif ready == slot.process.sentinel:
                        self._slots[index] = self._replace_dead(slot)

    def _busy(self) -> bool:
        return (self._due.waiting() or any(t.state == JobStatus.QUEUED for t in self.pending)
                or any(s.inflight for s in self._slots))

    def _dispatch(self) -> None:
        self._assign()
        if any(not slot.inflight for slot in self._slots) and not any(t.state == JobStatus.QUEUED for t in self.pending):
            self._steal()
            self._assign()

    def _assign(self) -> None:
        pending = self.pending
        if not pending:
            return
        if self._concurrent:
            self._assign_concurrent()
            return
        # A worker gets more only once it has reported everything it held (a pull model, as
        # Pool's workers pull from a shared queue). Tiny calls travel in batches sized to the
        # backlog, so the pipe round trip is paid once per batch; a large map chunk travels
        # alone, it is a batch. What a batch holds behind a long call is taken back for an
        # idle worker (_steal).
        target = max(1, min(MAX_BATCH, len(pending) // (4 * len(self._slots)) + 1))
        for slot in self._slots:
            if slot.inflight or not pending:
                continue
            batch = self._next_batch(target)
            if batch:
                self._send(slot, batch)

    def _assign_concurrent(self) -> None:
        """Each worker gets the calls it has room for, the least busy first, about an equal share
        each; FIFO: a worker's batch stops at the first call that does not fit in it."""
        share = max(1, -(-len(self.pending) // len(self._slots)))
        for slot in sorted(self._slots, key=lambda s: len(s.inflight)):
            batch: list[Task] = []
            with self.done:
                while self.pending and len(batch) < share:
                    task = self.pending[0]
                    if task.state != JobStatus.QUEUED:
                        self.pending.popleft()  # canceled while it waited
                        continue
                    if not slot.has_room(task):
                        break
                    self.pending.popleft()
                    task.state = JobStatus.STARTED
                    slot.hold(task)  # its room is taken now, for the next one's has_room
                    batch.append(task)
            if batch:
                self._send(slot, batch)

    def _next_batch(self, target: int) -> list[Task]:
        pending = self.pending
        batch: list[Task] = []
        weight = 0
        with self.done:
            while pending and weight < target:
                task = pending.popleft()
                if task.state != JobStatus.QUEUED:
                    continue
                if task.losses and batch:  # a call that killed a worker travels alone
                    pending.appendleft(task)
                    break
                task.state = JobStatus.STARTED
                batch.append(task)
                weight += task.size
                if task.losses:
                    break
        return batch

    def _send(self, slot: Slot, batch: list[Task]) -> None:
        first = slot.next_ticket
        for ticket, task in enumerate(batch, first):
            if task.seq not in slot.inflight:  # (a concurrent worker's are held as they are chosen)
                slot.hold(task)
            task.slot, task.ticket = slot, ticket
        slot.next_ticket = first + len(batch)
        calls = [CallItem(t.seq, t.kind, t.func_blob, t.payload, t.timeout) for t in batch]
        message: tuple[int, list[Any]]
        if slot.claims is None:  # concurrent: each call with whether it goes to the event loop
            message = (first, [(call, t.is_async) for call, t in zip(calls, batch)])
        else:
            with slot.claims.lock:  # the child is between batches: it holds the lock for microseconds at most
                slot.claims.limit.value = slot.next_ticket
            message = (first, calls)
        try:
            slot.conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # the child died; its sentinel will tell, and _replace_dead re-queues the batch

    def _steal(self) -> None:
        """A worker is idle and nothing waits: take back what busy workers hold behind their
        running call, so it runs now instead of after that call (the most held first)."""
        for victim in sorted(self._slots, key=lambda s: len(s.inflight), reverse=True):
            taken = victim.take_back_unstarted()
            if taken:
                with self.done:
                    for task in taken:
                        task.state, task.slot = JobStatus.QUEUED, None
                self.pending.extendleft(reversed(taken))

    def _receive(self, slot: Slot) -> None:
        try:
            while slot.conn.poll():
                results: list[ResultItem | ProgressItem] = pickle.loads(slot.conn.recv_bytes())
                with self.done:
                    for item in results:
                        if isinstance(item, ProgressItem):
                            self._progressed(slot, item)
                        else:
                            self._end(slot.pop(item.seq), item.outcome, item.data)
                    self.done.notify_all()
        except (EOFError, OSError):
            pass

    def _progressed(self, slot: Slot, item: ProgressItem) -> None:
        task = slot.inflight.get(item.seq)
        if task is not None:
            task.progress = item.progress

    def _end(self, task: Task, outcome: Outcome, data: Any) -> None:
        """Record an outcome (under ``done``); a failing call with retries left goes back."""
        if outcome == Outcome.ERROR and task.retries > 0:
            attempt = task.options.retries - task.retries if task.options else 0
            task.retries -= 1
            task.state = JobStatus.QUEUED
            delay = task.options.interval_before(attempt) if task.options else 0.0
            self._due.push(time.monotonic() + delay, task, scheduled=delay > 0)  # as RQ says of a retry
            return
        task.outcome, task.data = outcome, data
        task.state = JobStatus.FINISHED if outcome == Outcome.OK else JobStatus.FAILED
        task.payload = b""  # the arguments are no longer needed
        self._notify(task)

    def _notify(self, task: Task) -> None:
        if task.listener is not None:
            task.listener.put(task)

    def _promote_due_retries(self) -> None:
        self.pending.extend(self._due.pop_due(time.monotonic()))

    def _replace_dead(self, slot: Slot) -> Slot:
        self._receive(slot)  # results it sent before dying still count
        slot.process.join(1)
        reason = _describe_exit(slot.process.exitcode)
        running = slot.running_seqs()  # charged a loss each; the others it held go back as they were
        logger.warning("local queue: %s (pid %s) holding %d job(s); restarting it",
                       reason, slot.process.pid, len(slot.inflight))
        back: list[Task] = []
        with self.done:
            for seq, task in slot.inflight.items():
                if seq in running:
                    task.losses += 1
                    if task.losses >= task.max_losses:
                        logger.error("local queue: giving up job %s: lost %d times: %s", seq, task.losses, reason)
                        task.outcome, task.data = Outcome.LOST, f"lost {task.losses} times: {reason}"
                        task.state = JobStatus.FAILED
                        self._notify(task)
                        continue
                    logger.warning("local queue: re-running job %s (loss %d of %d)", seq, task.losses, task.max_losses)
                task.state = JobStatus.QUEUED
                back.append(task)
            self.done.notify_all()
        self.pending.extendleft(reversed(back))
        slot.conn.close()
        if self._closing and self._broken:
            return slot
        return self._start_slot()

    def _shutdown_children(self) -> None:
        for slot in self._slots:
            try:
                slot.conn.send_bytes(pickle.dumps(None))
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5)
            slot.conn.close()

    def _fail_everything(self, reason: str) -> None:
        with self.done:
            leftovers = [t for s in self._slots for t in s.inflight.values()] + list(self.pending)
            leftovers += self._due.tasks()
            for task in leftovers:
                if not task.ended():
                    task.outcome, task.data, task.state = Outcome.BROKEN, reason, JobStatus.FAILED
                    self._notify(task)
            self.done.notify_all()
