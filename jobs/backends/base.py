"""The small interface every backend implements.

A backend owns job ids: it stores calls, runs or hands them to workers, and answers for their
state. :class:`jobs.Queue` and :class:`jobs.Job` are thin handles over it, so the same user code
runs on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..options import JobOptions

#: The statuses a user sees; RQ's rarer ones (deferred, scheduled, stopped) pass through as they are.
QUEUED, STARTED, FINISHED, FAILED, CANCELED = "queued", "started", "finished", "failed", "canceled"
ENDED = frozenset({FINISHED, FAILED, CANCELED})


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
    def imap(
        self,
        func: Callable[..., Any],
        items: Iterable[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
        ordered: bool,
        star: bool,
    ) -> Iterator[Any]:
        """Run ``func`` over ``items``; yield results (in order when ``ordered``).

        Raises :class:`jobs.JobFailed` naming the failing item's index, :class:`jobs.ResultTimeout`
        when ``timeout`` (seconds for the whole call) runs out.
        """

    @abstractmethod
    def status(self, job_id: str) -> str:
        """One of ``queued``, ``started``, ``finished``, ``failed``, ``canceled`` (or RQ's own)."""

    @abstractmethod
    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for the job; return its value or raise what it raised (as :class:`jobs.JobFailed`)."""

    @abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Stop the job from running if it has not started; True when it will not run."""

    @abstractmethod
    def exists(self, job_id: str) -> bool:
        """Whether the backend knows this id (it may have expired on Redis)."""

    @abstractmethod
    def close(self) -> None:
        """Release processes and connections; safe to call twice."""

    def run_pending(self) -> int:
        """Run queued jobs in this process, for backends that can (fakeredis); return how many."""
        return 0
