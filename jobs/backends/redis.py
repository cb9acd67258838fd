"""``redis://``, ``rediss://``, ``unix://`` and ``fakeredis://``: ordinary RQ jobs.

Jobs are written by RQ itself (``rq.Queue``), so ``rq info``, rq-dashboard, a plain
``rq worker`` and ``workers supervise`` all see and run them. Everything that can be checked is
checked before anything is written: the function must be importable by a worker, the arguments
must serialize, the options must be valid.

On ``fakeredis://`` nothing runs in the background: jobs run in this process, in an RQ burst
worker, when a result is waited upon or :meth:`run_pending` is called.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import rq
from rq.job import Job as RQJob
from rq import Retry

from ..errors import ConfigError, JobCanceled, JobNotFound, ResultTimeout, SerializationError
from ..functions import importable_name
from ..meta import MAX_LOSSES
from ..options import JobOptions
from ..urls import connect, describe_server, parse, redact
from . import redis_results as results
from .base import CANCELED, FAILED, Backend
from .redis_batch import enqueue_prepared, prepare_calls
from .redis_errors import translated

__all__ = ["RedisBackend"]

logger = logging.getLogger(__name__)
#: The fakeredis burst worker logs here, not to stdout: job failures reach the caller as JobFailed.
inline_worker_log = logging.getLogger("jobs.inline_worker")
inline_worker_log.addHandler(logging.NullHandler())
#: When nobody listens on the queue for this long while we wait, say so once (seconds).
NO_WORKER_WARNING_AFTER = 10.0


class RedisBackend(Backend):
    """An RQ queue on a Redis server (or fakeredis); see the module docstring."""

    def __init__(self, url: str, name: str, serializer: Any) -> None:
        self._url = url
        self._fake = parse(url).fake  # type: ignore[union-attr]
        self._client = connect(url)
        self._server = "fakeredis" if self._fake else describe_server(self._client)
        self._serializer = serializer
        self._queue = rq.Queue(name, connection=self._client, serializer=serializer)
        timeout = self._client.connection_pool.connection_kwargs.get("socket_timeout")
        # A blocking read must return before the socket's own timeout fires.
        self._block_s = max(0.05, min(2.0, timeout / 2)) if timeout else 2.0
        self._run_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RedisBackend {redact(self._url)} queue={self._queue.name!r}>"

    @property
    def rq_queue(self) -> rq.Queue:
        """The underlying ``rq.Queue``, for RQ's own API."""
        return self._queue

    # -- submitting -----------------------------------------------------------------------

    def submit(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions) -> tuple[str, Any]:
        importable_name(func)
        job = self._create_job(func, args, kwargs, options)
        with translated(self._server):
            if options.job_id is not None and self._client.exists(job.key):
                # RQ would overwrite that job's record, and its id would sit twice in a queue
                raise ConfigError(f"a job with id {options.job_id!r} already exists at {self._server}: choose another "
                                  f"job_id, or get the existing one with q.job({options.job_id!r})")
            # RQ sends the queue registration and the job in two round trips; one pipeline
            # (a MULTI/EXEC transaction) sends both at once.
            with self._client.pipeline() as pipe:
                self._queue.enqueue_job(job, pipeline=pipe)
                pipe.execute()
        return job.id, None

    def _create_job(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions) -> RQJob:
        meta = {MAX_LOSSES: options.max_losses} if options.max_losses else None
        retry = None
        if options.retries:
            interval = options.retry_interval
            retry = Retry(max=options.retries, interval=[int(v) for v in interval] if isinstance(interval, tuple) else int(interval))
        try:
            job = self._queue.create_job(
                func, args=args, kwargs=kwargs, timeout=options.timeout_seconds(),
                result_ttl=_whole(options.result_ttl), failure_ttl=_whole(options.failure_ttl),
                description=options.description, job_id=options.job_id, meta=meta, retry=retry,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad job options: {exc}") from exc
        try:
            job.data  # serializes the call now, so a bad argument fails before any write
        except Exception as exc:  # noqa: BLE001 - pickle and json raise many types
            name = getattr(func, "__qualname__", repr(func))
            raise SerializationError(f"the arguments of {name} cannot be serialized: {type(exc).__name__}: {exc}") from exc
        return job

    # -- one job ----------------------------------------------------------------------------

    def _status_raw(self, job_id: str) -> str | None:
        with translated(self._server):
            raw = self._client.hget(RQJob.key_for(job_id), "status")
        return raw.decode() if isinstance(raw, bytes) else raw

    def status(self, job_id: str) -> str:
        status = self._status_raw(job_id)
        if status is None:
            raise JobNotFound(f"no job {job_id!r} at {self._server} (never enqueued, or its record expired)")
        return status

    def exists(self, job_id: str) -> bool:
        with translated(self._server):
            return bool(self._client.exists(RQJob.key_for(job_id)))

    def result(self, job_id: str, timeout: float | None) -> Any:
        for _, outcome in self._wait([job_id], timeout, ordered=True):
            return outcome.get()
        raise AssertionError("unreachable")  # pragma: no cover

    def cancel(self, job_id: str) -> bool:
        status = self.status(job_id)
        if status == CANCELED:
            return True
        if status not in ("queued", "deferred", "scheduled"):
            return False
        with translated(self._server):
            rq.job.cancel_job(job_id, connection=self._client, serializer=self._serializer)
        return True

    # -- many jobs --------------------------------------------------------------------------

    def imap(self, func: Callable[..., Any], items: Iterable[Any], *, chunksize: int | None,
             timeout: float | None, ordered: bool, star: bool) -> Iterator[Any]:
        func_name = importable_name(func)
        if func_name is None:
            raise SerializationError("map on Redis needs a plain module-level function (not a method or callable object)")
        values = items if isinstance(items, list) else list(items)
        if chunksize and chunksize > 1:
            return self._imap_chunked(func_name, values, chunksize, timeout, ordered, star)
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [(tuple(v), {}) if star else ((v,), {}) for v in values]
        ids = self._enqueue_calls(func, func_name, calls)
        index_of = {job_id: index for index, job_id in enumerate(ids)}

        def values_of() -> Iterator[Any]:
            for job_id, outcome in self._wait(ids, timeout, ordered):
                if outcome.error is not None:
                    raise outcome.error.at_index(index_of[job_id])
                yield outcome.value
        return values_of()

    def _imap_chunked(self, func_name: str, values: list[Any], chunksize: int, timeout: float | None,
                      ordered: bool, star: bool) -> Iterator[Any]:
        from ..chunks import run_chunk

        starts = range(0, len(values), chunksize)
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [((func_name, values[s:s + chunksize], star), {}) for s in starts]
        ids = self._enqueue_calls(run_chunk, "jobs.chunks.run_chunk", calls)
        index_of = dict(zip(ids, starts))

        def flatten() -> Iterator[Any]:
            for job_id, outcome in self._wait(ids, timeout, ordered):
                if outcome.error is not None:
                    from ..chunks import failed_item

                    raise failed_item(outcome.error, index_of[job_id])
                yield from outcome.value
        return flatten()

    def _enqueue_calls(self, func: Callable[..., Any], func_name: str, calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[str]:
        if not calls:
            return []
        blobs = prepare_calls(self._serializer, func_name, calls)
        template = self._create_job(func, calls[0][0], calls[0][1], JobOptions())
        template.origin = self._queue.name
        with translated(self._server):
            return enqueue_prepared(self._queue, template, func_name, calls, blobs)

    # -- waiting ------------------------------------------------------------------------------

    def _wait(self, ids: list[str], timeout: float | None, ordered: bool) -> Iterator[tuple[str, results.Outcome]]:
        """Yield (job id, final outcome) for every id: in order, or as they end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        positions: dict[str, str] = {}
        outcomes: dict[str, results.Outcome] = {}
        next_index = 0
        waited_since = time.monotonic()
        warned = False
        while next_index < len(ids):
            if self._fake:
                self.run_pending()
            window = [i for i in ids[next_index:next_index + results.WINDOW * 2] if i not in outcomes][: results.WINDOW]
            block_ms = None
            if not self._fake:  # XREAD BLOCK returns at once for streams that already have entries
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ResultTimeout(self._timeout_message(ids, outcomes, timeout))
                block_ms = max(1, int(1000 * (self._block_s if remaining is None else min(self._block_s, remaining))))
            with translated(self._server):
                found = list(results.read_many(self._client, {i: positions.get(i, "0-0") for i in window}, self._serializer, block_ms))
            for job_id, last, outcome in found:
                positions[job_id] = last
                if outcome is not None:
                    outcomes[job_id] = outcome
                    if not ordered:
                        yield job_id, outcome
            for job_id in window:
                positions.setdefault(job_id, "0-0")
            if ordered:
                while next_index < len(ids) and ids[next_index] in outcomes:
                    yield ids[next_index], outcomes.pop(ids[next_index])
                    next_index += 1
            else:
                while next_index < len(ids) and ids[next_index] in outcomes:
                    outcomes.pop(ids[next_index])
                    next_index += 1
            if next_index >= len(ids) or found:
                continue
            if block_ms is not None or self._fake:
                self._check_unfinished(window, ids, outcomes, deadline, timeout)
                if not warned and time.monotonic() - waited_since > NO_WORKER_WARNING_AFTER:
                    warned = self._warn_if_no_worker()

    def _check_unfinished(self, window: list[str], ids: list[str], outcomes: dict[str, results.Outcome],
                          deadline: float | None, timeout: float | None) -> None:
        """After a quiet wait: fail jobs that will never write a result (canceled, gone)."""
        with translated(self._server):
            pipe = self._client.pipeline(transaction=False)
            for job_id in window:
                pipe.hget(RQJob.key_for(job_id), "status")
            statuses = pipe.execute()
        for job_id, raw in zip(window, statuses):
            status = raw.decode() if raw else None
            if status is None:
                raise JobNotFound(f"job {job_id} is gone from {self._server} (deleted or expired) before it ended")
            if status == CANCELED:
                raise JobCanceled(f"job {job_id} was canceled before it ran")
            if status == FAILED:  # failed without a result entry (e.g. abandoned by an old RQ)
                job = RQJob.fetch(job_id, connection=self._client, serializer=self._serializer)
                raise results.failure_from(job_id, job.exc_info)
        if self._fake:
            pending = [i for i in window if i not in outcomes]
            if self._sleep_until_due(pending, deadline):
                return
            raise ResultTimeout(
                f"{len(pending)} job(s) cannot progress on fakeredis:// (e.g. {pending[0]} is "
                f"{statuses[window.index(pending[0])].decode() if statuses else 'unknown'}): "
                "fakeredis runs only this queue's jobs, in this process"
            )
        if deadline is not None and time.monotonic() >= deadline:
            raise ResultTimeout(self._timeout_message(ids, outcomes, timeout))

    def _sleep_until_due(self, job_ids: list[str], deadline: float | None) -> bool:
        """fakeredis: when a job waits in RQ's scheduled registry (a retry with an interval),
        sleep until it is due — nothing else runs it — if that is within the deadline."""
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

    def _timeout_message(self, ids: list[str], outcomes: dict[str, Any], timeout: float | None) -> str:
        if len(ids) == 1:
            return f"job {ids[0]} did not end within {timeout} s; it goes on"
        return f"{len(ids)} jobs did not all end within {timeout} s; they go on"

    def _warn_if_no_worker(self) -> bool:
        with translated(self._server):
            count = rq.Worker.count(connection=self._client, queue=self._queue)
        if count == 0:
            logger.warning(
                "no worker listens on queue %r at %s: start one, e.g. `workers supervise --url %s --queue %s`",
                self._queue.name, self._server, redact(self._url), self._queue.name,
            )
        return True

    # -- fakeredis ------------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Run this queue's jobs now, in this process, with an RQ burst worker (fakeredis only)."""
        if not self._fake:
            return 0
        with self._run_lock:
            self._enqueue_due_scheduled()
            waiting = self._queue.count
            if not waiting:
                return 0
            in_main = threading.current_thread() is threading.main_thread()
            saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
            worker_class: type[rq.SimpleWorker] = rq.SimpleWorker if in_main else _ThreadSafeWorker
            worker = worker_class([self._queue], connection=self._client, serializer=self._serializer)
            worker.log = inline_worker_log
            try:
                worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
            finally:
                for signum, handler in saved.items():
                    signal.signal(signum, handler)
            return int(waiting - self._queue.count)

    def _enqueue_due_scheduled(self) -> None:
        """What RQ's scheduler would do in the background: due scheduled jobs back on the queue."""
        registry = self._queue.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule():
            registry.remove(job_id)
            job = self._queue.fetch_job(job_id)
            if job is not None:
                self._queue.enqueue_job(job)

    def close(self) -> None:
        self._client.close()


class _ThreadSafeWorker(rq.SimpleWorker):
    """A burst worker usable off the main thread: timeouts by timer, not by SIGALRM."""

    from rq.timeouts import TimerDeathPenalty as death_penalty_class  # noqa: N813


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(round(seconds)))
