"""The job's own exception, carried back to the caller: what ``jobs.Pool`` and ``jobs.Executor`` raise.

``multiprocessing.Pool`` and ``concurrent.futures`` re-raise the exception the task raised, its
type and args, with the worker's traceback text as its ``__cause__`` (concurrent.futures'
``_RemoteTraceback``). jobfleet does the same on every backend:

- ``local://``: the worker process pickles the exception next to its traceback text.
- Redis: the RQ exception handler :func:`store_exception` pickles it into the job's ``meta``
  (key :data:`jobs.rq_format.markers.REMOTE_EXCEPTION`) before RQ writes the failure; RQ calls handlers
  first, so the client finds it as soon as it sees the failure. ``workers supervise`` and the
  fakeredis in-process worker install it; a plain RQ worker takes
  ``rq worker --exception-handler jobs.remote_errors.store_exception``.

An exception that cannot travel (not picklable, its class not importable by the caller, a
queue on the json serializer, a worker without the handler) arrives as :class:`jobs.JobFailed`,
which carries the type name and the traceback text instead. ``Queue``/``Job.result()`` always
raise :class:`jobs.JobFailed`; the rebuilt exception is its ``.exception``.
"""

from __future__ import annotations

import base64
import logging
import pickle
from multiprocessing.pool import RemoteTraceback as _PoolRemoteTraceback  # type: ignore[attr-defined]  # typeshed omits it
from types import TracebackType
from typing import Any

from rq.serializers import PickleSerializer

from .rq_format.markers import REMOTE_EXCEPTION

__all__ = ["RemoteTraceback", "store_exception", "dumps_exception", "rebuild", "original"]

log = logging.getLogger(__name__)
#: Protocol 4 loads on every Python jobfleet supports, whichever side is older.
PROTOCOL = 4


class RemoteTraceback(_PoolRemoteTraceback):
    """The worker's traceback text, shown as the ``__cause__`` of a re-raised job exception.

    A ``multiprocessing.pool.RemoteTraceback`` (``.tb`` holds the text), printed as
    concurrent.futures prints its own.
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def dumps_exception(exc: BaseException) -> bytes | None:
    """The pickled exception, or None when it cannot be pickled or does not load back."""
    try:
        blob = pickle.dumps(exc, protocol=PROTOCOL)
        pickle.loads(blob)  # a class whose __init__ needs other args than .args fails here, not later
    except Exception:  # noqa: BLE001 - pickle raises many types; any means "cannot travel"
        return None
    return blob


def rebuild(blob: bytes | None, remote_traceback: str) -> BaseException | None:
    """The exception ``blob`` holds, with ``remote_traceback`` as its ``__cause__``; None if it cannot load."""
    if not blob:
        return None
    try:
        exc = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - e.g. its class is not importable in this process
        return None
    if not isinstance(exc, BaseException):
        return None
    exc.__cause__ = RemoteTraceback(remote_traceback)
    return exc


def original(error: BaseException) -> BaseException:
    """What the standard library would raise for this failure: the job's own exception when it
    could be rebuilt, else ``error`` itself (a :class:`jobs.JobFailed`, ``JobLost``...)."""
    rebuilt = getattr(error, "exception", None)
    return rebuilt if rebuilt is not None else error


def store_exception(job: Any, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                    tb: TracebackType | None) -> bool:
    """RQ exception handler: keep the job's exception, pickled, in ``job.meta``.

    Returns True, so RQ goes on to the next handler. Stores base64 text (meta stays JSON for
    rq-dashboard). Does nothing for an exception that cannot be pickled or on a queue that is
    not on the pickle serializer: the caller then gets :class:`jobs.JobFailed`. Never raises: a
    handler must not fail the worker.
    """
    from .chunks import ChunkItemFailed

    if isinstance(exc_value, ChunkItemFailed) and exc_value.__cause__ is not None:
        exc_value = exc_value.__cause__  # a map chunk: the item's own exception
    if exc_value is None:
        return True
    blob = dumps_exception(exc_value)
    if blob is None:
        return True
    if job.serializer is not PickleSerializer:  # a json queue never unpickles: leave meta alone
        return True
    if set(job.meta) == {"unserialized"}:  # RQ's placeholder for a meta it cannot read: RQ keeps it as it is
        return True
    try:
        # base64 text, not bytes: rq-dashboard and `rq info` render meta as JSON
        job.meta[REMOTE_EXCEPTION] = base64.b64encode(blob).decode("ascii")
        job.save_meta()
    except Exception as exc:  # noqa: BLE001 - Redis trouble here must not hide the job's failure
        log.warning("job %s: could not store its exception for the caller: %s", job.id, exc)
    return True
