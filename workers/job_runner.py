"""Where a batch worker's jobs run: one at a time on its main thread, or N at once in threads.

:class:`InlineRunner` (the default) runs each job on the main thread under RQ's death penalty
(SIGALRM), and interrupts it (RQ's stop-job / kill-horse, :mod:`workers.control`) with
:data:`INTERRUPT_SIGNAL`, whose handler raises in the job.

:class:`ThreadRunner` (``workers supervise --threads N``, for I/O-bound jobs) runs up to N jobs
at once on N threads. A thread cannot take SIGALRM, so a job's timeout and an interrupt are
raised into its thread (``PyThreadState_SetAsyncExc``) by the worker's watchdog, which looks
every 50 ms (the heartbeat thread, :mod:`workers.heartbeat`). That exception lands as soon as
the thread runs Python code again: a job blocked in one call (a ``time.sleep``, a C extension)
sees it when the call returns; one blocked past its timeout plus ``--timeout-grace`` has its
process killed by the supervisor, as a job that ignores SIGALRM has. Every running job is in
the shared-memory slot, so when a threaded worker dies, each job it was running is charged a
loss (a timed-out kill charges none: the timed-out job fails, the others go back).

Both runners are the same to the worker: :meth:`begin` / :meth:`end` around a job (the slot the
supervisor reads), :meth:`perform` for ``job.perform()`` itself, :meth:`interrupt`, :meth:`check`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rq.job import Job
from rq.timeouts import BaseDeathPenalty, JobTimeoutException, TimerDeathPenalty, UnixSignalDeathPenalty

from jobs.event_loop import AsyncCall
from jobs.thread_exceptions import cancel_pending, raise_in_thread

log = logging.getLogger(__name__)

#: What the command thread sends the main thread to interrupt the job it runs.
INTERRUPT_SIGNAL = signal.SIGUSR1
#: Most threads a worker process may run jobs on (the slot holds this many job ids).
MAX_THREADS = 64


class JobInterrupted(BaseException):
    """Raised in a running job by RQ's stop-job or kill-horse command (a BaseException, so a job's
    ``except Exception`` does not swallow it, as it could not survive RQ's SIGKILLed horse)."""


class AlarmPenalty(BaseDeathPenalty):
    """RQ's SIGALRM death penalty without a system call per job: its handler stays installed.

    RQ's ``UnixSignalDeathPenalty`` installs its SIGALRM handler, arms the alarm, disarms it and
    restores the default handler, for every job: 10% of a no-op job's time in a batch worker.
    This one raises the same exception with the same message after the same time (``math.ceil``
    of the timeout, as ``signal.alarm``). An alarm still pending when a job ends is left to fire:
    when it comes before the running job's deadline the handler arms it again for the rest, and
    between jobs it does nothing, so a job starts without a system call unless it is due before
    the pending alarm. A job that sets SIGALRM for itself takes the timeouts of the jobs after it
    away until the pending alarm's time has passed, when the next re-arm installs the handler
    again (the supervisor's ``--timeout-grace`` kill still bounds them meanwhile).
    """

    _armed: ClassVar[AlarmPenalty | None] = None  # the penalty of the job running now
    _fires_at: ClassVar[float] = 0.0  # time.monotonic() the pending alarm fires at; 0: none
    _deadline = 0.0

    @staticmethod
    def install() -> None:
        """On the main thread, once: the handler every armed penalty relies on."""
        signal.signal(signal.SIGALRM, AlarmPenalty._on_alarm)

    def setup_death_penalty(self) -> None:
        clock = time.monotonic()
        self._deadline = clock + math.ceil(self._timeout)
        AlarmPenalty._armed = self
        fires = AlarmPenalty._fires_at
        if not fires or fires > self._deadline or fires < clock - 1:  # none, too late, or lost (reset by a job)
            AlarmPenalty._arm(self._deadline)

    def cancel_death_penalty(self) -> None:
        AlarmPenalty._armed = None

    @staticmethod
    def _arm(at: float) -> None:
        if signal.getsignal(signal.SIGALRM) is not AlarmPenalty._on_alarm:  # a job set its own
            AlarmPenalty.install()
        AlarmPenalty._fires_at = at
        signal.setitimer(signal.ITIMER_REAL, max(at - time.monotonic(), 0.001))

    @staticmethod
    def _on_alarm(signum: int, frame: Any) -> None:
        AlarmPenalty._fires_at = 0.0
        armed = AlarmPenalty._armed
        if armed is None:
            return  # between jobs: a spare alarm
        if armed._deadline > time.monotonic():
            AlarmPenalty._arm(armed._deadline)  # the alarm of an earlier, shorter job
            return
        AlarmPenalty._armed = None
        raise armed._exception(f"Task exceeded maximum timeout value ({armed._timeout} seconds)")


class InlineRunner:
    """One job at a time on the main thread (see the module docstring)."""

    threads = 1
    #: jobs end in the order they were claimed (the held list's order)
    in_held_order = True

    def __init__(self, worker: Any) -> None:
        self._worker = worker
        self._running = ""  # the job inside job.perform() now, "" between jobs
        self._interrupt_id = ""
        self._main_thread_id: int | None = None

    @property
    def busy(self) -> int:
        return 0  # the loop waits for nothing: a batch has ended when run_batch returns

    @property
    def penalty_class(self) -> type[BaseDeathPenalty]:
        """What times out a job and its callbacks: the worker's own (RQ's SIGALRM one becomes :class:`AlarmPenalty`)."""
        return self._worker.death_penalty_class

    def install(self) -> None:
        """On the main thread (where jobs run): the handler of :data:`INTERRUPT_SIGNAL`."""
        if threading.current_thread() is threading.main_thread():
            self._main_thread_id = threading.get_ident()
            signal.signal(INTERRUPT_SIGNAL, self._on_interrupt)
            if self._worker.death_penalty_class is UnixSignalDeathPenalty:  # not a subclass's own choice
                AlarmPenalty.install()
                self._worker.death_penalty_class = AlarmPenalty  # RQ's own calls (callbacks) use it too

    def begin(self, job: Job, timeout: float) -> None:
        slot = self._worker.slot
        if slot is not None:
            slot.running = job.id.encode()
            slot.deadline = 0.0 if timeout == -1 else time.time() + float(timeout)

    def end(self, job: Job) -> None:
        self._running = ""
        slot = self._worker.slot
        if slot is not None:
            slot.running, slot.deadline = b"", 0.0

    def perform(self, job: Job, timeout: float) -> Any:
        penalty = (contextlib.nullcontext() if timeout == -1
                   else self.penalty_class(timeout, JobTimeoutException, job_id=job.id))
        with penalty:
            self._running = job.id
            try:
                return job.perform()
            finally:
                self._running = ""

    def running_ids(self) -> list[str]:
        return [self._running] if self._running else []

    def interrupt(self, job_id: str) -> bool:
        """From another thread: raise :class:`JobInterrupted` in ``job_id`` if it is running."""
        if not job_id or job_id != self._running or self._main_thread_id is None:
            return False
        self._interrupt_id = job_id
        signal.pthread_kill(self._main_thread_id, INTERRUPT_SIGNAL)
        return True

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        target, self._interrupt_id = self._interrupt_id, ""
        if target and target == self._running:  # not the job after it, nor the loop between jobs
            raise JobInterrupted(f"job {target} interrupted by an RQ command to worker {self._worker.name}")

    def check(self) -> None:
        """Watchdog tick: nothing to do, SIGALRM times jobs out."""


@dataclass
class _Running:
    thread_id: int
    timeout: float
    deadline: float  # epoch seconds; 0: none
    raised: bool = False  # an exception was sent into the thread for this job


class ThreadRunner:
    """Up to ``threads`` jobs at once on threads (see the module docstring)."""

    def __init__(self, worker: Any, threads: int, max_async: int = 0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._worker = worker
        self.threads = threads
        self.max_async = max_async
        self._async_calls: dict[str, AsyncCall] = {}  # the coroutine jobs on the loop (workers.async_jobs)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"{worker.name}-job")
        self._lock = threading.Lock()
        self._started: dict[str, _Running] = {}  # begun and not ended: in the slot
        self._performing: dict[str, _Running] = {}  # inside job.perform(): exceptions may be sent
        #: ids of the jobs handed to a thread and not yet collected: their held entries stay held
        self.in_flight_ids: set[str] = set()
        #: (job, outcome) of each job that ended, for the main thread to collect
        self.done: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()

    @property
    def busy(self) -> int:
        return len(self.in_flight_ids)

    in_held_order = False
    #: What times out a job's callbacks on its thread, where SIGALRM cannot reach: RQ's timer
    #: penalty, which raises into the thread as the watchdog does.
    penalty_class: type[BaseDeathPenalty] = TimerDeathPenalty

    def room(self) -> int:
        """How many jobs the next claim may take: the idle threads, and no more than the free
        places on the event loop (with ``--max-async``), so no claimed job waits, whatever its kind."""
        idle_threads = self.threads - (len(self.in_flight_ids) - len(self._async_calls))
        if not self.max_async:
            return idle_threads
        return max(0, min(idle_threads, self.max_async - len(self._async_calls)))

    def started_async(self, job_id: str, call: AsyncCall) -> None:
        with self._lock:
            self._async_calls[job_id] = call

    def ended_async(self, job_id: str) -> None:
        with self._lock:
            self._async_calls.pop(job_id, None)

    def install(self) -> None:
        """Nothing to install: interrupts go straight into the job's thread."""

    def submit(self, job_id: str, call: Any, *args: Any) -> None:
        self.in_flight_ids.add(job_id)
        self._pool.submit(call, *args)

    def collected(self, job_id: str) -> None:
        """The main thread has written (or queued to write) this job's outcome."""
        self.in_flight_ids.discard(job_id)

    def begin(self, job: Job, timeout: float) -> None:
        deadline = 0.0 if timeout == -1 else time.time() + float(timeout)
        with self._lock:
            self._started[job.id] = _Running(threading.get_ident(), timeout, deadline)
            self._publish()

    def end(self, job: Job) -> None:
        with self._lock:
            self._started.pop(job.id, None)
            self._publish()

    def _publish(self) -> None:
        """The slot the supervisor reads: every running id, the one due first first (lock held)."""
        slot = self._worker.slot
        if slot is None:
            return
        order = sorted(self._started.items(), key=lambda item: item[1].deadline or float("inf"))
        slot.running = " ".join(job_id for job_id, _ in order).encode()
        slot.deadline = min((r.deadline for _, r in order if r.deadline), default=0.0)

    def perform(self, job: Job, timeout: float) -> Any:
        with self._lock:
            self._performing[job.id] = self._started[job.id]
        try:
            return job.perform()
        except JobTimeoutException as exc:
            if exc.args:
                raise
            raise JobTimeoutException(f"Task exceeded maximum timeout value ({timeout} seconds)") from None
        except JobInterrupted as exc:
            if exc.args:
                raise
            raise JobInterrupted(f"job {job.id} interrupted by an RQ command to worker {self._worker.name}") from None
        finally:
            self._leave(job.id)

    def _leave(self, job_id: str) -> None:
        """Out of ``job.perform()``: no exception may be sent for it now, and none pending stays."""
        while True:
            try:
                with self._lock:
                    running = self._performing.pop(job_id, None)
                    if running is not None and running.raised:
                        cancel_pending(running.thread_id)
                return
            except (JobTimeoutException, JobInterrupted):
                continue  # it landed after the job returned: the job is over, the value stands

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._performing) + list(self._async_calls)

    def interrupt(self, job_id: str) -> bool:
        with self._lock:
            call = self._async_calls.get(job_id)
            if call is not None:
                return call.interrupt()
            running = self._performing.get(job_id)
            if running is None or running.raised:
                return running is not None
            running.raised = True
            raise_in_thread(running.thread_id, JobInterrupted)
            return True

    def check(self) -> None:
        """Watchdog tick (heartbeat thread): a job past its timeout gets JobTimeoutException."""
        wall = time.time()
        with self._lock:
            for job_id, running in self._performing.items():
                if running.deadline and wall > running.deadline and not running.raised:
                    running.raised = True
                    log.warning("worker %s: job %s exceeded its timeout of %s s", self._worker.name, job_id,
                                running.timeout)
                    raise_in_thread(running.thread_id, JobTimeoutException)

    def shutdown(self, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
