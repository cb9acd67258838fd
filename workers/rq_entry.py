"""``work()``, RQ's entry point, for a :class:`workers.worker.BatchWorker` started by RQ itself.

``workers supervise`` calls :meth:`BatchWorker.run` from its child process. RQ's CLI
(``rq worker -w workers.worker.BatchWorker``), RQ's ``WorkerPool`` and code that calls
``worker.work(...)`` reach the worker by RQ's ``work()`` instead; without this mixin they would
run the ``SimpleWorker`` loop BatchWorker inherits, one job and about twenty round trips at a
time. Here ``work()`` takes RQ's arguments and runs the batched loop:

- ``burst``, ``max_jobs``, ``max_idle_time`` and ``dequeue_strategy`` mean what they mean to RQ;
- ``with_scheduler`` ticks RQ's scheduler in a thread, as the supervisor does in its loop;
- SIGINT or SIGTERM asks for a warm stop (the job in hand finishes, the rest of the batch goes
  back to the front of its queues); another one more than a second later stops at once, and the
  interrupted job goes back too, to run again (one within the second is ignored, as by RQ).

What a plain ``rq worker`` lacks is the supervisor: when this process is SIGKILLed, no one
re-queues its batch at once; RQ's own registry cleanup later treats those jobs as abandoned.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from rq import defaults as rq_defaults  # logging formats only (its key names are jobs.rq_format's)
from rq.logutils import setup_loghandlers
from rq.worker import DequeueStrategy

from .scheduling import ScheduledJobs

log = logging.getLogger(__name__)

#: Seconds after a stop signal during which another one is ignored (RQ's request_force_stop does so).
REPEAT_WINDOW_S = 1.0


class ColdShutdown(BaseException):
    """Raised into the running job by a second stop signal; not the job's failure: the job goes
    back to its queue with the rest of the batch (a BaseException, so ``except Exception`` in a
    job does not swallow it)."""


class RQWork:
    """Mixin: RQ's ``work()`` on top of ``run()`` (see the module docstring)."""

    _stop_requested: bool
    name: str

    def work(self, burst: bool = False, logging_level: str | None = None,
             date_format: str = rq_defaults.DEFAULT_LOGGING_DATE_FORMAT,
             log_format: str = rq_defaults.DEFAULT_LOGGING_FORMAT,
             max_jobs: int | None = None, max_idle_time: int | None = None, with_scheduler: bool = False,
             dequeue_strategy: DequeueStrategy | str = DequeueStrategy.DEFAULT) -> bool:
        """Work as RQ's ``work()`` does, batched; True when any job ran."""
        self.set_dequeue_strategy(dequeue_strategy)  # type: ignore[attr-defined]  # bad input: before anything
        setup_loghandlers(logging_level or "INFO", date_format, log_format, name="workers")
        self.bootstrap(logging_level, date_format, log_format)  # type: ignore[attr-defined]  # RQ's registration
        self.set_state("idle")  # type: ignore[attr-defined]
        scheduler = (ScheduledJobs(self.connection, tuple(self.queue_names()),  # type: ignore[attr-defined]
                                   self.serializer, logging_level or "INFO")  # type: ignore[attr-defined]
                     if with_scheduler else None)
        self.scheduler = scheduler.rq_scheduler if scheduler else None  # where RQ's code looks for it
        ticker = _Ticker(scheduler, burst)
        try:
            ticker.start()
            with _StopSignals(self):
                done = self.run(burst=burst, max_jobs=max_jobs, max_idle_s=max_idle_time)  # type: ignore[attr-defined]
        finally:
            ticker.stop()
        return bool(done)


class _Ticker:
    """RQ's scheduler as the supervisor runs it: one tick now, then as each tick asks, unless ``burst``."""

    def __init__(self, scheduler: ScheduledJobs | None, burst: bool) -> None:
        self._scheduler = scheduler
        self._burst = burst
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._scheduler is None:
            return
        wait = self._scheduler.tick()
        if not self._burst:
            self._thread = threading.Thread(target=self._loop, args=(wait,), name="rq-scheduler", daemon=True)
            self._thread.start()

    def _loop(self, wait: float) -> None:
        assert self._scheduler is not None
        while not self._stopped.wait(min(max(wait, 0.01), 1.0)):
            wait = self._scheduler.tick()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._scheduler is not None:
            self._scheduler.stop()


class _StopSignals:
    """SIGINT/SIGTERM: the first a warm stop, the next a cold one; the caller's handlers after.
    Off the main thread signals cannot be set: they are left alone (the caller stops us)."""

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, worker: Any) -> None:
        self._worker = worker
        self._saved: dict[int, Any] = {}
        self._first_at = 0.0

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._saved = {sig: signal.getsignal(sig) for sig in self._SIGNALS}
            for sig in self._SIGNALS:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if not self._worker._stop_requested:
            log.info("worker %s: %s: stopping after the job in hand (again to stop at once)",
                     self._worker.name, signal.Signals(signum).name)
            self._worker._on_sigterm(signum, frame)
            self._first_at = time.monotonic()
            return
        if time.monotonic() - self._first_at < REPEAT_WINDOW_S:
            return  # as RQ: a second signal within a second is the same request (a pool forwards both)
        raise ColdShutdown(f"worker {self._worker.name}: stopped at once by a second {signal.Signals(signum).name}")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
