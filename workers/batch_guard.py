"""Give back the unstarted rest of a batch, and write what it finished, when one of its jobs runs long.

A worker takes a batch sized from its recent jobs (64 no-ops at once), so a long job can sit in
a batch in front of short ones. Left alone, those short jobs would wait for it while another
worker idles (issue 14: 40 short jobs finishing behind a 3 s one). The worker's heartbeat
thread checks the running job every :data:`CHECK_INTERVAL_S`; once it has run
``release_after_s``, the jobs behind it in the batch go back to the front of their queues
(:func:`jobs.rq_format.writes.release_tail`), where any idle worker, or this one later, takes
them; and the outcomes of the jobs that ran before it are written now, not when it ends. One
lock orders this against the worker starting its next job, so a job is either started here or
given back, never both; while a job runs the worker's own thread touches neither its pending
outcomes nor its held list, so the heartbeat thread may write them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.rq_format.writes import release_tail

if TYPE_CHECKING:
    from .worker import BatchWorker

log = logging.getLogger(__name__)

#: How often the heartbeat thread looks at the running job (seconds).
CHECK_INTERVAL_S = 0.05


class BatchGuard:
    """The worker's side calls :meth:`begin`, :meth:`may_start` and :meth:`ended`; the heartbeat
    thread calls :meth:`check`."""

    def __init__(self, worker: BatchWorker, release_after_s: float) -> None:
        self._worker = worker
        self.release_after_s = release_after_s
        self._lock = threading.Lock()
        self._end = 0  # batch positions below this may start
        self._running: int | None = None
        self._since = 0.0
        self._handled: int | None = None  # the long-running position already dealt with

    def begin(self, size: int) -> None:
        with self._lock:
            self._end, self._running, self._handled = size, None, None

    def may_start(self, index: int) -> bool:
        """True (and the job counts as running) unless it was given back."""
        with self._lock:
            if index >= self._end:
                return False
            self._running, self._since = index, time.monotonic()
            return True

    def ended(self) -> None:
        with self._lock:
            self._running = None

    def check(self) -> None:
        """Deal with a long-running job's batch, once per job (heartbeat thread)."""
        if self._running is None or self._running == self._handled or time.monotonic() - self._since < self.release_after_s:
            return
        with self._lock:
            running = self._running
            if running is None or running == self._handled:
                return
            try:
                given_back = self._give_back_tail(running)
                self._worker._flush()
            except TRANSIENT_ERRORS as exc:
                log.debug("worker %s: could not settle the batch of a long job yet: %s", self._worker.name, exc)
                return
            self._handled = running
        if given_back:
            log.info("worker %s: gave back %d jobs queued behind a long-running one", self._worker.name, given_back)

    def _give_back_tail(self, running: int) -> int:
        count = self._end - running - 1
        if count <= 0:
            return 0
        worker = self._worker
        release_tail(worker.connection, worker.name, worker._held[-count:], worker.prefixes)
        worker._held = worker._held[:-count]
        self._end = running + 1
        return count
