"""What RQ's worker loop does between jobs, done by the batch loop too: ``rq suspend`` and the
pub/sub commands (``rq.command.send_shutdown_command`` and friends).

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

log = logging.getLogger(__name__)


class RQControl:
    """Mixin: suspension and pub/sub commands for the batch loop (see the module docstring)."""

    #: Seconds between two reads of RQ's suspension flag.
    suspension_check_s = 1.0
    _next_suspension_check = 0.0
    _pubsub_refused = False
    _stop_requested: bool
    _shutdown_requested_date: Any
    pubsub_thread: Any
    name: str

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
        if payload.get("command") == "shutdown":
            log.info("worker %s: shutdown command received; stopping after the job in hand", self.name)
            self._stop_requested = True
            self._shutdown_requested_date = now()
            return
        super().handle_payload(message)  # type: ignore[misc]  # stop-job, kill-horse: RQ's handling

    def _stop_control(self) -> None:
        if self.pubsub_thread is None:
            return
        try:
            self.unsubscribe()  # type: ignore[attr-defined]
        except TRANSIENT_ERRORS as exc:
            log.debug("worker %s: unsubscribe failed: %s", self.name, exc)
