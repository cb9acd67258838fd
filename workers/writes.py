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
from jobs.rq_format.writes import BatchWrite

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

    def _flush_with_retry(self) -> None:
        self._with_retry(self._flush)

    def _settle_one(self, out: JobOutcome) -> None:
        """Settle a job that uses an RQ feature the batch write does not model (see
        :mod:`jobs.rq_format.settle`) with RQ's own methods, right after the jobs before it."""
        self._flush_with_retry()  # the jobs before it first: it then heads the held list
        self._with_retry(lambda: settle_like_rq(self, out.job, out.queue, out.ok, out.value, out.exc_string))
        self._held = self._held[1:]
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
        write.settle(self._held[:settled])
        with write.pipe:
            waiting = write.execute()
        self._pending = []
        self._held = self._held[settled:]
        if waiting:
            self._enqueue_dependents(outcomes)
        self.hooks.after_batch(self, outcomes)  # type: ignore[arg-type]  # self is the BatchWorker

    def _enqueue_dependents(self, outcomes: list[JobOutcome]) -> None:
        # One script for the whole batch, not RQ's ready registry (which gives a dependent up
        # when two workers release at once): see jobs.rq_format.dependencies. A parent canceled
        # while it ran holds its dependents back, as under RQ (only read when some job has them).
        release(self.connection, self.serializer, [out.job.id for out in outcomes if not was_canceled(out.job)])
