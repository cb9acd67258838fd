"""``redis://``, ``rediss://`` and ``unix://``: ordinary RQ jobs (``fakeredis://`` builds on it).

Jobs are written by RQ itself (``rq.Queue``), so ``rq info``, rq-dashboard, a plain
``rq worker`` and ``workers supervise`` all see and run them. Everything that can be checked is
checked before anything is written: the function must be importable by a worker, the arguments
must serialize, the options must be valid. How RQ stores things is :mod:`jobs.rq_format`'s
business; this module decides what to write and how to wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import rq
from rq import Retry
from rq.callbacks import Callback
from rq.job import Job

from ..backoff import Backoff
from ..errors import BackendUnavailable, ConfigError, JobNotFound, ResultTimeout, SerializationError
from ..functions import importable_name
from ..options import JobOptions
from ..progress import Progress
from ..rq_format import dependencies, results, scheduled, schedules
from ..rq_format import progress as job_progress
from ..rq_format.batch import enqueue_prepared, prepare_calls
from ..rq_format.markers import MAX_LOSSES
from ..schedules import Schedule, ScheduleSpec
from ..sentinel import durability_of
from ..serializers import check_dumps
from ..status import WAITING, JobStatus
from ..urls import connect, describe_server, redact
from .base import Backend, MapCall
from .redis_errors import TRANSIENT_ERRORS, translated
from .redis_workflows import same_server, submit_dependent

__all__ = ["RedisBackend"]

logger = logging.getLogger(__name__)
_PROPAGATE = Callback("jobs.workflows.propagate_failure")
#: When nobody listens on the queue for this long while we wait, say so once (seconds).
NO_WORKER_WARNING_AFTER = 10.0
#: A wait without a timeout rides out a Redis outage this long, then raises BackendUnavailable (seconds).
RIDE_OUT_WITHOUT_TIMEOUT_S = 60.0


class RedisBackend(Backend):
    """An RQ queue on a Redis server; see the module docstring."""

    def __init__(self, url: str, name: str, serializer: Any) -> None:
        self._url = url
        self._client = connect(url)
        self._server = self._describe_server()
        self._serializer = serializer
        self._queue = rq.Queue(name, connection=self._client, serializer=serializer)
        timeout = self._client.connection_pool.connection_kwargs.get("socket_timeout")
        # A blocking read must return before the socket's own timeout fires.
        self._block_s = max(0.05, min(2.0, timeout / 2)) if timeout else 2.0

    def _describe_server(self) -> str:
        return describe_server(self._client)

    def __repr__(self) -> str:
        return f"<RedisBackend {redact(self._url)} queue={self._queue.name!r}>"

    @property
    def rq_queue(self) -> rq.Queue:
        """The underlying ``rq.Queue``, for RQ's own API."""
        return self._queue

    # -- submitting -----------------------------------------------------------------------

    def submit(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions) -> tuple[str, Any]:
        if options.parents:  # waits for other jobs: jobs.backends.redis_workflows
            importable_name(func)
            return submit_dependent(self, func, args, kwargs, options)
        # RQ sends the queue registration and the job in two round trips; one pipeline
        # (a MULTI/EXEC transaction) sends both at once.
        return self._write(func, args, kwargs, options, lambda job, pipe: self._queue.enqueue_job(job, pipeline=pipe))

    def submit_later(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions,
                     run_at: float) -> tuple[str, Any]:
        return self._write(func, args, kwargs, options, lambda job, pipe: scheduled.schedule(self._queue, job, run_at, pipe))

    def _write(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions,
               write: Callable[[Job, Any], object]) -> tuple[str, Any]:
        job = self._create_job(importable_name(func) or func, args, kwargs, options)
        with translated(self._server):
            if options.job_id is not None and self._client.exists(job.key):
                # RQ would overwrite that job's record, and its id would sit twice in a queue
                raise ConfigError(f"a job with id {options.job_id!r} already exists at {self._server}: choose another "
                                  f"job_id, or get the existing one with q.job({options.job_id!r})")
            with self._client.pipeline() as pipe:
                write(job, pipe)
                pipe.execute()
            self._confirm_replicated(f"job {job.id}")
        return job.id, None

    def _confirm_replicated(self, what: str) -> None:
        """With ``?wait_replicas=N``: raise unless N replicas have what was just written."""
        durability = durability_of(self._client)
        if durability is None:
            return
        confirmed = durability.wait(self._client)
        if confirmed < durability.replicas:
            raise BackendUnavailable(
                f"{what} is on the primary at {self._server}, but only {confirmed} of {durability.replicas} replica(s) "
                f"confirmed it within {durability.timeout_s} s: it is lost if the primary fails now; check the replicas")

    def _create_job(self, func: Callable[..., Any] | str, args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions) -> Job:
        meta = {MAX_LOSSES: options.max_losses} if options.max_losses else None
        retry = None
        if options.retries:
            interval = options.retry_interval
            retry = Retry(max=options.retries, interval=[int(v) for v in interval] if isinstance(interval, tuple) else int(interval))
        try:
            job = self._queue.create_job(
                func,  # type: ignore[type-var]  # RQ takes a dotted name or a callable
                args=args, kwargs=kwargs, timeout=options.timeout_seconds(),
                result_ttl=_whole(options.result_ttl), failure_ttl=_whole(options.failure_ttl),
                description=options.description, job_id=options.job_id, meta=meta, retry=retry,
                on_failure=_PROPAGATE,  # a failure reaches the jobs waiting on this one at once
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad job options: {exc}") from exc
        try:
            job.data  # noqa: B018 - serializes the call now, so a bad argument fails before any write
        except Exception as exc:  # noqa: BLE001 - pickle and json raise many types
            name = func.rsplit(".", 1)[-1] if isinstance(func, str) else getattr(func, "__qualname__", repr(func))
            raise SerializationError(f"the arguments of {name} cannot be serialized: {type(exc).__name__}: {exc}") from exc
        return job

    # -- recurring jobs -----------------------------------------------------------------------

    def schedule(self, spec: ScheduleSpec) -> Schedule:
        func_name = importable_name(spec.func)
        if func_name is None:
            raise SerializationError("a schedule on Redis needs a plain module-level function (not a method or callable "
                                     "object): a worker imports it by name")
        call = check_dumps(self._serializer, (list(spec.args), spec.kwargs), f"the arguments of schedule {spec.name!r}")
        with translated(self._server):
            schedules.save(self._client, self._queue.name, spec.name, func_name, call, spec.rule, spec.overlap)
            self._confirm_replicated(f"schedule {spec.name!r}")
        return next(s for s in self.schedules() if s.name == spec.name)

    def schedules(self) -> list[Schedule]:
        with translated(self._server):
            return schedules.load(self._client, self._queue.name)

    def unschedule(self, name: str) -> bool:
        with translated(self._server):
            return schedules.remove(self._client, self._queue.name, name)

    # -- one job ----------------------------------------------------------------------------

    def status(self, job_id: str) -> JobStatus:
        with translated(self._server):
            status = results.status(self._client, job_id)
        if status is None:
            raise self._not_found(job_id)
        return JobStatus.parse(status)

    def progress(self, job_id: str) -> Progress | None:
        with translated(self._server):
            found, progress = job_progress.read(self._client, job_id, self._serializer)
        if not found:
            raise self._not_found(job_id)
        return progress

    def _not_found(self, job_id: str) -> JobNotFound:
        return JobNotFound(f"no job {job_id!r} at {self._server} (never enqueued, or its record expired)")

    def exists(self, job_id: str) -> bool:
        with translated(self._server):
            return results.exists(self._client, job_id)

    def result(self, job_id: str, timeout: float | None) -> Any:
        for _, outcome in self._wait([job_id], timeout, ordered=True):
            return outcome.get()
        raise AssertionError("unreachable")  # pragma: no cover

    def cancel(self, job_id: str) -> bool:
        status = self.status(job_id)
        if status == JobStatus.CANCELED:
            return True
        if status not in WAITING:
            return False
        with translated(self._server):
            rq.job.cancel_job(job_id, connection=self._client, serializer=self._serializer)
            dependencies.propagate(self._client, self._serializer, job_id)
        return True

    def holds(self, job: Any) -> bool:
        return job._backend is self or (isinstance(job._backend, RedisBackend)
                                        and same_server(job._backend._client, self._client))

    # -- many jobs --------------------------------------------------------------------------

    def imap(self, call: MapCall) -> Iterator[Any]:
        return self._imap(call, ordered=True)

    def imap_unordered(self, call: MapCall) -> Iterator[Any]:
        return self._imap(call, ordered=False)

    def _imap(self, call: MapCall, ordered: bool) -> Iterator[Any]:
        func_name = importable_name(call.func)
        if func_name is None:
            raise SerializationError("map on Redis needs a plain module-level function (not a method or callable object)")
        if call.chunksize and call.chunksize > 1:
            return self._imap_chunked(func_name, call, ordered)
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
            (tuple(v), {}) if call.star else ((v,), {}) for v in call.items]
        ids = self._enqueue_calls(call.func, func_name, calls)
        index_of = {job_id: index for index, job_id in enumerate(ids)}

        def values_of() -> Iterator[Any]:
            for job_id, outcome in self._wait(ids, call.timeout, ordered):
                if outcome.error is not None:
                    raise outcome.error.at_index(index_of[job_id])
                yield outcome.value
        return MapResults(ids, values_of())

    def _imap_chunked(self, func_name: str, call: MapCall, ordered: bool) -> Iterator[Any]:
        from ..chunks import failed_item, run_chunk

        size, values = call.chunksize or 1, call.items
        starts = range(0, len(values), size)
        calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
            ((func_name, values[s:s + size], call.star), {}) for s in starts]
        ids = self._enqueue_calls(run_chunk, "jobs.chunks.run_chunk", calls)
        index_of = dict(zip(ids, starts))

        def flatten() -> Iterator[Any]:
            for job_id, outcome in self._wait(ids, call.timeout, ordered):
                if outcome.error is not None:
                    raise failed_item(outcome.error, index_of[job_id])
                yield from outcome.value
        return MapResults(ids, flatten())

    def _enqueue_calls(self, func: Callable[..., Any], func_name: str, calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[str]:
        if not calls:
            return []
        blobs = prepare_calls(self._serializer, func_name, calls)
        template = self._create_job(func_name, calls[0][0], calls[0][1], JobOptions())
        template.origin = self._queue.name
        with translated(self._server):
            ids = enqueue_prepared(self._queue, template, func_name, calls, blobs)
            self._confirm_replicated(f"{len(ids)} jobs of a map")
        return ids

    # -- waiting ------------------------------------------------------------------------------

    def _wait(self, ids: list[str], timeout: float | None, ordered: bool) -> Iterator[tuple[str, results.FinalResult]]:
        """Yield (job id, final result) for every id: in order, or as they end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        positions: dict[str, str] = {}
        outcomes: dict[str, results.FinalResult] = {}
        next_index = 0
        waited_since = time.monotonic()
        warned = False
        while next_index < len(ids):
            self._before_read()
            window = [i for i in ids[next_index:next_index + results.WINDOW * 2] if i not in outcomes][: results.WINDOW]
            block_ms = self._block_ms(deadline, ids, outcomes, timeout)
            watched = {i: positions.get(i, "0-0") for i in window}
            found = self._ride_out(deadline, self._read_results, watched, block_ms)
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
            self._check_unfinished(window, ids, outcomes, deadline, timeout)
            if not warned and time.monotonic() - waited_since > NO_WORKER_WARNING_AFTER:
                warned = self._warn_if_no_worker()

    def _read_results(self, watched: dict[str, str], block_ms: int | None) -> list[tuple[str, str, results.FinalResult | None]]:
        return list(results.read_many(self._client, watched, self._serializer, block_ms))

    def _ride_out(self, deadline: float | None, read: Callable[..., Any], *args: Any) -> Any:
        """``read(*args)``, retried with backoff while Redis is down or restarting (a connection
        refused, dropped or still loading its data), until ``deadline`` (or
        :data:`RIDE_OUT_WITHOUT_TIMEOUT_S` of outage when there is none); then the outage is
        raised as :class:`BackendUnavailable`. A read changes nothing, so retrying it is safe."""
        backoff = Backoff(first=0.05, cap=1.0)
        limit = 0.0
        with translated(self._server):
            while True:
                try:
                    return read(*args)
                except TRANSIENT_ERRORS as exc:
                    now = time.monotonic()
                    if backoff.attempts == 0:
                        limit = deadline if deadline is not None else now + RIDE_OUT_WITHOUT_TIMEOUT_S
                        logger.warning("Redis at %s is unavailable (%s); waiting for it", self._server, type(exc).__name__)
                    delay = backoff.next()
                    if now + delay > limit:
                        raise
                    time.sleep(delay)

    def _before_read(self) -> None:
        """Called before each read of results (the fakeredis backend runs jobs here)."""

    def _block_ms(self, deadline: float | None, ids: list[str], outcomes: dict[str, results.FinalResult],
                  timeout: float | None) -> int | None:
        """How long one XREAD may block (XREAD BLOCK returns at once for streams that have entries)."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise ResultTimeout(self._timeout_message(ids, outcomes, timeout))
        return max(1, int(1000 * (self._block_s if remaining is None else min(self._block_s, remaining))))

    def _check_unfinished(self, window: list[str], ids: list[str], outcomes: dict[str, results.FinalResult],
                          deadline: float | None, timeout: float | None) -> None:
        """After a quiet wait: fail jobs that will never write a result (canceled, gone)."""
        statuses = self._ride_out(deadline, results.statuses, self._client, window)
        for job_id, status in zip(window, statuses):
            if status is None:
                raise JobNotFound(f"job {job_id} is gone from {self._server} (deleted or expired) before it ended")
            if status == JobStatus.CANCELED:
                with translated(self._server):
                    raise results.canceled_job(self._client, job_id, self._serializer)
            if status == JobStatus.FAILED:  # failed without a result entry (e.g. abandoned by an old RQ)
                with translated(self._server):
                    raise results.failed_job(self._client, job_id, results.exc_string(self._client, job_id, self._serializer),
                                             self._serializer)
        self._after_quiet_wait([i for i in window if i not in outcomes], dict(zip(window, statuses)), deadline)
        if deadline is not None and time.monotonic() >= deadline:
            raise ResultTimeout(self._timeout_message(ids, outcomes, timeout))

    def _after_quiet_wait(self, pending: list[str], statuses: dict[str, str | None], deadline: float | None) -> None:
        """Called when a read found nothing new for ``pending`` (fakeredis decides whether they can progress)."""

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

    def close(self) -> None:
        self._client.close()


class MapResults(Iterator[Any]):
    """A map's results as they come, and its jobs' ids (``jobs.Pool.terminate`` cancels them)."""

    def __init__(self, job_ids: list[str], results: Iterator[Any]) -> None:
        self.job_ids, self._results = job_ids, results

    def __next__(self) -> Any:
        return next(self._results)


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(round(seconds)))
