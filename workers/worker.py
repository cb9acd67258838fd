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

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from rq.callbacks import execute_failure_callback, execute_success_callback
from rq.job import Job, JobStatus
from rq.job_lifecycle import format_exc_info
from rq.queue import Queue
from rq.registry import FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.timeouts import JobTimeoutException
from rq.utils import now, utcformat
from rq.worker import SimpleWorker, WorkerStatus
from rq.worker_registration import register

from . import keys

log = logging.getLogger(__name__)

#: Exit code of a child that could not start (bad --worker-class, bad serializer...).
EXIT_START_FAILED = 3
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ChildSlot(ctypes.Structure):
    """Shared memory between the supervisor and one child (no Redis round trip per job).

    ``running``: id of the job the child is executing right now (empty between jobs);
    ``error``: why the child could not start; ``ready``: 1 once it registered with Redis.
    """

    _fields_ = [("running", ctypes.c_char * 64), ("error", ctypes.c_char * 512), ("ready", ctypes.c_int)]


@dataclass
class _Outcome:
    job: Job | None  # None: the job hash was gone when dequeued; only its held entry is settled
    queue: Queue
    ok: bool
    value: Any = None
    exc_string: str = ""


class BatchWorker(SimpleWorker):
    """RQ ``SimpleWorker`` with batched, crash-accounted dequeue; see the module docstring.

    Subclass it for ``--worker-class``; the hooks RQ offers (``job_class``, ``queue_class``,
    ``death_penalty_class``, exception handlers) keep working.
    """

    #: Most jobs one dequeue may take; a batch is sized so it runs in about ``batch_window_s``.
    batch_max = 64
    #: Seconds of work after which finished jobs are written even if the batch is not done.
    batch_window_s = 0.02
    #: Seconds an idle worker blocks in Redis before it looks at its stop flag again.
    block_timeout_s = 1
    #: Seconds between heartbeats of the worker key and of its held jobs' registry entries.
    heartbeat_interval_s = 5.0

    def __init__(self, *args: Any, slot: ChildSlot | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot
        self._held: list[tuple[str, str]] = []
        self._pending: list[_Outcome] = []
        self._avg_job_s = self.batch_window_s
        self._queues_by_name = {q.name: q for q in self.queues}
        self._dequeue = self.connection.register_script(keys.DEQUEUE_BATCH)
        self._mark = self.connection.register_script(keys.MARK_STARTED)
        self.held_key = keys.held(self.name)

    # -- signals -------------------------------------------------------------------------
    def install_child_signals(self) -> None:
        """SIGINT is ignored (the terminal's Ctrl-C is the supervisor's); SIGTERM sets a flag."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Only a flag: the loop finishes the running job, puts the rest back and exits.
        self._stop_requested = True

    # -- the loop ------------------------------------------------------------------------
    def run(self, burst: bool = False, max_jobs: int | None = None) -> int:
        """Work until stopped (SIGTERM), the queues are empty (``burst``) or ``max_jobs`` ran.

        Returns the number of jobs run. Held jobs that were not run go back to the front of
        their queue before this returns; Redis errors are retried with backoff, never raised.
        """
        done = 0
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        backoff = 0.1
        try:
            while not self._stop_requested:
                try:
                    batch = self._take(block=not burst)
                    backoff = 0.1
                except _REDIS_ERRORS as exc:
                    log.warning("worker %s: Redis unavailable (%s); retrying in %.1f s", self.name, exc, backoff)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if not batch:
                    if burst:
                        break
                    continue
                done += self._run_batch(batch, max_jobs, done)
                if max_jobs is not None and done >= max_jobs:
                    break
        finally:
            self._settle()
            self._stop_heartbeat = True
        return done

    def _run_batch(self, batch: list[tuple[Job | None, Queue]], max_jobs: int | None, done_before: int) -> int:
        ran = 0
        last_flush = time.monotonic()
        if self.get_state() != WorkerStatus.BUSY:
            self.set_state(WorkerStatus.BUSY)
        for job, queue in batch:
            if self._stop_requested or (max_jobs is not None and done_before + ran >= max_jobs):
                break
            if job is None:
                self._pending.append(_Outcome(None, queue, True))
                continue
            started = time.monotonic()
            self._pending.append(self._perform(job, queue))
            ran += 1
            finished = time.monotonic()
            self._avg_job_s = 0.8 * self._avg_job_s + 0.2 * (finished - started)
            if finished - last_flush >= self.batch_window_s:
                self._flush_with_retry()
                last_flush = time.monotonic()
        self._flush_with_retry()
        return ran

    def _settle(self) -> None:
        """On the way out: write what finished, put back what did not run, deregister."""
        for attempt in range(5):
            try:
                self._flush()
                self._put_back()
                self.register_death()
                return
            except _REDIS_ERRORS as exc:
                log.warning("worker %s: could not settle with Redis (%s), attempt %d", self.name, exc, attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        log.error("worker %s: left %d held jobs for the supervisor to re-queue", self.name, len(self._held))

    # -- dequeue -------------------------------------------------------------------------
    def _batch_size(self) -> int:
        return max(1, min(self.batch_max, int(self.batch_window_s / max(self._avg_job_s, 1e-6))))

    def _script_args(self, first: Any) -> list[Any]:
        stamp = utcformat(now())
        score = time.time() + self.worker_ttl + 60
        return [first, self.name, stamp, score, Queue.redis_queue_namespace_prefix,
                StartedJobRegistry.key_template.format(""), Job.redis_job_namespace_prefix]

    def _take(self, block: bool) -> list[tuple[Job | None, Queue]]:
        """Move a batch off the queues (atomically recorded as held) and load the jobs."""
        queue_keys = [q.key for q in self.queues]
        rows = self._dequeue(keys=[self.held_key, *queue_keys], args=self._script_args(self._batch_size()))
        if not rows and block:
            rows = self._block(queue_keys)
        return self._load(rows)

    def _block(self, queue_keys: list[str]) -> list[Any]:
        self.set_state(WorkerStatus.IDLE)
        if len(queue_keys) == 1:
            # BLMOVE is atomic: the id is in our held list the moment it leaves the queue.
            job_id = self.connection.blmove(queue_keys[0], self.held_key, self.block_timeout_s, "LEFT", "RIGHT")
            pushed, queue_key = "0", queue_keys[0]
        else:
            # Several queues: BLMPOP honours their order; the id is held one round trip later.
            popped = self.connection.blmpop(self.block_timeout_s, len(queue_keys), *queue_keys, direction="LEFT")
            job_id, queue_key, pushed = (popped[1][0], popped[0], "1") if popped else (None, "", "1")
        if job_id is None:
            return []
        job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
        queue_key = queue_key.decode() if isinstance(queue_key, bytes) else queue_key
        args = self._script_args(job_id)
        return self._mark(keys=[self.held_key, queue_key], args=[*args, pushed])

    def _load(self, rows: list[Any]) -> list[tuple[Job | None, Queue]]:
        batch: list[tuple[Job | None, Queue]] = []
        started_at = now()
        held = list(self._held)  # a new list object: the heartbeat thread reads the old one
        for qname, job_id, fields in rows:
            qname, job_id = qname.decode(), job_id.decode()
            held.append((qname, job_id))
            queue = self._queues_by_name.get(qname) or self.queue_class(
                qname, connection=self.connection, serializer=self.serializer, job_class=self.job_class)
            if not fields:
                batch.append((None, queue))  # deleted while queued: nothing to run
                continue
            job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
            job.restore(dict(zip(fields[::2], fields[1::2])))
            job.worker_name, job.started_at, job._status = self.name, started_at, JobStatus.STARTED
            batch.append((job, queue))
        self._held = held
        return batch

    # -- running -------------------------------------------------------------------------
    def _perform(self, job: Job, queue: Queue) -> _Outcome:
        """Run one job under its timeout (RQ's death penalty: SIGALRM) and its callbacks."""
        if self.slot is not None:
            self.slot.running = job.id.encode()
        job.started_at = now()
        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        penalty = (contextlib.nullcontext() if timeout == -1
                   else self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id))
        try:
            with penalty:
                value = job.perform()
            job.ended_at = now()
            execute_success_callback(job, self.death_penalty_class, value)
            outcome = _Outcome(job, queue, True, value)
        except Exception:  # noqa: BLE001 - any failure of user code is recorded in RQ's format
            exc_info = sys.exc_info()
            job.ended_at = job.ended_at or now()
            with contextlib.suppress(Exception):
                execute_failure_callback(job, self.death_penalty_class, *exc_info)
            self.handle_exception(job, *exc_info)
            outcome = _Outcome(job, queue, False, exc_string=format_exc_info(exc_info))
        finally:
            if self.slot is not None:
                self.slot.running = b""
        return outcome

    # -- writing -------------------------------------------------------------------------
    def _flush_with_retry(self) -> None:
        delay = 0.1
        while True:
            try:
                self._flush()
                return
            except _REDIS_ERRORS as exc:
                log.warning("worker %s: cannot write results (%s); retrying in %.1f s", self.name, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _flush(self) -> None:
        """Write every pending outcome in RQ's format, in one pipeline, then forget them."""
        settled = len(self._pending)
        if settled == 0:
            return
        ok_count = 0
        finished: dict[str, dict[str, float]] = {}
        with self.connection.pipeline(transaction=False) as pipe:
            for out in self._pending:
                if out.job is None:
                    continue
                if out.ok:
                    ok_count += 1
                    self._write_success(out, pipe, finished)
                else:
                    self._write_failure(out, pipe)
            for qname, members in finished.items():
                pipe.zadd(FinishedJobRegistry(qname, connection=self.connection).key, members)
            wip: dict[str, list[str]] = {}
            for qname, job_id in self._held[:settled]:
                wip.setdefault(qname, []).append(f"{job_id}:{self.name}")
            for qname, members in wip.items():
                pipe.zrem(StartedJobRegistry(qname, connection=self.connection).key, *members)
            pipe.ltrim(self.held_key, settled, -1)
            if ok_count:
                pipe.hincrby(self.key, "successful_job_count", ok_count)
            if ok_count < len(self._pending):
                pipe.hincrby(self.key, "failed_job_count", len(self._pending) - ok_count)
            dependents = [out.job.dependents_key for out in self._pending if out.job is not None]
            if dependents:
                pipe.exists(*dependents)
            replies = pipe.execute()
        pending, self._pending = self._pending, []
        self._held = self._held[settled:]
        if dependents and replies[-1]:
            self._enqueue_dependents(pending)

    def _write_success(self, out: _Outcome, pipe: Any, finished: dict[str, dict[str, float]]) -> None:
        job = out.job
        ttl = job.get_result_ttl(self.default_result_ttl)
        job._status = JobStatus.FINISHED
        pipe.hset(job.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": utcformat(job.ended_at),
                                    "last_heartbeat": utcformat(job.ended_at)})
        if ttl == 0:
            job.delete(pipeline=pipe, remove_from_queue=False)
            return
        Result.create(job, Result.Type.SUCCESSFUL, ttl, return_value=out.value, worker_name=self.name,
                      pipeline=pipe, execution_id=self.name, execution_started_at=job.started_at,
                      execution_ended_at=job.ended_at)
        if ttl > 0:
            pipe.expire(job.key, ttl)
        finished.setdefault(job.origin, {})[job.id] = ttl if ttl < 0 else time.time() + ttl

    def _write_failure(self, out: _Outcome, pipe: Any) -> None:
        job = out.job
        if job.should_retry:
            job.retry(out.queue, pipe)
            return
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=out.exc_string, pipeline=pipe)
        Result.create_failure(job, job.failure_ttl, exc_string=out.exc_string, worker_name=self.name,
                              pipeline=pipe, execution_id=self.name, execution_started_at=job.started_at,
                              execution_ended_at=job.ended_at)

    def _enqueue_dependents(self, outcomes: list[_Outcome]) -> None:
        for out in outcomes:
            if out.job is not None and self.connection.exists(out.job.dependents_key):
                out.queue.enqueue_dependents(out.job)

    def _put_back(self) -> None:
        """Return held jobs that never ran to the front of their queues, in their order."""
        if not self._held:
            self.connection.delete(self.held_key)
            return
        from .recovery import requeue_unstarted

        requeue_unstarted(self.connection, self.name, self._held, self.serializer)
        self._held = []

    # -- heartbeat -----------------------------------------------------------------------
    _stop_heartbeat = False

    def _heartbeat_loop(self) -> None:
        """Keep the worker key and the held jobs' started-registry entries alive.

        Runs in a thread so a long job does not make its worker look dead to ``rq info`` or
        to RQ's abandoned-job cleanup (which would fail a job whose entry expired).
        """
        client = self.connection
        while not self._stop_heartbeat:
            try:
                held = self._held
                with client.pipeline(transaction=False) as pipe:
                    pipe.hset(self.key, mapping={"last_heartbeat": utcformat(now()),
                                                 "state": self.get_state() or WorkerStatus.IDLE})
                    pipe.expire(self.key, self.worker_ttl + 60)
                    register(self, pipe)
                    score = time.time() + self.worker_ttl + 60
                    for qname, job_id in held:
                        pipe.zadd(StartedJobRegistry(qname, connection=client).key,
                                  {f"{job_id}:{self.name}": score}, xx=True)
                    pipe.execute()
            except _REDIS_ERRORS as exc:
                log.debug("worker %s: heartbeat failed: %s", self.name, exc)
            deadline = time.monotonic() + self.heartbeat_interval_s
            while not self._stop_heartbeat and time.monotonic() < deadline:
                time.sleep(0.2)
