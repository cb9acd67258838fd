"""The small interface every backend implements.

A backend owns job ids: it stores calls, runs or hands them to workers, and answers for their
state. :class:`jobs.Queue` and :class:`jobs.Job` are thin handles over it, so the same user code
runs on every backend. Only what every backend does is here; what one backend alone can do
(fakeredis running jobs in this process) is a capability of its own, :class:`RunsInProcess`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..options import JobOptions
from ..progress import Progress
from ..schedules import Schedule, ScheduleSpec
from ..status import JobStatus


@dataclass(frozen=True)
class MapCall:
    """One ``map``: ``func`` over ``items``, which are argument tuples when ``star`` (``starmap``).

    ``chunksize``: items per job (None: the backend's default); ``timeout``: seconds for the
    whole call.
    """

    func: Callable[..., Any]
    items: list[Any]
    chunksize: int | None = None
    timeout: float | None = None
    star: bool = False


class Backend(ABC):
    """Where jobs go. Every method is safe to call from any thread."""

    @abstractmethod
    def submit(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions
    ) -> tuple[str, Any]:
        """Store one call; return its job id and an object the :class:`Job` handle keeps alive.

        Raises before anything is stored when the call is bad.
        """

    @abstractmethod
    def submit_later(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: JobOptions, run_at: float
    ) -> tuple[str, Any]:
        """Like :meth:`submit`, for a job that waits (status ``scheduled``) until ``run_at``
        (Unix seconds; a past time runs it at once)."""

    @abstractmethod
    def imap(self, call: MapCall) -> Iterator[Any]:
        """Run the map; yield results in the items' order.

        Raises :class:`jobs.JobFailed` naming the failing item's index, :class:`jobs.ResultTimeout`
        when ``call.timeout`` runs out.
        """

    @abstractmethod
    def imap_unordered(self, call: MapCall) -> Iterator[Any]:
        """Like :meth:`imap`, yielding each result as soon as its job ends."""

    @abstractmethod
    def schedule(self, spec: ScheduleSpec) -> Schedule:
        """Keep (or replace) the recurring job ``spec.name``; raises before writing when it is bad."""

    @abstractmethod
    def schedules(self) -> list[Schedule]:
        """The schedules this backend fires for this queue, by name."""

    @abstractmethod
    def unschedule(self, name: str) -> bool:
        """Forget the schedule; False when there was none."""

    @abstractmethod
    def status(self, job_id: str) -> JobStatus:
        """The job's :class:`jobs.JobStatus`; :class:`jobs.JobNotFound` for an unknown id."""

    @abstractmethod
    def progress(self, job_id: str) -> Progress | None:
        """The job's last :func:`jobs.report_progress`, None before any; :class:`jobs.JobNotFound` for an unknown id."""

    @abstractmethod
    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for the job; return its value or raise what it raised (as :class:`jobs.JobFailed`)."""

    @abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Stop the job from running if it has not started; True when it will not run."""

    @abstractmethod
    def exists(self, job_id: str) -> bool:
        """Whether the backend knows this id (it may have expired on Redis)."""

    def holds(self, job: Any) -> bool:
        """Whether ``job`` (a :class:`jobs.Job`) lives in this backend's store, so jobs here may wait for it."""
        return job._backend is self

    @abstractmethod
    def close(self) -> None:
        """Release processes and connections; safe to call twice."""


class RunsInProcess(ABC):
    """A backend with no workers of its own: queued jobs run in this process when asked (fakeredis)."""

    @abstractmethod
    def run_pending(self) -> int:
        """Run the queued jobs now, in this process; return how many ran."""
