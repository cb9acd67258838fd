"""What ``jobs.Pool`` hands back: ``AsyncResult`` and ``imap``'s iterator, and the exceptions they raise.

Both are completed by the pool's watcher thread (:mod:`jobs.watch`) or by a thread collecting a
map, and raise what ``multiprocessing`` raises (:func:`as_raised`).
"""

from __future__ import annotations

import logging
import queue as queue_module
import threading
from collections.abc import Callable, Iterator
from multiprocessing import TimeoutError as PoolTimeoutError
from multiprocessing.pool import MaybeEncodingError  # type: ignore[attr-defined]  # typeshed omits it
from typing import Any, Protocol

from .errors import JobFailed, SerializationError
from .remote_errors import original
from .rq_format.results import UnserializableResult

__all__ = ["AsyncResult", "MapResult", "ApplyResult", "IMapIterator", "as_raised", "reraise"]

log = logging.getLogger(__name__)
_END = object()


class _Owner(Protocol):
    """The pool a result belongs to: it counts what is outstanding, for ``join()``."""

    def _started(self, result: Any) -> None: ...

    def _ended(self, result: Any) -> None: ...


def as_raised(exc: BaseException) -> BaseException:
    """The exception the standard library raises for this failure (see :func:`jobs.remote_errors.original`):
    an argument that cannot be pickled raises pickle's own error (jobfleet's message as its cause), a
    result that cannot be pickled ``multiprocessing.pool.MaybeEncodingError``."""
    if isinstance(exc, SerializationError) and not isinstance(exc, JobFailed):
        if exc.__cause__ is not None:  # raised here, while pickling the arguments
            cause = exc.__cause__
            cause.__cause__ = exc
            return cause
        return _result_error(exc)
    if isinstance(exc, UnserializableResult):
        return _result_error(exc)
    return original(exc)


def _result_error(exc: BaseException) -> BaseException:
    error = MaybeEncodingError(exc, "the job's result")
    error.__cause__ = exc
    return error


def reraise(exc: BaseException) -> None:
    raised = as_raised(exc)
    if raised is exc:
        raise exc
    raise raised from raised.__cause__


class AsyncResult:
    """``multiprocessing.pool.AsyncResult``: ``get(timeout)``, ``wait``, ``ready``, ``successful``.

    The callback (or error callback) runs in the pool's watcher thread before ``get`` returns, as
    in ``multiprocessing``; it must be quick.
    """

    def __init__(self, pool: _Owner, callback: Callable[[Any], object] | None = None,
                 error_callback: Callable[[BaseException], object] | None = None) -> None:
        self._pool = pool
        self._event = threading.Event()
        self._callback, self._error_callback = callback, error_callback
        self._success = False
        self._value: Any = None
        self.jobs: list[str] = []  # the ids terminate() cancels
        pool._started(self)

    def ready(self) -> bool:
        return self._event.is_set()

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._success

    def wait(self, timeout: float | None = None) -> None:
        self._event.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The value, or raise the task's exception; ``multiprocessing.TimeoutError`` after ``timeout`` s."""
        self.wait(timeout)
        if not self.ready():
            raise PoolTimeoutError
        if self._success:
            return self._value
        raise self._value

    def _set(self, ok: bool, value: Any) -> None:
        if self._event.is_set():
            return
        if not ok:
            value = as_raised(value)
        self._success, self._value = ok, value
        callback = self._callback if ok else self._error_callback
        if callback is not None:
            try:
                callback(value)
            except Exception:  # noqa: BLE001 - as multiprocessing: a failing callback does not stop the pool
                log.exception("a Pool callback raised")
        self._event.set()
        self._pool._ended(self)


#: ``map_async`` and ``starmap_async`` return one of these, as ``multiprocessing`` does.
MapResult = AsyncResult
ApplyResult = AsyncResult


class IMapIterator(Iterator[Any]):
    """``imap``'s iterator: ``next(timeout)`` raises ``multiprocessing.TimeoutError`` when the next
    result takes longer; a failing item raises its exception there and ends the iteration."""

    def __init__(self, pool: _Owner) -> None:
        self._pool = pool
        self._items: queue_module.SimpleQueue[tuple[bool, Any]] = queue_module.SimpleQueue()
        self._finished = False
        self._event = threading.Event()
        self.jobs: list[str] = []
        pool._started(self)

    def next(self, timeout: float | None = None) -> Any:
        if self._finished:
            raise StopIteration
        try:
            ok, value = self._items.get(timeout=timeout)
        except queue_module.Empty:
            raise PoolTimeoutError from None
        if value is _END:
            self._finished = True
            raise StopIteration
        if not ok:
            self._finished = True
            reraise(value)
        return value

    __next__ = next

    def wait(self, timeout: float | None = None) -> None:
        self._event.wait(timeout)

    def _feed(self, results: Iterator[Any], trailing_error: BaseException | None) -> None:
        try:
            for value in results:
                self._items.put((True, value))
            if trailing_error is not None:
                self._items.put((False, trailing_error))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._items.put((False, exc))
        self._items.put((True, _END))
        self._event.set()
        self._pool._ended(self)
