"""The batch loop of a worker with ``--threads N`` or ``--max-async M``: claim for the free room, run, collect, write.

The main thread claims at most as many jobs as there are idle threads (so no claimed job waits
behind a long one: nothing to give back), hands each to a thread (an ``async def`` job with
``--max-async``: to the event loop, :mod:`workers.async_jobs`), and collects the outcomes as
they end, in any order; it writes them in one transaction per ``batch_window_s``, or when no job
is left running, exactly as the one-thread loop writes a batch. Only the main thread talks to
Redis about outcomes; the threads run jobs (and the hooks' ``before_job``).

:class:`ThreadedBatches` is a mixin for :class:`workers.worker.BatchWorker`.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from rq.job import Job
from rq.queue import Queue

from jobs.rq_format.unreadable import Unreadable

from .async_jobs import AsyncEnded
from .hooks import JobOutcome
from .job_runner import ThreadRunner
from .writes import Vanished

#: Seconds the main thread waits for a job to end before it looks at the queues again.
POLL_S = 0.02


class ThreadedBatches:
    """Mixin: :meth:`_run_threaded` (see the module docstring)."""

    _runner: Any
    _pending: list[JobOutcome | Vanished]
    _stop_requested: bool
    batch_window_s: float
    total_working_time: float
    _avg_job_s: float
    hooks: Any

    def _run_threaded(self, batch: list[tuple[Job | Unreadable | None, Queue]], max_jobs: int | None,
                      done_before: int) -> int:
        """Start ``batch`` on the threads; collect what ended (waiting up to :data:`POLL_S` when
        nothing was started); write when due. Returns the number of jobs that ended."""
        runner: ThreadRunner = self._runner
        for job, job_queue in batch:
            if job is None:
                self._pending.append(Vanished(job_queue))
                continue
            if self._is_async(job):  # type: ignore[attr-defined]
                self._start_async(job, job_queue)  # type: ignore[attr-defined]
                continue
            job_id = job.job.id if isinstance(job, Unreadable) else job.id
            runner.submit(job_id, self._run_on_thread, job, job_queue, runner.done)
        ended = self._collect(runner.done, wait=POLL_S if not batch and runner.busy else 0.0)
        if self._pending and (not runner.busy or time.monotonic() - self._last_flush >= self.batch_window_s):
            self._flush_with_retry()  # type: ignore[attr-defined]
            self._last_flush = time.monotonic()
        return ended

    _last_flush = 0.0

    def _run_on_thread(self, job: Job | Unreadable, job_queue: Queue,
                       done_q: queue.SimpleQueue[tuple[Any, Any]]) -> None:
        try:
            outcome = self._outcome(job, job_queue)  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 - the loop must hear of every job it started
            target = job.job if isinstance(job, Unreadable) else job
            outcome = JobOutcome(target, job_queue, False, exc_string=f"{type(exc).__name__}: {exc}")
        done_q.put((job, outcome))

    def _collect(self, done_q: queue.SimpleQueue[tuple[Any, Any]], wait: float) -> int:
        ended = 0
        try:
            job, outcome = done_q.get(timeout=wait) if wait else done_q.get_nowait()
        except queue.Empty:
            return 0
        while True:
            if isinstance(outcome, AsyncEnded):
                outcome = self._async_outcome(job, outcome)  # type: ignore[attr-defined]
            self._after_job(job, outcome)
            self._runner.collected(outcome.job.id)  # only now: its held entry is written or pending
            ended += 1
            try:
                job, outcome = done_q.get_nowait()
            except queue.Empty:
                return ended

    def _after_job(self, job: Job | Unreadable, outcome: JobOutcome) -> None:
        self.hooks.after_job(self, outcome)
        if self._settled_by_rq(job, outcome):  # type: ignore[attr-defined]
            self._settle_one(outcome)  # type: ignore[attr-defined]
        else:
            self._pending.append(outcome)
        self._avg_job_s = 0.8 * self._avg_job_s + 0.2 * outcome.duration_s
        self.total_working_time += outcome.duration_s

    def _drain_threads(self) -> None:
        """Stopping: wait for the running jobs to end and take their outcomes (the supervisor's
        --shutdown-timeout bounds the wait: it kills a worker that outlives it)."""
        runner: ThreadRunner = self._runner
        while runner.busy:
            self._collect(runner.done, wait=0.1)
