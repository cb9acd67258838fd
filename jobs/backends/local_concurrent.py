"""The loop of a concurrent ``local://`` worker process (``?threads=T`` / ``?max_async=M``).

The sequential child (:mod:`.local_child`) runs one call at a time: the fastest for CPU-bound
calls, but ten calls that each wait 1 s on the network take 10 s. This child runs every call it
receives at once: a plain function on one of T threads, an ``async def`` one on the process's
one event loop (:class:`jobs.event_loop.JobLoop`, up to M coroutines). The parent sends only
what fits (``ProcessPool._assign_concurrent``), so nothing waits here behind a running call and
there are no tickets to claim or take back. A chunk of a map of an ``async def`` function is one
async call whose items are awaited one after another. A plain function whose call returns a
coroutine has that coroutine run with ``asyncio.run`` on its thread.

Shared memory: ``current`` holds an entry for each call that may run at once; the main thread
writes a call's ``seq`` into a free entry before it hands the call over (then its ticket into
``started``), and the call's thread clears it once its result is queued. When this process dies,
the parent charges a loss to every ``seq`` in the array and to no other call.

Timeouts: a thread cannot take SIGALRM, so the main thread is also the watchdog (every
:data:`WATCH_INTERVAL`): it raises :class:`JobTimeoutError` into the thread of a call past its
timeout (:func:`jobs.thread_exceptions.raise_in_thread`); the event loop cancels a coroutine
past its own. A call still running :data:`TIMEOUT_GRACE` after its timeout is stuck in a C call
(``time.sleep``, a coroutine blocking the loop) and cannot be stopped: the watchdog reports it
as timed out, clears every entry (the calls merely sharing the process go back without a loss)
and ends the process, which the parent replaces.

Results are queued by the threads and the loop and sent in batches by the main thread, at most
every :data:`FLUSH_INTERVAL` while other calls run, at once when none does.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import pickle
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import wait as wait_for_ready
from typing import Any, NoReturn

from ..event_loop import AsyncTimeout, JobLoop
from ..progress import Progress, Throttle, set_local_sink
from ..remote_errors import dumps_exception
from ..thread_exceptions import cancel_pending, raise_in_thread
from .local_child import (
    FLUSH_INTERVAL,
    PARENT_CHECK_INTERVAL,
    TIMEOUT_MESSAGE,
    CallItem,
    JobTimeoutError,
    Kind,
    Outcome,
    ProgressItem,
    RemoteError,
    ResultItem,
    _error,
    _run_call,
    _run_chunk,
    _send,
)

__all__ = ["concurrent_main", "TIMEOUT_GRACE", "WATCH_INTERVAL"]

#: Seconds past its timeout a call may go on (a raised exception lands at its next Python line)
#: before the watchdog calls it stuck and ends the process.
TIMEOUT_GRACE = 1.0
#: How often the watchdog looks at running calls (seconds).
WATCH_INTERVAL = 0.05

#: The call whose code runs in this thread or coroutine, for progress reports.
_current_seq: contextvars.ContextVar[int] = contextvars.ContextVar("jobfleet_local_seq", default=0)


class _Running:
    """One call handed over: its entry in ``current`` and, for the watchdog, its deadline."""

    __slots__ = ("seq", "entry", "timeout", "deadline", "thread_id", "raised")

    def __init__(self, seq: int, entry: int, timeout: float | None) -> None:
        self.seq, self.entry, self.timeout = seq, entry, timeout
        self.deadline = 0.0  # time.monotonic(); 0: not begun, or no timeout
        self.thread_id = 0  # its thread while it is inside the job's code (0: on the loop, or out of it)
        self.raised = False  # JobTimeoutError was sent into its thread


def _timed_out(item: int | None = None) -> tuple[Outcome, RemoteError]:
    """The outcome the sequential child reports for a call stopped at its timeout."""
    exc = JobTimeoutError(TIMEOUT_MESSAGE)
    return Outcome.ERROR, RemoteError("JobTimeoutError", TIMEOUT_MESSAGE, f"{JobTimeoutError.__name__}: "
                                      f"{TIMEOUT_MESSAGE}\n", item, dumps_exception(exc))


class _Sink:
    """Progress of whichever call reports it (a context variable), throttled per call."""

    def __init__(self, child: ConcurrentChild) -> None:
        self._child = child
        self.throttles: dict[int, Throttle] = {}

    def __call__(self, progress: Progress) -> bool:
        seq = _current_seq.get()
        if not seq:
            return False
        throttle = self.throttles.setdefault(seq, Throttle())
        if throttle.allow(seq, progress):
            self._child.send([ProgressItem(seq, progress)])
        return True


class ConcurrentChild:
    """Runs calls at once on threads and an event loop (see the module docstring)."""

    def __init__(self, conn: Any, current: Any, started: Any, serializer: Any, parent_pid: int,
                 threads: int, max_async: int) -> None:
        self.conn, self.current, self.started, self.parent_pid = conn, current, started, parent_pid
        self.loads, self.dumps = serializer.loads, serializer.dumps
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="jobfleet-local-thread")
        self.loop = JobLoop("jobfleet-local-async") if max_async else None
        self.lock = threading.Lock()  # running, free, results
        self.send_lock = threading.Lock()  # the pipe, written by the main thread and progress reports
        self.running: dict[int, _Running] = {}
        self.free = list(range(len(current) - 1, -1, -1))
        self.results: list[ResultItem] = []
        self.functions: dict[bytes, Any] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.woken = False
        self.sink = _Sink(self)

    # -- the main thread ------------------------------------------------------------------

    def run(self) -> None:
        """Start what arrives, send what ended, watch the clocks; return on a ``None`` batch once
        every call ended, end the process at once when the pipe closes or the parent died."""
        stopping, last_flush, last_check = False, time.monotonic(), time.monotonic()
        while not (stopping and not self.running and not self.results):
            waitables = [self.wake_r] if stopping else [self.conn, self.wake_r]
            for ready in wait_for_ready(waitables, self._wait_time(last_flush)):
                if ready is self.conn:
                    batch = self._receive()
                    stopping = batch is None
                    if batch is not None:
                        self._start_batch(*batch)
                elif ready == self.wake_r:
                    os.read(self.wake_r, 4096)
                    self.woken = False
            now = time.monotonic()
            if self.results and (not self.running or now - last_flush >= FLUSH_INTERVAL or stopping):
                self._flush()
                last_flush = now
            self._watch(now)
            if now - last_check > PARENT_CHECK_INTERVAL:
                last_check = now
                if os.getppid() != self.parent_pid:
                    self._quit()
        self.executor.shutdown(wait=True)
        if self.loop is not None:
            self.loop.close()

    def _wait_time(self, last_flush: float) -> float:
        if self.results:
            return max(0.0, min(WATCH_INTERVAL, last_flush + FLUSH_INTERVAL - time.monotonic()))
        return WATCH_INTERVAL

    def _receive(self) -> Any:
        try:
            return pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self._quit()

    def _quit(self) -> NoReturn:
        """The parent is gone: nobody waits for the calls still running."""
        os._exit(0)

    def _start_batch(self, first_ticket: int, calls: list[tuple[CallItem, bool]]) -> None:
        for ticket, (call, is_async) in enumerate(calls, first_ticket):
            with self.lock:
                entry = self.free.pop()  # the parent sends no more than there are entries
                running = self.running[call.seq] = _Running(call.seq, entry, call.timeout)
            self.current[entry] = call.seq
            self.started.value = ticket
            if is_async and self.loop is not None:
                self._start_async(running, call)
            else:
                self.executor.submit(self._in_thread, running, call)

    def _flush(self) -> None:
        with self.lock:
            done, self.results = self.results, []
        self.send(done)

    def send(self, items: list[Any]) -> None:
        """One pipe message, from any thread (after flushing what the calls printed)."""
        with self.send_lock:
            try:
                _send(self.conn, items)
            except OSError:
                pass  # the parent went away; this process ends soon

    def _watch(self, now: float) -> None:
        """Raise a timeout into each call's thread past its deadline; end the process when one is
        stuck past the grace."""
        stuck = []
        with self.lock:
            for running in self.running.values():
                if not running.deadline or now < running.deadline:
                    continue
                if running.thread_id and not running.raised:
                    running.raised = True
                    raise_in_thread(running.thread_id, JobTimeoutError)
                if now > running.deadline + TIMEOUT_GRACE:
                    stuck.append(running)
        if stuck:
            self._end_stuck(stuck)

    def _end_stuck(self, stuck: list[_Running]) -> None:
        """Report the stuck calls as timed out, free every other one it runs (they go back to
        the parent's queue without a loss), and end the process."""
        with self.lock:
            done, self.results = self.results, []
            for index in range(len(self.current)):
                self.current[index] = 0
        self.send(done + [ResultItem(r.seq, *_timed_out()) for r in stuck])
        os._exit(1)

    # -- the calls ------------------------------------------------------------------------

    def _function(self, blob: bytes) -> Any:
        func = self.functions.get(blob)
        if func is None:
            func = self.functions[blob] = pickle.loads(blob)
        return func

    def _in_thread(self, running: _Running, call: CallItem) -> None:
        _current_seq.set(call.seq)
        try:
            try:
                outcome = self._perform(running, call)
            finally:
                self._leave(running)
        except JobTimeoutError:  # landed outside the job's own code
            outcome = _timed_out()
        if running.raised and outcome[0] == Outcome.ERROR and outcome[1].exc_type == "JobTimeoutError":
            outcome = _timed_out(outcome[1].item)
        self._finish(running, outcome)
        _current_seq.set(0)

    def _perform(self, running: _Running, call: CallItem) -> tuple[Outcome, Any]:
        with self.lock:
            running.thread_id = threading.get_ident()
            running.deadline = time.monotonic() + call.timeout if call.timeout else 0.0
        try:
            func = self._function(call.func_blob)
        except Exception as exc:  # noqa: BLE001 - a function that cannot load is the call's error
            return Outcome.ERROR, _error(exc)
        if call.kind == Kind.CALL:
            return _run_call(func, call.payload, self.loads, self.dumps)
        return _run_chunk(func, call.payload, self.loads, self.dumps, call.kind == Kind.STARCHUNK)

    def _leave(self, running: _Running) -> None:
        """Out of the job's code: no timeout may be raised for it now, and none pending stays."""
        while True:
            try:
                with self.lock:
                    thread_id, running.thread_id = running.thread_id, 0
                    if running.raised and thread_id:
                        cancel_pending(thread_id)
                return
            except JobTimeoutError:
                continue  # it landed after the call returned: the call is over, its outcome stands

    def _finish(self, running: _Running, outcome: tuple[Outcome, Any]) -> None:
        """Queue the result, free the call's entry, and wake the main thread to send it."""
        with self.lock:
            self.results.append(ResultItem(running.seq, *outcome))
            self.current[running.entry] = 0
            self.free.append(running.entry)
            del self.running[running.seq]
            self.sink.throttles.pop(running.seq, None)
        if not self.woken:
            self.woken = True
            try:
                os.write(self.wake_w, b"x")
            except BlockingIOError:
                pass

    def _start_async(self, running: _Running, call: CallItem) -> None:
        assert self.loop is not None
        try:
            func = self._function(call.func_blob)
            payload = self.loads(call.payload)
        except Exception as exc:  # noqa: BLE001
            self._finish(running, (Outcome.ERROR, _error(exc)))
            return
        running.deadline = time.monotonic() + call.timeout if call.timeout else 0.0
        coro = _async_body(call.seq, func, call.kind, payload, self.dumps)
        future = self.loop.submit(coro, call.timeout).future
        future.add_done_callback(lambda done: self._finish(running, _async_outcome(done)))


def _async_outcome(future: Future[Any]) -> tuple[Outcome, Any]:
    try:
        outcome: tuple[Outcome, Any] = future.result()
        return outcome
    except AsyncTimeout:
        return _timed_out()
    except BaseException as exc:  # noqa: BLE001 - cancelled: it cannot run to its end
        return Outcome.ERROR, _error(exc)


async def _async_body(seq: int, func: Any, kind: Kind, payload: Any, dumps: Any) -> tuple[Outcome, Any]:
    """The call (or the chunk's items, one after another) on the loop; its outcome, as the
    sequential child reports it. Cancellation (its timeout) goes through."""
    _current_seq.set(seq)  # this task's own context
    items = [payload] if kind == Kind.CALL else payload
    values = []
    for index, item in enumerate(items):
        try:
            if kind == Kind.CALL:
                value = func(*item[0], **item[1])
            else:
                value = func(*item) if kind == Kind.STARCHUNK else func(item)
            if asyncio.iscoroutine(value):
                value = await value
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the job's own failure, reported to the parent
            return Outcome.ERROR, _error(exc, None if kind == Kind.CALL else index)
        values.append(value)
    result = values[0] if kind == Kind.CALL else values
    try:
        return Outcome.OK, dumps(result)
    except Exception as exc:  # noqa: BLE001 - pickle/json raise many types
        return Outcome.UNSERIALIZABLE, f"the result ({type(result).__name__}) cannot be serialized: {type(exc).__name__}: {exc}"


def concurrent_main(conn: Any, current: Any, started: Any, serializer: Any, parent_pid: int,
                    threads: int, max_async: int) -> None:
    """A concurrent worker process's body: batches are ``(first ticket, [(CallItem, is_async), ...])``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = ConcurrentChild(conn, current, started, serializer, parent_pid, threads, max_async)
    set_local_sink(child.sink)
    child.run()
