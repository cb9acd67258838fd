"""What RQ's worker loop does between jobs, done by the batch loop too: ``rq suspend`` and the
pub/sub commands (``rq.command.send_shutdown_command`` and friends).

RQ's horse commands need no horse here. ``send_stop_job_command(connection, job_id)`` stops
that job: when it is running, :mod:`workers.job_runner` raises ``JobInterrupted`` in it (a
signal to the main thread, or straight into the job's thread with ``--threads``); when it is
still waiting in the batch this worker holds, it never starts. Either way RQ's failure handling records it ``stopped``
(failed registry, never retried), as RQ does. ``send_kill_horse_command(connection, worker)``
interrupts the running job(s) the same way, and RQ's rules then apply as to a job whose horse
was killed: it fails, and is retried when it has retries left. A job that sets its own handler
for SIGUSR1 cannot be interrupted this way.

:class:`RQControl` is a mixin for :class:`workers.worker.BatchWorker`. Suspension is read at most
once a second (one ``EXISTS``; RQ reads it before every job, which would add a command to every
batch), so a worker notices ``rq suspend`` within about a second and finishes the batch in hand.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from rq.command import parse_payload
from rq.exceptions import StopRequested
from rq.utils import now

from jobs.backends.redis_errors import TRANSIENT_ERRORS

from .wakeup import BlockingMove, QueueWakeup

log = logging.getLogger(__name__)

#: The failure text of a job stopped before it started.
STOPPED_BEFORE_START = "Job stopped by user (rq stop-job command) before it started"


class RQControl:
    """Mixin: suspension and pub/sub commands for the batch loop (see the module docstring)."""

    #: Seconds between two reads of RQ's suspension flag.
    suspension_check_s = 1.0
    _next_suspension_check = 0.0
    _pubsub_refused = False
    _stop_requested: bool
    _shutdown_requested_date: Any
    _stopped_job_id: str | None
    _held: list[tuple[str, str]]
    pubsub_thread: Any
    name: str
    _blocking: BlockingMove
    _wakeup: QueueWakeup
    _runner: Any  # workers.job_runner: runs the jobs, and interrupts them
    _stop_unstarted: frozenset[str] = frozenset()

    def _may_take(self, burst: bool) -> bool:
        """False when the loop must stop: suspended in burst mode, as RQ's ``check_for_suspension``.
        While suspended otherwise, this waits (state ``suspended``) until ``rq resume`` or a stop."""
        if self.pubsub_thread is None and not self._pubsub_refused:
            self._subscribe()
        clock = time.monotonic()
        if clock < self._next_suspension_check:
            return True
        try:
            self.check_for_suspension(burst)  # type: ignore[attr-defined]
        except StopRequested:
            return False
        self._next_suspension_check = time.monotonic() + self.suspension_check_s
        return True

    def _subscribe(self) -> None:
        try:
            self.subscribe()  # type: ignore[attr-defined]  # RQ's: a thread on rq:pubsub:<name>
        except redis.exceptions.NoPermissionError as exc:  # an ACL without the channel: work on
            self._pubsub_refused = True
            log.warning("worker %s: cannot subscribe to RQ's command channel (%s); RQ's commands "
                        "(send_shutdown_command) will not reach it (docs/security.md)", self.name, exc)

    def handle_payload(self, message: Any) -> None:
        """RQ's command handler, but ``shutdown`` is a warm stop flag: RQ sends itself SIGINT,
        which a supervised child ignores (the terminal's Ctrl-C is its supervisor's)."""
        payload = parse_payload(message)
        command = payload.get("command")
        if command == "shutdown":
            log.info("worker %s: shutdown command received; stopping after the job in hand", self.name)
            self._stop_requested = True
            self._shutdown_requested_date = now()
            self._wake_idle()
        elif command == "stop-job":
            self._stop_job(str(payload.get("job_id") or ""))
        elif command == "kill-horse":
            running = self._runner.running_ids()
            for job_id in running:  # the "horse" is whatever runs jobs here: each running job
                log.info("worker %s: kill-horse command: interrupting job %s", self.name, job_id)
                self._runner.interrupt(job_id)
            if not running:
                log.info("worker %s: kill-horse command: no job running, ignored", self.name)
        elif command == "stop-execution":
            log.warning("worker %s: stop-execution command ignored: a batch worker keeps no RQ executions; "
                        "use rq.command.send_stop_job_command", self.name)
        else:
            super().handle_payload(message)  # type: ignore[misc]

    def _wake_idle(self) -> None:
        """On the command thread: end an idle wait now (workers.wakeup), so a stop is not late."""
        self._blocking.interrupt()
        self._wakeup.interrupt()

    def _stop_job(self, job_id: str) -> None:
        """RQ's stop-job: the running job is interrupted; a held one never starts."""
        if job_id and job_id in self._runner.running_ids():
            self._stopped_job_id = job_id
            if self._runner.interrupt(job_id):
                log.info("worker %s: stop-job command: interrupting job %s", self.name, job_id)
                return
            self._stopped_job_id = None  # it ended meanwhile
        if job_id and any(held_id == job_id for _, held_id in self._held):
            self._stop_unstarted = self._stop_unstarted | {job_id}
            log.info("worker %s: job %s will be stopped before it starts", self.name, job_id)
            return
        log.warning("worker %s: not working on job %s, stop-job command ignored", self.name, job_id)

    def _stopped_before_start(self, job_id: str) -> bool:
        """True (and the job marked stopped for RQ's failure handling) when stop-job asked for it."""
        if job_id not in self._stop_unstarted:
            return False
        self._stop_unstarted = self._stop_unstarted - {job_id}
        self._stopped_job_id = job_id
        return True

    def _stop_control(self) -> None:
        if self.pubsub_thread is None:
            return
        try:
            self.unsubscribe()  # type: ignore[attr-defined]
        except TRANSIENT_ERRORS as exc:
            log.debug("worker %s: unsubscribe failed: %s", self.name, exc)
