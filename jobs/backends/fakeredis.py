"""``fakeredis://``: the Redis backend on an in-memory Redis inside this process, for users' tests.

Nothing runs in the background: jobs run in this process, in an RQ burst worker, when a result
is waited upon or :meth:`FakeRedisBackend.run_pending` is called. Jobs are still written by RQ
exactly as on a real server, so a test on ``fakeredis://`` exercises the same records.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import rq
from rq.timeouts import TimerDeathPenalty

from ..errors import ResultTimeout
from ..remote_errors import store_exception
from ..rq_format import results, scheduled, schedules
from .base import RunsInProcess
from .redis import RedisBackend
from .redis_errors import translated

__all__ = ["FakeRedisBackend"]

#: The burst worker logs here, not to stdout: job failures reach the caller as JobFailed.
inline_worker_log = logging.getLogger("jobs.inline_worker")
inline_worker_log.addHandler(logging.NullHandler())


class FakeRedisBackend(RedisBackend, RunsInProcess):
    """RQ jobs on fakeredis, run in this process; see the module docstring."""

    def __init__(self, url: str, name: str, serializer: object) -> None:
        super().__init__(url, name, serializer)
        self._run_lock = threading.Lock()

    def _describe_server(self) -> str:
        return "fakeredis"

    # -- waiting: run what is queued, never block (nothing else would write a result) ----------

    def _before_read(self) -> None:
        self.run_pending()

    def _block_ms(self, deadline: float | None, ids: list[str], outcomes: dict[str, results.FinalResult],
                  timeout: float | None) -> int | None:
        return None

    def _after_quiet_wait(self, pending: list[str], statuses: dict[str, str | None], deadline: float | None) -> None:
        """A job that did not end after a run: wait for it if it is scheduled within the deadline
        (a retry with an interval), else it can never progress here."""
        if self._sleep_until_due(pending, deadline):
            return
        raise ResultTimeout(
            f"{len(pending)} job(s) cannot progress on fakeredis:// (e.g. {pending[0]} is "
            f"{statuses.get(pending[0]) or 'unknown'}): fakeredis runs only this queue's jobs, in this process"
        )

    def _sleep_until_due(self, job_ids: list[str], deadline: float | None) -> bool:
        registry = self._queue.scheduled_job_registry
        with translated(self._server):
            scores = [registry.connection.zscore(registry.key, job_id) for job_id in job_ids]
        due = [score for score in scores if score is not None]
        if not due:
            return False
        wait_s = max(0.0, min(due) - time.time()) + 0.01
        if deadline is not None and time.monotonic() + wait_s > deadline:
            return False
        time.sleep(wait_s)
        return True

    # -- running ---------------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Run this queue's jobs now, in this process, with an RQ burst worker; return how many ran."""
        with self._run_lock:
            self._enqueue_due_scheduled()
            waiting = self._queue.count
            if not waiting:
                return 0
            in_main = threading.current_thread() is threading.main_thread()
            saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
            worker_class: type[rq.SimpleWorker] = rq.SimpleWorker if in_main else _ThreadSafeWorker
            worker = worker_class([self._queue], connection=self._client, serializer=self._serializer,
                                  exception_handlers=[store_exception])
            worker.log = inline_worker_log
            try:
                worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
            finally:
                for signum, handler in saved.items():
                    signal.signal(signum, handler)
            return int(waiting - self._queue.count)

    def _enqueue_due_scheduled(self) -> None:
        """What a supervisor would do in the background: due schedules' ticks and due scheduled
        jobs onto the queue."""
        with translated(self._server):
            schedules.fire_due(self._client, self._queue.name, self._serializer, time.time())
            scheduled.move_due(self._client, self._queue.name, self._serializer, time.time())


class _ThreadSafeWorker(rq.SimpleWorker):
    """A burst worker usable off the main thread: timeouts by timer, not by SIGALRM, and no
    signal handlers (only the main thread may install them; RQ's ``work`` would raise)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass
