"""The loop a ``local://`` worker process runs.

The parent sends batches of calls over a pipe and reads results back in batches, so a tiny job
costs a few microseconds of pipe traffic, not a round trip. Before each call the child writes
the call's sequence number into shared memory (``current``): when the child dies, the parent
reads it and knows which call killed it, so only that call is counted as lost. ``started``
keeps the last call begun, so a call waiting in the pipe does not read as started.

The child ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides), and
exits when its pipe closes or its parent goes away.
"""

from __future__ import annotations

import enum
import os
import pickle
import signal
import time
import traceback
from typing import Any, NamedTuple

from ..progress import Progress, Throttle, set_local_sink


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

#: A child flushes finished results at least this often while a batch runs (seconds).
FLUSH_INTERVAL = 0.02
#: How often an idle child checks that its parent still lives (seconds).
PARENT_CHECK_INTERVAL = 1.0


class JobTimeoutError(Exception):
    """The job ran past the timeout it was enqueued with."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise JobTimeoutError("the job ran past its timeout and was stopped")


def _error(exc: BaseException, index: int | None = None) -> RemoteError:
    return RemoteError(type(exc).__name__, str(exc), traceback.format_exc(), index)


def _run_call(func: Any, payload: bytes, loads: Any, dumps: Any) -> tuple[Outcome, Any]:
    args, kwargs = loads(payload)
    try:
        value = func(*args, **kwargs)
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
            results.append(func(*item) if star else func(item))
        except BaseException as exc:  # noqa: BLE001 - reported with the item's index
            if isinstance(exc, KeyboardInterrupt):
                raise
            return Outcome.ERROR, _error(exc, index)
    try:
        return Outcome.OK, dumps(results)
    except Exception as exc:  # noqa: BLE001
        return Outcome.UNSERIALIZABLE, f"a result cannot be serialized: {type(exc).__name__}: {exc}"


def child_main(conn: Any, current: Any, started: Any, serializer: Any, parent_pid: int) -> None:
    """Run batches until the pipe closes or a ``None`` batch asks us to stop."""
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
        done: list[ResultItem] = []
        last_flush = monotonic()
        for seq, kind, func_blob, payload, timeout in batch:
            func = functions.get(func_blob)
            current.value = started.value = sink.seq = seq
            try:
                if func is None:
                    func = functions[func_blob] = pickle.loads(func_blob)
                if timeout:
                    signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    if kind == Kind.CALL:
                        status, data = _run_call(func, payload, loads, dumps)
                    else:
                        status, data = _run_chunk(func, payload, loads, dumps, kind == Kind.STARCHUNK)
                finally:
                    if timeout:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            except BaseException as exc:  # noqa: BLE001 - a function that cannot load, or a late alarm
                if isinstance(exc, KeyboardInterrupt):
                    raise
                status, data = Outcome.ERROR, _error(exc)
            current.value = sink.seq = 0
            done.append(ResultItem(seq, status, data))
            if monotonic() - last_flush > FLUSH_INTERVAL:
                conn.send_bytes(pickle.dumps(done, pickle.HIGHEST_PROTOCOL))
                done = []
                last_flush = monotonic()
        if done:
            conn.send_bytes(pickle.dumps(done, pickle.HIGHEST_PROTOCOL))
