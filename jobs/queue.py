"""``jobs.Queue``: one API over every backend, chosen by the URL."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import progress_bar, serializers
from .backends.base import Backend, MapCall, RunsInProcess
from .errors import ConfigError, JobNotFound
from .functions import check_callable
from .job import Job
from .options import JobOptions
from .schedules import Rule, Schedule, ScheduleSpec, check_name, check_sequence_args
from .timing import run_at_in, run_at_of
from .urls import LocalTarget, parse, redact
from .workflows import check_parents, depends_on_list, extract_parents, has_jobs, map_with_parents

__all__ = ["Queue"]

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


class Queue:
    """A queue of jobs: ``local://N`` (worker processes here), ``redis://`` (RQ), ``fakeredis://``.

    ``url`` defaults to ``local://`` (one worker per CPU). ``name`` is the RQ queue name on Redis
    (workers listen to it); on ``local://`` it only labels the queue. ``serializer`` is
    ``"pickle"`` (any Python value; trust your Redis) or ``"json"``.

    Use it as a context manager, or call :meth:`close`: on ``local://`` closing waits for the
    jobs already enqueued, then stops the worker processes.
    """

    def __init__(self, url: str = "local://", name: str = "default", *, serializer: str = "pickle") -> None:
        target = parse(url)
        if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
            raise ConfigError(f"queue name must be 1-128 letters, digits or _.:- characters, not {name!r}")
        self._serializer = serializers.resolve(serializer)
        self._url = url if url else "local://"
        self._name = name
        self._backend: Backend
        if isinstance(target, LocalTarget):
            from .backends.local import LocalBackend

            self._backend = LocalBackend(target.processes, serializer=self._serializer, threads=target.threads,
                                         max_async=target.max_async)
        elif target.fake:
            from .backends.fakeredis import FakeRedisBackend

            self._backend = FakeRedisBackend(target.url, name, serializer=self._serializer)
        else:
            from .backends.redis import RedisBackend

            self._backend = RedisBackend(target.url, name, serializer=self._serializer)

    # -- identity -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def url(self) -> str:
        """The URL with any password replaced by ``***``."""
        return redact(self._url)

    @property
    def backend(self) -> Backend:
        return self._backend

    def __repr__(self) -> str:
        return f"<jobs.Queue {self.url} name={self._name!r} serializer={serializers.name_of(self._serializer)!r}>"

    # -- single jobs ----------------------------------------------------------------------

    def enqueue(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Run ``func(*args, **kwargs)`` on a worker; return its :class:`Job` at once.

        Every keyword goes to ``func``; job options go through :meth:`enqueue_call`. A :class:`Job`
        among the arguments (at any depth of lists, tuples and dicts) stands for its result: this
        job waits (``deferred``) until those jobs finished.
        """
        args, kwargs, parents = extract_parents(args, kwargs)
        options = JobOptions(parents=tuple(check_parents(self._backend, parents))) if parents else JobOptions()
        return Job(self._backend, *self._backend.submit(func, args, kwargs, options))

    def enqueue_in(self, delay: float | timedelta, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Run ``func(*args, **kwargs)`` ``delay`` seconds (or a ``timedelta``) from now.

        The job reads as ``scheduled`` until then and runs within about a second of its time
        (on Redis it is an RQ scheduled job: ``workers supervise`` or ``rq worker
        --with-scheduler`` runs it; on ``fakeredis://`` when jobs are run after its time).
        """
        return self._enqueue_later(run_at_in(delay), func, args, kwargs)

    def enqueue_at(self, when: datetime, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Like :meth:`enqueue_in`, at a ``datetime`` (a naive one is local time; a past one runs at once)."""
        return self._enqueue_later(run_at_of(when), func, args, kwargs)

    def _enqueue_later(self, run_at: float, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Job:
        if has_jobs((args, kwargs)):
            raise ConfigError("a job that takes other jobs' results cannot also wait for a time: enqueue it without a "
                              "delay (it waits for those jobs), or schedule a job that enqueues it")
        return Job(self._backend, *self._backend.submit_later(func, args, kwargs, JobOptions(), run_at))

    def enqueue_call(
        self,
        func: Callable[..., Any],
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        retries: int = 0,
        retry_interval: float | Sequence[float] = 0,
        job_id: str | None = None,
        result_ttl: float | None = None,
        failure_ttl: float | None = None,
        description: str | None = None,
        max_losses: int | None = None,
        depends_on: Job | str | Sequence[Job | str] | None = None,
        allow_failure: bool = False,
    ) -> Job:
        """Like :meth:`enqueue`, with job options (see :class:`jobs.options.JobOptions`).

        ``depends_on``: jobs (or ids) to wait for without taking their results;
        ``allow_failure=True`` runs the job even when one it waits for failed (that parent's
        value is then its :class:`jobs.JobFailed`).
        """
        check_sequence_args(args, kwargs)
        options = JobOptions(
            timeout=timeout,
            retries=retries,
            retry_interval=tuple(retry_interval) if isinstance(retry_interval, (list, tuple)) else retry_interval,  # type: ignore[arg-type]  # JobOptions checks it
            job_id=job_id,
            result_ttl=result_ttl,
            failure_ttl=failure_ttl,
            description=description,
            max_losses=max_losses,
            allow_failure=allow_failure,
        )
        call_args, call_kwargs, parents = extract_parents(tuple(args or ()), dict(kwargs or {}))
        ids = check_parents(self._backend, parents + depends_on_list(depends_on))
        if ids:
            options = dataclasses.replace(options, parents=tuple(ids))
        return Job(self._backend, *self._backend.submit(func, call_args, call_kwargs, options))

    def job(self, job_id: str) -> Job:
        """The job with this id, enqueued here or (on Redis) by any process; :class:`jobs.JobNotFound` if none."""
        if not isinstance(job_id, str) or not self._backend.exists(job_id):
            raise JobNotFound(f"no job {job_id!r} on queue {self._name!r} at {self.url}")
        return Job(self._backend, job_id)

    # -- recurring jobs -------------------------------------------------------------------

    def schedule(self, name: str, func: Callable[..., Any], args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                 *, every: float | None = None, cron: str | None = None, overlap: bool = False) -> Schedule:
        """Enqueue ``func(*args, **kwargs)`` on every tick of a rule: ``every`` seconds (>= 1) or
        a five-field ``cron`` string (UTC). The same ``name`` replaces the old rule.

        One job per tick, however many supervisors run; a tick missed while none ran fires once.
        With ``overlap=False`` a tick is skipped while the previous run is queued or running.
        On Redis the schedule lives in Redis (every ``workers supervise`` of this queue fires
        it); on ``local://`` this queue fires it while it is open; on ``fakeredis://`` due ticks
        fire when jobs are run. Bad input raises before anything is written.
        """
        check_name(name)
        check_callable(func)
        check_sequence_args(args, kwargs)
        if not isinstance(overlap, bool):
            raise ConfigError(f"overlap must be True or False, not {overlap!r}")
        rule = Rule.of(every, cron, anchor=time.time())
        return self._backend.schedule(ScheduleSpec(name, func, tuple(args or ()), dict(kwargs or {}), rule, overlap))

    def schedules(self) -> list[Schedule]:
        """This queue's schedules, by name, with their next run and the last run's status."""
        return self._backend.schedules()

    def unschedule(self, name: str) -> bool:
        """Stop the schedule ``name`` (a run already enqueued goes on); False if there was none."""
        return self._backend.unschedule(check_name(name))

    # -- many jobs, like multiprocessing.Pool ----------------------------------------------

    def map(self, func: Callable[..., Any], iterable: Iterable[Any],
            *, chunksize: int | None = None, timeout: float | None = None, progress: bool = False) -> list[Any]:
        """``[func(x) for x in iterable]`` on the workers, in order, like ``Pool.map``.

        Raises :class:`jobs.JobFailed` naming the first failing item's index, and
        :class:`jobs.ResultTimeout` when ``timeout`` seconds pass for the whole call.
        ``progress=True`` draws a tqdm bar on stderr (done/total, rate, time left), as do the
        other map calls.
        """
        return list(self._imap(func, iterable, chunksize, timeout, progress, ordered=True, star=False))

    def starmap(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]],
            *, chunksize: int | None = None, timeout: float | None = None, progress: bool = False) -> list[Any]:
        """``[func(*args) for args in iterable]``, like ``Pool.starmap``."""
        return list(self._imap(func, iterable, chunksize, timeout, progress, ordered=True, star=True))

    def imap(self, func: Callable[..., Any], iterable: Iterable[Any],
            *, chunksize: int | None = None, timeout: float | None = None, progress: bool = False) -> Iterator[Any]:
        """Results in order, each as soon as it and those before it are done.

        One item per job unless ``chunksize`` says otherwise, as ``Pool.imap``: an item is never
        stuck in a chunk behind a long one while a worker idles (``map`` chunks by default).
        """
        return self._imap(func, iterable, 1 if chunksize is None else chunksize, timeout, progress, ordered=True, star=False)

    def imap_unordered(self, func: Callable[..., Any], iterable: Iterable[Any],
            *, chunksize: int | None = None, timeout: float | None = None, progress: bool = False) -> Iterator[Any]:
        """Results in the order they finish; one item per job by default, as :meth:`imap`."""
        return self._imap(func, iterable, 1 if chunksize is None else chunksize, timeout, progress, ordered=False, star=False)

    def _imap(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None, timeout: float | None,
            progress: bool, *, ordered: bool, star: bool) -> Iterator[Any]:
        if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1):
            raise ConfigError(f"chunksize must be a whole number >= 1, not {chunksize!r}")
        JobOptions(timeout=timeout)  # the same check as a job timeout
        if not isinstance(iterable, Iterable):
            raise ConfigError(f"map needs an iterable of items, not {type(iterable).__name__}")
        show_bar = progress_bar.check(progress)
        call = MapCall(func, iterable if isinstance(iterable, list) else list(iterable), chunksize, timeout, star)
        if has_jobs(call.items):  # items waiting for jobs: one dependent job each
            results = map_with_parents(self._backend, call, ordered)
        else:
            results = self._backend.imap(call) if ordered else self._backend.imap_unordered(call)
        return progress_bar.tracked(results, len(call.items)) if show_bar else results

    # -- lifecycle ------------------------------------------------------------------------

    def run_pending(self) -> int:
        """On ``fakeredis://``, run the queued jobs now in this process; returns how many ran.

        Elsewhere workers run them: 0.
        """
        return self._backend.run_pending() if isinstance(self._backend, RunsInProcess) else 0

    def close(self) -> None:
        """Wait for enqueued local jobs, stop worker processes, close connections. Safe twice."""
        self._backend.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

