"""The loop a ``local://`` worker process runs.

The parent sends batches of calls over a pipe and reads results back in batches, so a tiny job
costs a few microseconds of pipe traffic, not a round trip. Before each call the child writes
the call's sequence number into shared memory (``current``): when the child dies, the parent
reads it and knows which call killed it, so only that call is counted as lost. ``started``
keeps the last call begun, so a call waiting in the pipe does not read as started.

A call sent ahead (prefetched) may be taken back while it waits: each call of a batch has a
ticket, and the child claims the next ticket under a lock shared with the parent
(:class:`Claims`) before it runs the call. The parent takes back every ticket past the claimed
one when another worker is idle (see ``ProcessPool._steal``), so no call waits behind a long
one. The claim of the next call comes *before* the results of the previous one are sent: the
parent never sees a batch as settled while the child could still claim from it.

An ``async def`` function's coroutine is run here with ``asyncio.run``, one at a time (with
``?max_async=`` it goes to a concurrent worker's event loop instead, :mod:`.local_concurrent`).

The child ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides), and
exits when its pipe closes or its parent goes away.
"""

from __future__ import annotations

import asyncio
import enum
import os
import pickle
import signal
import sys
import time
import traceback
import types
from typing import Any, NamedTuple

from ..progress import Progress, Throttle, set_local_sink
from ..remote_errors import dumps_exception


class Kind(enum.IntEnum):
    """What a :class:`CallItem` carries: one call, or a chunk of a map's items."""

    CALL = 0
    CHUNK = 1
    STARCHUNK = 2  # a chunk of starmap: each item is an argument tuple


class Outcome(enum.IntEnum):
    """How a call ended: the child reports the first three, the parent adds the last two."""

    OK = 0
    ERROR = 1
    UNSERIALIZABLE = 2
    LOST = 3  # its worker died more than max_losses times
    BROKEN = 4  # the queue was closed or its dispatcher failed before it ran


class CallItem(NamedTuple):
    """Parent → child: run this. ``timeout`` in seconds, None for none."""

    seq: int
    kind: Kind
    func_blob: bytes
    payload: bytes
    timeout: float | None


class RemoteError(NamedTuple):
    """What a call raised; ``item`` is the failing item's position inside a chunk."""

    exc_type: str
    message: str
    traceback: str
    item: int | None = None
    pickled: bytes | None = None  # the exception itself, when it pickles (see jobs.remote_errors)


class ResultItem(NamedTuple):
    """Child → parent: call ``seq`` ended. ``data`` is the serialized value (OK), a
    :class:`RemoteError` (ERROR) or a reason (UNSERIALIZABLE)."""

    seq: int
    outcome: Outcome
    data: Any


class ProgressItem(NamedTuple):
    """Child → parent, while call ``seq`` runs: its latest :func:`jobs.report_progress`."""

    seq: int
    progress: Progress


class _PipeSink:
    """Sends the running call's progress reports to the parent, rate-limited (see :mod:`jobs.progress`)."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.seq, self.throttle = conn, 0, Throttle()

    def __call__(self, progress: Progress) -> bool:
        seq = self.seq
        if not seq:  # between calls: not inside a job
            return False
        if self.throttle.allow(seq, progress):
            try:
                self.conn.send_bytes(pickle.dumps([ProgressItem(seq, progress)], pickle.HIGHEST_PROTOCOL))
            except OSError:
                pass  # the parent went away; this process ends soon
        return True


class Claims:
    """Which prefetched call a child may start: tickets below ``limit``; ``claimed`` is the last
    one it took. Shared memory and a lock (a call costs ~1 µs more; a chunk of a map is one call)."""

    __slots__ = ("lock", "claimed", "limit")

    def __init__(self, ctx: Any) -> None:
        self.lock = ctx.Lock()
        self.claimed = ctx.RawValue("q", -1)
        self.limit = ctx.RawValue("q", 0)

    def claim(self, ticket: int) -> bool:
        """Child: take ``ticket`` unless the parent took it back."""
        with self.lock:
            if ticket >= self.limit.value:
                return False
            self.claimed.value = ticket
            return True


#: A child flushes finished results at least this often while a batch runs (seconds).
FLUSH_INTERVAL = 0.02
#: How often an idle child checks that its parent still lives (seconds).
PARENT_CHECK_INTERVAL = 1.0


class JobTimeoutError(Exception):
    """The job ran past the timeout it was enqueued with."""


#: What a call that ran past its timeout fails with, on every kind of worker.
TIMEOUT_MESSAGE = "the job ran past its timeout and was stopped"


def _on_alarm(signum: int, frame: Any) -> None:
    raise JobTimeoutError(TIMEOUT_MESSAGE)


def _error(exc: BaseException, index: int | None = None) -> RemoteError:
    return RemoteError(type(exc).__name__, str(exc), traceback.format_exc(), index, dumps_exception(exc))


def _run_call(func: Any, payload: bytes, loads: Any, dumps: Any) -> tuple[Outcome, Any]:
    args, kwargs = loads(payload)
    try:
        value = func(*args, **kwargs)
        if type(value) is types.CoroutineType:  # an async def job: as RQ runs it
            value = asyncio.run(value)
    except BaseException as exc:  # noqa: BLE001 - the job's own failure, reported to the parent
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Outcome.ERROR, _error(exc)
    try:
        return Outcome.OK, dumps(value)
    except Exception as exc:  # noqa: BLE001 - pickle/json raise many types
        return Outcome.UNSERIALIZABLE, f"the result ({type(value).__name__}) cannot be serialized: {type(exc).__name__}: {exc}"


def _run_chunk(func: Any, payload: bytes, loads: Any, dumps: Any, star: bool) -> tuple[Outcome, Any]:
    items = loads(payload)
    results = []
    for index, item in enumerate(items):
        try:
            value = func(*item) if star else func(item)
            results.append(asyncio.run(value) if type(value) is types.CoroutineType else value)
        except BaseException as exc:  # noqa: BLE001 - reported with the item's index
            if isinstance(exc, KeyboardInterrupt):
                raise
            return Outcome.ERROR, _error(exc, index)
    try:
        return Outcome.OK, dumps(results)
    except Exception as exc:  # noqa: BLE001
        return Outcome.UNSERIALIZABLE, f"a result cannot be serialized: {type(exc).__name__}: {exc}"


def _run_one(functions: dict[bytes, Any], func_blob: bytes, kind: Kind, payload: bytes, timeout: float | None,
             loads: Any, dumps: Any) -> tuple[Outcome, Any]:
    """One call (or chunk) under its timeout; a function that cannot load is the call's error."""
    try:
        func = functions.get(func_blob)
        if func is None:
            func = functions[func_blob] = pickle.loads(func_blob)
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            if kind == Kind.CALL:
                return _run_call(func, payload, loads, dumps)
            return _run_chunk(func, payload, loads, dumps, kind == Kind.STARCHUNK)
        finally:
            if timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # noqa: BLE001 - a function that cannot load, or a late alarm
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Outcome.ERROR, _error(exc)


def _send(conn: Any, done: list[ResultItem]) -> None:
    """Report finished calls, after flushing what they printed: a ``jobs.Process`` target's output
    is on the terminal before its ``join()`` returns (a worker lives on; its exit would be too late)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or replaced by the job
            pass
    conn.send_bytes(pickle.dumps(done, pickle.HIGHEST_PROTOCOL))


def child_main(conn: Any, current: Any, started: Any, serializer: Any, parent_pid: int, claims: Claims) -> None:
    """Run batches until the pipe closes or a ``None`` batch asks us to stop.

    A batch is ``(first ticket, [CallItem, ...])``; the calls' tickets follow on from the first.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    loads, dumps = serializer.loads, serializer.dumps
    functions: dict[bytes, Any] = {}
    monotonic = time.monotonic
    sink = _PipeSink(conn)
    set_local_sink(sink)
    while True:
        try:
            while not conn.poll(PARENT_CHECK_INTERVAL):
                if os.getppid() != parent_pid:
                    return
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        batch = pickle.loads(message)
        if batch is None:
            return
        first_ticket, calls = batch
        done: list[ResultItem] = []
        last_flush = monotonic()
        allowed = claims.claim(first_ticket)
        for index, (seq, kind, func_blob, payload, timeout) in enumerate(calls):
            if not allowed:
                break  # taken back by the parent: another worker runs it
            current.value = started.value = sink.seq = seq
            status, data = _run_one(functions, func_blob, kind, payload, timeout, loads, dumps)
            current.value = sink.seq = 0
            done.append(ResultItem(seq, status, data))
            allowed = index + 1 < len(calls) and claims.claim(first_ticket + index + 1)
            if not allowed or monotonic() - last_flush > FLUSH_INTERVAL:
                _send(conn, done)
                done = []
                last_flush = monotonic()
        if done:
            _send(conn, done)
