"""How a batch worker turns one job into a :class:`workers.hooks.JobOutcome`, as RQ would record it.

The steps around the job's own call are the same whether it runs on the main thread, on a
thread (``--threads``) or as a coroutine on the process's event loop (``--max-async``): the
hooks' ``before_job``, ``started_at``, the slot the supervisor reads, RQ's success and failure
callbacks and exception handlers. :meth:`JobOutcomes._begin`, :meth:`_succeeded` and
:meth:`_failed` hold them once; :meth:`_perform` is the synchronous job between them, and
:mod:`workers.async_jobs` the asynchronous one.

:class:`JobOutcomes` is a mixin for :class:`workers.worker.BatchWorker`.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from rq.callbacks import execute_failure_callback, execute_success_callback
from rq.exceptions import DeserializationError
from rq.job import Job, Retry
from rq.queue import Queue
from rq.utils import now

from jobs.rq_format.settle import mark_ended
from jobs.rq_format.unreadable import Unreadable, payload_failure, payload_reason
from jobs.rq_format.writes import exc_text

from .control import STOPPED_BEFORE_START
from .hooks import JobOutcome
from .rq_entry import ColdShutdown

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class JobOutcomes:
    """Mixin: run a job and record how it ended (see the module docstring)."""

    _runner: Any
    hooks: Any
    queue_class: Any

    def _outcome(self, job: Job | Unreadable, queue: Queue) -> JobOutcome:
        if isinstance(job, Unreadable):
            return JobOutcome(job.job, queue, False, exc_string=job.exc_string, failure=job.failure)
        if self._stopped_before_start(job.id):  # type: ignore[attr-defined]
            return JobOutcome(job, queue, False, exc_string=STOPPED_BEFORE_START)
        return self._perform(job, queue)

    def _begin(self, job: Job) -> tuple[float, float]:
        """Before the job's call: returns (its start on the monotonic clock, its timeout, -1 for none)."""
        self.hooks.before_job(self, job)
        job.started_at = now()
        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        self._runner.begin(job, timeout)
        return time.monotonic(), timeout

    def _perform(self, job: Job, queue: Queue) -> JobOutcome:
        """Run one synchronous job under its timeout and with its callbacks (where: :mod:`workers.job_runner`)."""
        began, timeout = self._begin(job)
        try:
            outcome = self._succeeded(job, queue, self._runner.perform(job, timeout))
        except ColdShutdown:
            raise  # not the job's failure: it goes back with the batch (workers.rq_entry)
        except BaseException:  # noqa: BLE001 - even sys.exit() in a job is the job's failure, as in RQ
            outcome = self._failed(job, queue, sys.exc_info())  # type: ignore[arg-type]
        finally:
            self._runner.end(job)
        outcome.duration_s = time.monotonic() - began
        return outcome

    def _succeeded(self, job: Job, queue: Queue, value: Any) -> JobOutcome:
        """The job returned ``value``: RQ's success callback runs (a raising one makes it a failure)."""
        job.ended_at = now()
        if not isinstance(value, Retry):  # RQ runs no success callback for a returned Retry
            mark_ended(job, True)  # as RQ: the callback sees the job finished
            execute_success_callback(job, self._runner.penalty_class, value)
        return JobOutcome(job, queue, True, value)

    def _failed(self, job: Job, queue: Queue, exc_info: ExcInfo) -> JobOutcome:
        """The job (or its success callback) raised: RQ's failure callback and exception handlers run."""
        job.ended_at = job.ended_at or now()
        mark_ended(job, False)
        try:
            execute_failure_callback(job, self._runner.penalty_class, *exc_info)
        except BaseException:  # noqa: BLE001 - as RQ: a failing callback is the recorded failure
            exc_info = sys.exc_info()  # type: ignore[assignment]
        self.handle_exception(job, *exc_info)  # type: ignore[attr-defined]
        outcome = JobOutcome(job, queue, False, exc_string=exc_text(exc_info))
        if isinstance(exc_info[1], DeserializationError):
            outcome.failure = payload_failure(job, exc_info[1])
            outcome.exc_string += "\n" + payload_reason(outcome.failure)
        return outcome
