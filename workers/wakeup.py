"""Wake an idle worker the moment a job lands on any of its queues, without taking the job.

With one queue the worker blocks in ``BLMOVE queue → held list``: the id is held the moment it
leaves the queue. Redis has no blocking move from several lists, and ``BLMPOP`` takes the id
off the queue a round trip before the dequeue script could record it as held: a worker killed
in between lost that job. So with several queues the worker never blocks on the queues
themselves. It asks Redis to tell it when they change (client tracking in broadcast mode,
Redis 6+: an invalidation message on ``__redis__:invalidate`` whenever a key starting with
one of the queue keys is written), waits for that message, then claims with the same atomic
dequeue script as always, which keeps the queues' priority order.

A stop (RQ's shutdown command, which arrives on another thread) must not wait for the idle
timeout either: :meth:`QueueWakeup.interrupt` publishes on the worker's own wake channel, which
the listener is subscribed to as well, and :class:`BlockingMove` runs the one-queue BLMOVE on a
connection of its own, so :meth:`BlockingMove.interrupt` can end it with ``CLIENT UNBLOCK``
(as if it timed out: nothing moved, nothing lost). Without the ACL rights for those, the
worker notices the stop when its wait times out (``block_timeout_s``).

Notifications that arrive while the worker is busy are drained before each claim, so none is
missed (a job enqueued after the drain is either claimed by that very claim or wakes the wait
after it) and none makes the worker spin. When Redis refuses tracking (an ACL without
``client|tracking``, an old server) the worker says so once and polls every
:data:`POLL_INTERVAL_S` instead, still with the atomic claim.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import redis

from jobs.backends.redis_errors import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

CHANNEL = "__redis__:invalidate"
#: Seconds between claims when Redis cannot notify us.
POLL_INTERVAL_S = 0.05


def tracking_prefixes(queue_keys: list[str]) -> list[str]:
    """The queue keys as BCAST prefixes: Redis refuses overlapping prefixes, and a shorter key
    already covers a longer one it starts (a spurious wake-up is only a wasted claim)."""
    ordered = sorted(set(queue_keys), key=len)
    kept: list[str] = []
    for key in ordered:
        if not any(key.startswith(shorter) for shorter in kept):
            kept.append(key)
    return kept


class QueueWakeup:
    """Waits for a write to any of ``queue_keys``; see the module docstring."""

    def __init__(self, client: redis.Redis, queue_keys: list[str], wake_channel: str = "") -> None:
        self._client = client
        self._wake_channel = wake_channel
        self._prefixes = tracking_prefixes(queue_keys)
        self._listener: Any = None  # RESP2 connection subscribed to CHANNEL
        self._interrupted = False
        self._tracker: Any = None  # the connection whose tracking redirects there
        self._polling = False

    def drain(self) -> None:
        """Forget the notifications that arrived while the worker was busy."""
        listener = self._listener
        if listener is None:
            return
        try:
            while listener.can_read(timeout=0):
                listener.read_response()
        except TRANSIENT_ERRORS + (OSError,):
            self.close()

    def wait(self, timeout: float) -> None:
        """Return when a queue was written to, or after ``timeout`` seconds (or a poll interval)."""
        if self._interrupted:
            return
        if self._polling:
            time.sleep(min(timeout, POLL_INTERVAL_S))
            return
        try:
            if self._listener is None:
                self._connect()
                return  # a job may have come while we connected: claim once before waiting
            if self._listener.can_read(timeout=timeout):
                self._listener.read_response()
        except redis.exceptions.ResponseError as exc:  # tracking refused: poll instead, say so once
            log.warning("Redis refused client tracking (%s): idle workers poll their queues every %.0f ms "
                        "instead of being woken (grant client|id, client|tracking and subscribe to %s)",
                        exc, POLL_INTERVAL_S * 1000, CHANNEL)
            self.close()
            self._polling = True
        except TRANSIENT_ERRORS + (OSError,):
            self.close()
            raise redis.exceptions.ConnectionError("the queue wake-up connection was lost") from None

    def _connect(self) -> None:
        pool = self._client.connection_pool
        listener: Any = pool.make_connection()
        listener.protocol = 2  # invalidations arrive as plain pub/sub messages in RESP2
        tracker = pool.make_connection()
        try:
            listener.connect()
            listener.send_command("CLIENT", "ID")
            client_id = listener.read_response()
            channels = [CHANNEL, self._wake_channel] if self._wake_channel else [CHANNEL]
            listener.send_command("SUBSCRIBE", *channels)
            for _ in channels:
                listener.read_response()
            tracker.connect()
            args: list[Any] = ["CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST"]
            for prefix in self._prefixes:
                args += ["PREFIX", prefix]
            tracker.send_command(*args)
            tracker.read_response()
        except BaseException:
            listener.disconnect()
            tracker.disconnect()
            raise
        self._listener, self._tracker = listener, tracker

    def interrupt(self) -> None:
        """From another thread: end a :meth:`wait` now, and every later one (a stop was asked for)."""
        self._interrupted = True  # a wait about to start, or a drain that ate the message, still sees it
        if self._listener is not None and self._wake_channel:
            _quietly(lambda: self._client.publish(self._wake_channel, "stop"), "wake-up")

    def close(self) -> None:
        for connection in (self._listener, self._tracker):
            if connection is not None:
                connection.disconnect()
        self._listener = self._tracker = None


class BlockingMove:
    """``BLMOVE source → destination`` on a connection of its own, which another thread may cut
    short with ``CLIENT UNBLOCK`` (see the module docstring)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._connection: Any = None
        self._client_id: int | None = None
        self._interrupted = False

    def move(self, source: str, destination: str, timeout: float) -> str | None:
        """The id moved, or None when ``timeout`` ran out or :meth:`interrupt` ended the wait."""
        try:
            connection = self._connect()
            if self._interrupted:
                return None
            connection.send_command("BLMOVE", source, destination, "LEFT", "RIGHT", timeout)
            reply = connection.read_response()
        except redis.exceptions.ResponseError:
            raise
        except TRANSIENT_ERRORS + (OSError,):
            self.close()
            raise redis.exceptions.ConnectionError("the blocking dequeue connection was lost") from None
        return None if reply is None else reply.decode() if isinstance(reply, bytes) else str(reply)

    def _connect(self) -> Any:
        if self._connection is None:
            connection: Any = self._client.connection_pool.make_connection()
            try:
                connection.connect()
                connection.send_command("CLIENT", "ID")
                self._client_id = int(connection.read_response())
            except BaseException:
                connection.disconnect()
                raise
            self._connection = connection
        return self._connection

    def interrupt(self) -> None:
        """From another thread: end a :meth:`move` now, as if it timed out, and every later one.

        The move may not have reached Redis yet when CLIENT UNBLOCK does: try again for a moment."""
        self._interrupted = True
        for _ in range(_UNBLOCK_TRIES):
            client_id = self._client_id
            if client_id is not None and _quietly(partial(self._client.client_unblock, client_id), "CLIENT UNBLOCK"):
                return
            time.sleep(0.01)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.disconnect()
        self._connection, self._client_id = None, None


#: Attempts (10 ms apart) to unblock a move that may not have reached Redis yet.
_UNBLOCK_TRIES = 20


def _quietly(call: Any, what: str) -> Any:
    """A wake-up that fails (Redis down, an ACL without the command) only costs the idle timeout."""
    try:
        return call()
    except redis.exceptions.RedisError as exc:
        log.debug("%s failed (%s): the worker notices the stop within its idle timeout", what, exc)
        return None
