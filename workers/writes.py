"""Settling a batch: its outcomes written in one MULTI/EXEC, retried while Redis is away.

:class:`BatchWrites` is a mixin for :class:`workers.worker.BatchWorker`. What is written, in
RQ's format, is :class:`jobs.rq_format.writes.BatchWrite`'s business; this module decides when
(and keeps ``_pending`` outcomes and the ``_held`` list in step), retries with backoff, and
tells the hooks once a batch is durable.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from rq.queue import Queue

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.backoff import Backoff
from jobs.rq_format.dependencies import release
from jobs.rq_format.settle import WorkerRun, drop_execution, settle_like_rq, was_canceled
from jobs.rq_format.writes import BatchWrite, requeue_unstarted

from .hooks import Hooks, JobOutcome

log = logging.getLogger(__name__)


@dataclass
class Vanished:
    """A held id whose job hash was gone when dequeued: only its held entry is settled."""

    queue: Queue


class BatchWrites:
    """Mixin: flush the pending outcomes of a batch (see the module docstring)."""

    _pending: list[JobOutcome | Vanished]
    _held: list[tuple[str, str]]
    _stop_requested: bool
    hooks: Hooks
    connection: Any
    name: str
    key: str
    default_result_ttl: int
    serializer: Any
    disable_default_exception_handler: bool
    prefixes: Any
    held_key: str
    total_working_time: float
    _shutdown_requested_date: Any
    _runner: Any

    def _flush_with_retry(self) -> None:
        self._with_retry(self._flush)

    def _settle_one(self, out: JobOutcome) -> None:
        """Settle a job that uses an RQ feature the batch write does not model (see
        :mod:`jobs.rq_format.settle`) with RQ's own methods, right after the jobs before it."""
        self._flush_with_retry()  # the jobs before it first (one thread: it then heads the held list)
        self._with_retry(lambda: settle_like_rq(self, out.job, out.queue, out.ok, out.value, out.exc_string))
        entry = (out.queue.name, out.job.id)
        self._held = self._held[1:] if self._held[:1] == [entry] else [h for h in self._held if h != entry]
        self.hooks.after_batch(self, [out])  # type: ignore[arg-type]  # self is the BatchWorker

    def cleanup_execution(self, job: Any, pipeline: Any, execution: Any = None) -> None:
        """RQ's settle methods call this inside their transaction: a job :meth:`_settle_one` settles
        leaves our started entry and held list (it has no RQ ``Execution`` record to delete);
        RQ's own executions (its per-job methods called directly) are RQ's business."""
        if isinstance(execution, WorkerRun):
            drop_execution(pipeline, job, self.name)
        else:
            super().cleanup_execution(job, pipeline, execution)  # type: ignore[misc]

    def _with_retry(self, write: Any) -> None:
        backoff = Backoff()
        while True:
            try:
                write()
                return
            except TRANSIENT_ERRORS as exc:
                if self._stop_requested:
                    raise  # stopping: _settle tries a few more times, then the supervisor re-queues
                delay = backoff.next()
                log.warning("worker %s: cannot write results (%s); retrying in %.1f s", self.name, exc, delay)
                time.sleep(delay)

    def _flush(self) -> None:
        """Write every pending outcome in RQ's format, in one transaction, then forget them."""
        settled = len(self._pending)
        if settled == 0:
            return
        write = BatchWrite(self.connection, self.name, self.key, self.default_result_ttl,
                           record_failures=not self.disable_default_exception_handler)
        outcomes = [out for out in self._pending if isinstance(out, JobOutcome)]
        for out in outcomes:
            if out.ok:
                error = write.success(out.job, out.queue, out.value)
                if error is not None:  # the value could not be stored: the job failed after all
                    out.ok, out.value, out.exc_string = False, None, error
            else:
                write.failure(out.job, out.queue, out.exc_string, out.failure)
        done, rest = self._split_held(settled)
        write.settle(done, prefix=done == self._held[:len(done)])
        with write.pipe:
            waiting = write.execute()
        self._pending = []
        self._held = rest
        if waiting:
            self._enqueue_dependents(outcomes)
        self.hooks.after_batch(self, outcomes)  # type: ignore[arg-type]  # self is the BatchWorker

    def _split_held(self, settled: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The held entries the ``settled`` pending outcomes stand for, and the others. One thread:
        the first ``settled`` (jobs end in held order). Threads, coroutines: all but the jobs still in flight."""
        if self._runner.in_held_order:
            return self._held[:settled], self._held[settled:]
        in_flight = self._runner.in_flight_ids
        done = [h for h in self._held if h[1] not in in_flight]
        return done, [h for h in self._held if h[1] in in_flight]

    def _settle(self, cold: bool = False) -> None:
        """On the way out: wait for the threads' jobs (unless ``cold``), write what finished, put
        back what did not run, deregister."""
        if self._runner.busy and not cold:
            self._drain_threads()  # type: ignore[attr-defined]
        for attempt in range(5):
            try:
                self._flush()
                self._put_back()
                self.hooks.worker_stopping(self)  # type: ignore[arg-type]  # self is the BatchWorker
                self.connection.hset(self.key, "total_working_time", self.total_working_time)
                if self._shutdown_requested_date:
                    self.set_shutdown_requested_date()  # type: ignore[attr-defined]
                self.register_death()  # type: ignore[attr-defined]
                return
            except TRANSIENT_ERRORS as exc:
                log.warning("worker %s: could not settle with Redis (%s), attempt %d", self.name, exc, attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        log.error("worker %s: left %d held jobs for the supervisor to re-queue", self.name, len(self._held))

    def _put_back(self) -> None:
        """Return held jobs that never ran (or whose threads were left running) to the front of their queues."""
        if not self._held:
            self.connection.delete(self.held_key)
            return
        requeue_unstarted(self.connection, self.name, self._held, self.prefixes)
        self._held = []

    def _enqueue_dependents(self, outcomes: list[JobOutcome]) -> None:
        # One script for the whole batch, not RQ's ready registry (which gives a dependent up
        # when two workers release at once): see jobs.rq_format.dependencies. A parent canceled
        # while it ran holds its dependents back, as under RQ (only read when some job has them).
        release(self.connection, self.serializer, [out.job.id for out in outcomes if not was_canceled(out.job)])
