"""The child process: an RQ worker that runs jobs in-process and moves them in batches.

Why not RQ's forking ``Worker``: a fork per job costs more than a short job itself (155 no-op
jobs/s with ``rq worker-pool -n 2`` on two cores). Why not plain ``SimpleWorker``: it spends
about 20 Redis round trips per job. :class:`BatchWorker` keeps SimpleWorker's in-process run
(and RQ's registration, heartbeats, serializers, death penalty and callbacks) but

- takes a small adaptive batch off its queues in ONE atomic Lua call that also records each
  job as held by this worker (``jobfleet:held:<name>``) and started in RQ's registry;
- blocks on BLMOVE when idle, so a lone job starts as soon as it is enqueued;
- writes the finished jobs' RQ state (status, result stream, finished/failed registry,
  started-registry removal) in ONE pipeline per batch, or sooner when a batch runs long.

Safety comes from the process boundary instead of the fork: a job that kills its process
kills this child; the supervisor restarts it and re-queues what it held (see
:mod:`workers.recovery`). The job running at that moment is published in shared memory
(:class:`ChildSlot`), so only it is charged a loss.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

from rq.job import Job
from rq.queue import Queue
from rq.utils import now
from rq.worker import SimpleWorker

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.backoff import Backoff
from jobs.event_loop import JobLoop
from jobs.remote_errors import store_exception
from jobs.rq_format import keys, state
from jobs.rq_format.scripts import DEQUEUE_BATCH, MARK_STARTED, ClaimArgs, ClaimedJob, claimed_rows, skipped_queues
from jobs.rq_format.settle import needs_rq_settle
from jobs.rq_format.unreadable import Unreadable, load
from jobs.rq_format.writes import return_strays

from .async_jobs import AsyncJobs
from .batch_guard import BatchGuard
from .control import RQControl
from .dequeue_order import QueueOrder
from .heartbeat import heartbeat_loop
from .hooks import Hook, Hooks, JobOutcome
from .job_outcomes import JobOutcomes
from .job_runner import MAX_THREADS, InlineRunner, ThreadRunner
from .rq_entry import ColdShutdown, RQWork
from .threaded_batches import ThreadedBatches
from .wakeup import BlockingMove, QueueWakeup
from .writes import BatchWrites, Vanished

log = logging.getLogger(__name__)



class ChildSlot(ctypes.Structure):
    """Shared memory between the supervisor and one child (no Redis round trip per job).

    ``running``: ids of the jobs the child is executing right now, space-separated, the one due
    first first (empty between jobs; one id unless ``--threads``);
    ``deadline``: when (epoch seconds) that job's timeout ends, 0 for none: the supervisor kills
    a child whose job ignores SIGALRM (stuck in C code) some seconds after it;
    ``error``: why the child could not start; ``ready``: 1 once it registered with Redis.
    """

    _fields_ = [("running", ctypes.c_char * (65 * MAX_THREADS)), ("deadline", ctypes.c_double), ("error", ctypes.c_char * 512),
                ("ready", ctypes.c_int)]


class BatchWorker(ThreadedBatches, AsyncJobs, JobOutcomes, BatchWrites, RQControl, RQWork, SimpleWorker):
    """RQ ``SimpleWorker`` with batched, crash-accounted dequeue; see the module docstring.

    Subclass it for ``--worker-class``; the hooks RQ offers (``job_class``, ``queue_class``,
    ``death_penalty_class``, exception handlers) keep working. RQ's per-job methods are never
    called (:data:`workers.hooks.BYPASSED`): use :class:`workers.hooks.Hook` instead.
    """

    #: Most jobs one dequeue may take; a batch is sized so it runs in about ``batch_window_s``.
    batch_max = 64
    #: Seconds of work after which finished jobs are written even if the batch is not done.
    batch_window_s = 0.02
    #: Seconds an idle worker blocks in Redis before it looks at its stop flag again.
    block_timeout_s = 1
    #: Seconds between heartbeats of the worker key and of its held jobs' registry entries.
    heartbeat_interval_s = 5.0
    #: Seconds a job may run before the jobs behind it in its batch are given back (BatchGuard).
    release_after_s = 0.1
    _stop_heartbeat = False

    def __init__(self, *args: Any, slot: ChildSlot | None = None, hooks: list[Hook] | None = None,
                 threads: int = 1, max_async: int = 0, supervisor_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # With prepare_for_work=False (no Redis call at construction, so a start while Redis is
        # down does not crash) RQ leaves the fields rq info shows empty: fill them here.
        self.hostname = self.hostname or socket.gethostname()
        self.pid = self.pid or os.getpid()
        self.slot = slot
        self.hooks = Hooks(hooks or ())
        self._held: list[tuple[str, str]] = []
        self._pending: list[JobOutcome | Vanished] = []
        self._avg_job_s = self.batch_window_s
        self._resync = False
        self._queues_by_name = {q.name: q for q in self.queues}
        self._dequeue = self.connection.register_script(DEQUEUE_BATCH)
        self._mark = self.connection.register_script(MARK_STARTED)
        self.prefixes = keys.Prefixes.of(self.queue_class, self.job_class)  # read at start, as RQ's worker does
        self._claim = ClaimArgs(self.name, self.key, self.worker_ttl + 60, self.prefixes, supervisor_id)
        self.held_key = keys.held(self.name)
        self._skipped_queues: set[str] = set()  # queue keys that are not lists: logged, not served
        self._guard = BatchGuard(self, self.release_after_s)
        self._wakeup = QueueWakeup(self.connection, [q.key for q in self.queues], keys.wake_channel(self.name))
        self._blocking = BlockingMove(self.connection)
        self._order = QueueOrder([q.key for q in self.queues])
        self.push_exc_handler(store_exception)  # the job's own exception for its caller (jobs.remote_errors)
        self._runner: InlineRunner | ThreadRunner = (
            InlineRunner(self) if threads == 1 and not max_async else ThreadRunner(self, threads, max_async))
        self._loop = JobLoop(f"{self.name}-async") if max_async else None  # workers.async_jobs

    # -- signals -------------------------------------------------------------------------
    def install_child_signals(self) -> None:
        """SIGINT is ignored (the terminal's Ctrl-C is the supervisor's); SIGTERM sets a flag."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Only a flag: the loop finishes the running job, puts the rest back and exits.
        self._stop_requested = True
        self._shutdown_requested_date = now()  # written to Redis on the way out (rq info shows it)

    # -- the loop ------------------------------------------------------------------------
    def set_dequeue_strategy(self, strategy: str) -> None:
        """RQ's ``dequeue_strategy`` (``default``, ``round_robin``, ``random``; :mod:`workers.dequeue_order`)."""
        self._order = QueueOrder([q.key for q in self.queues], strategy)
        self._dequeue_strategy = self._order.strategy

    def run(self, burst: bool = False, max_jobs: int | None = None, max_idle_s: float | None = None) -> int:
        """Work until stopped (SIGTERM), the queues are empty (``burst``), ``max_jobs`` ran or
        no job came for ``max_idle_s`` seconds (RQ's ``max_idle_time``).

        Returns the number of jobs run. Held jobs that were not run go back to the front of
        their queue before this returns; Redis errors are retried with backoff, never raised.
        """
        done, cold = 0, False
        beat = threading.Thread(target=heartbeat_loop, args=(self,), name="heartbeat", daemon=True)
        beat.start()
        backoff = Backoff()
        self.hooks.worker_started(self)
        self._runner.install()
        idle_since = time.monotonic()
        run_batch = self._run_batch if isinstance(self._runner, InlineRunner) else self._run_threaded
        try:
            while not self._stop_requested:
                try:
                    if self.should_run_maintenance_tasks:
                        self._maintain()
                    if self._resync and not self._held:
                        self._return_strays()
                    if not self._may_take(burst):
                        break  # suspended (rq suspend) in burst mode
                    batch = self._take(block=not burst and not self._runner.busy, limit=self._room(max_jobs, done))
                    backoff.reset()
                except TRANSIENT_ERRORS as exc:
                    self._resync = True  # a reply may have been lost after Redis moved ids to our held list
                    delay = backoff.next()
                    log.warning("worker %s: Redis unavailable (%s); retrying in %.1f s", self.name, exc, delay)
                    time.sleep(delay)
                    continue
                if not batch and not self._runner.busy:
                    if burst or (max_idle_s is not None and time.monotonic() - idle_since >= max_idle_s):
                        break
                    continue
                done += run_batch(batch, max_jobs, done)
                idle_since = time.monotonic()
                if max_jobs is not None and done >= max_jobs:
                    break
        except ColdShutdown as exc:
            cold = True
            log.warning("%s; the job in hand goes back to its queue", exc)
        finally:
            self._close(cold)
        return done

    def _close(self, cold: bool) -> None:
        """Leaving :meth:`run`: settle with Redis (after the threads' jobs, unless ``cold``), then let go."""
        self._stop_control()
        self._settle(cold)
        if isinstance(self._runner, ThreadRunner):
            self._runner.shutdown(wait=not cold)
        if self._loop is not None:
            self._loop.close()
        self._wakeup.close()
        self._blocking.close()
        self._stop_heartbeat = True

    def _run_batch(self, batch: list[tuple[Job | Unreadable | None, Queue]], max_jobs: int | None,
                   done_before: int) -> int:
        ran = 0
        last_flush = time.monotonic()
        self._guard.begin(len(batch))
        for index, (job, queue) in enumerate(batch):
            if self._stop_requested or (max_jobs is not None and done_before + ran >= max_jobs):
                break
            if not self._guard.may_start(index):
                break  # given back while the job before it ran long
            if job is None:
                self._guard.ended()
                self._pending.append(Vanished(queue))
                continue
            outcome = self._outcome(job, queue)
            self._guard.ended()
            self.hooks.after_job(self, outcome)
            if self._settled_by_rq(job, outcome):
                self._settle_one(outcome)
            else:
                self._pending.append(outcome)
            ran += 1
            finished = time.monotonic()
            self._avg_job_s = 0.8 * self._avg_job_s + 0.2 * outcome.duration_s
            self.total_working_time += outcome.duration_s  # to Redis with the heartbeat (RQ's worker stat)
            if finished - last_flush >= self.batch_window_s:
                self._flush_with_retry()
                last_flush = time.monotonic()
        self._flush_with_retry()
        return ran

    def _return_strays(self) -> None:
        """Put back ids Redis moved to our held list whose reply we never got.

        Between batches everything we took has been settled (``self._held`` is empty), so any
        id still in the Redis list is such a stray: it never ran and goes back without a loss.
        """
        assert not self._held
        count = return_strays(self.connection, self.name, self.prefixes)
        if count:
            log.warning("worker %s: put back %d jobs whose dequeue reply was lost", self.name, count)
        self._resync = False

    def _maintain(self) -> None:
        """RQ's periodic registry cleanup (expired finished/failed entries, dead workers), under
        RQ's own per-queue lock so one worker of the fleet does it every ``maintenance_interval``."""
        try:
            self.run_maintenance_tasks()
        except TRANSIENT_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - housekeeping must never stop the worker
            self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ declares it None-only
            log.exception("worker %s: registry maintenance failed", self.name)

    # -- dequeue -------------------------------------------------------------------------
    def _batch_size(self) -> int:
        if isinstance(self._runner, ThreadRunner):
            return self._limit  # one job per idle thread (or loop place): none waits behind a long one
        return max(1, min(self.batch_max, int(self.batch_window_s / max(self._avg_job_s, 1e-6))))

    def _room(self, max_jobs: int | None, done: int) -> int:
        """How many jobs the next claim may take: the idle threads (one thread: a whole batch), within ``max_jobs``."""
        room = self.batch_max if isinstance(self._runner, InlineRunner) else self._runner.room()
        return room if max_jobs is None else min(room, max_jobs - done - self._runner.busy)

    _limit = 1

    def _take(self, block: bool, limit: int | None = None) -> list[tuple[Job | Unreadable | None, Queue]]:
        """Move a batch off the queues (atomically recorded as held) and load the jobs."""
        if limit is not None and limit <= 0:
            return []
        self._limit = limit or 1
        queue_keys = self._order.keys()
        usable = [k for k in queue_keys if k not in self._skipped_queues]
        several = block and len(usable) > 1
        if several:
            self._wakeup.drain()
        rows = self._claim_batch(queue_keys)
        if not rows and block:
            if len(usable) == 1:
                rows = self._block(usable[0])
            elif several:
                self._wakeup.wait(self.block_timeout_s)  # no job leaves a queue here: nothing to lose
                rows = self._claim_batch(queue_keys)
            else:
                time.sleep(self.block_timeout_s)
        return self._load(rows)

    def _claim_batch(self, queue_keys: list[str]) -> list[ClaimedJob]:
        reply = self._dequeue(keys=[self.held_key, *queue_keys],
                              args=self._claim.argv(self._batch_size(), interleave=self._order.interleave))
        rows = claimed_rows(reply)
        if rows:
            self._order.took_last_from(self.prefixes.queue + rows[-1].queue_name)
        self._note_skipped(skipped_queues(reply, self.prefixes))
        state.mark_busy(self, bool(rows))  # the script wrote it to Redis
        return rows

    def _note_skipped(self, skipped: set[str]) -> None:
        for key in sorted(skipped - self._skipped_queues):
            log.error("worker %s: %s is not a list (garbage where a queue should be); skipping that queue", self.name, key)
        for key in sorted(self._skipped_queues - skipped):
            log.warning("worker %s: %s is usable again", self.name, key)
        self._skipped_queues = skipped

    def _block(self, queue_key: str) -> list[ClaimedJob]:
        """Wait on the one queue with BLMOVE: atomic, the id is in our held list the moment it
        leaves the queue (several queues wait in :class:`QueueWakeup` instead)."""
        if self._stop_requested:
            return []
        job_id = self._blocking.move(queue_key, self.held_key, self.block_timeout_s)
        if job_id is None:
            return []
        rows = claimed_rows(self._mark(keys=[self.held_key, queue_key], args=self._claim.argv(job_id)))
        state.mark_busy(self, True)
        return rows

    def _load(self, rows: list[ClaimedJob]) -> list[tuple[Job | Unreadable | None, Queue]]:
        batch: list[tuple[Job | Unreadable | None, Queue]] = []
        started_at = now()
        held = list(self._held)  # a new list object: the heartbeat thread reads the old one
        for row in rows:
            held.append((row.queue_name, row.job_id))
            queue = self._queues_by_name.get(row.queue_name) or self.queue_class(
                row.queue_name, connection=self.connection, serializer=self.serializer, job_class=self.job_class)
            if not row.fields:
                log.warning("worker %s: job %s is gone from Redis (deleted while queued, or its key is not a hash); "
                            "skipping it", self.name, row.job_id)
                batch.append((None, queue))  # deleted while queued: nothing to run
                continue
            job = load(self.job_class, self.connection, self.serializer, row.job_id, row.fields)
            if isinstance(job, Unreadable):  # one unreadable job must not crash-loop the worker
                log.error("worker %s: job %s cannot be read; failing it: %s", self.name, row.job_id, job.failure.message)
                job.job.worker_name = self.name
            else:
                state.mark_started(job, self.name, started_at)
            batch.append((job, queue))
        self._held = held
        return batch

    # -- running (the job itself: workers.job_outcomes) --------------------------------
    def _settled_by_rq(self, job: Job | Unreadable, outcome: JobOutcome) -> bool:
        """Jobs RQ's own methods settle (:mod:`jobs.rq_format.settle`), and a stopped job (status ``stopped``)."""
        return not isinstance(job, Unreadable) and (
            needs_rq_settle(job, outcome.value, self.default_result_ttl) or self._stopped_job_id == job.id)
