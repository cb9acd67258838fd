"""The worker RQ's tests get in the ``batch`` mode: ``BatchWorker`` driven as ``workers supervise`` drives it.

RQ's tests call ``worker.work(burst=True, ...)``. ``BatchWorker`` inherits RQ's ``work()`` from
``SimpleWorker``, so calling it would test RQ's loop, not ours. :meth:`BatchWorkerAsRQ.work`
instead does what a ``workers supervise`` child does (``workers/child.py``: register, set the
state idle, :meth:`BatchWorker.run`) and what the supervisor does for it (RQ's scheduler, ticked
by ``workers/scheduling.py``). Options of RQ's ``work()`` that ``run()`` has no equivalent for
(``max_idle_time``, ``dequeue_strategy``, logging formats) are accepted and not honoured, as
under ``workers supervise``: the tests that need them show the gap.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from rq.worker import DequeueStrategy

from workers.scheduling import ScheduledJobs
from workers.worker import BatchWorker


class BatchWorkerAsRQ(BatchWorker):
    """``BatchWorker`` with RQ's ``work()`` signature; ``runs`` counts ``run()`` calls in this process."""

    runs = 0

    def work(self, burst: bool = False, logging_level: str | None = None, date_format: str = "",
             log_format: str = "", max_jobs: int | None = None, max_idle_time: int | None = None,
             with_scheduler: bool = False, dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT) -> bool:
        BatchWorkerAsRQ.runs += 1
        self.register_birth()
        self.set_state("idle")
        scheduled = (ScheduledJobs(self.connection, tuple(self.queue_names()), self.serializer, "WARNING")
                     if with_scheduler else None)
        self.scheduler = scheduled.rq_scheduler if scheduled else None  # where RQ's tests look for it
        ticking = _Ticker(scheduled, burst)
        try:
            ticking.start()
            with _child_signals(self):
                return bool(self.run(burst=burst, max_jobs=max_jobs))
        finally:
            ticking.stop()


class _Ticker:
    """RQ's scheduler as the supervisor runs it: one tick now, then one a second unless ``burst``."""

    def __init__(self, scheduler: ScheduledJobs | None, burst: bool) -> None:
        self._scheduler = scheduler
        self._burst = burst
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._scheduler is None:
            return
        self._scheduler.tick()
        if not self._burst:
            self._thread = threading.Thread(target=self._loop, name="rq-suite-scheduler", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        assert self._scheduler is not None
        while not self._stopped.wait(1.0):
            self._scheduler.tick()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._scheduler is not None:
            self._scheduler.stop()


class _child_signals:
    """A supervise child's signals (SIGINT ignored, SIGTERM a stop flag) while it runs, then the
    test process's own again; off the main thread signals cannot be set and are left alone."""

    def __init__(self, worker: BatchWorker) -> None:
        self._worker = worker
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            self._worker.install_child_signals()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
