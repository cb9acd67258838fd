"""``await job``: a job's result in asyncio, without blocking the event loop.

The loop's thread only registers the job with its backend's shared :class:`jobs.watch.Watcher`
(a lock and a queue put; no socket or pipe wait); the watcher thread sees the job end and hands
the outcome to the loop through ``asyncio.wrap_future``. Cancelling the ``await`` cancels that
wait, never the job: ``job.cancel()`` does that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from typing import TYPE_CHECKING, Any

from .watch import shared_watcher

if TYPE_CHECKING:
    from .job import Job

__all__ = ["wait_for_job"]


async def wait_for_job(job: Job) -> Any:
    """The job's value, or raise what ``job.result()`` raises."""
    outcome: cf.Future[Any] = cf.Future()

    def on_end(ok: bool, value: Any) -> None:
        try:
            if ok:
                outcome.set_result(value)
            else:
                outcome.set_exception(value)
        except cf.InvalidStateError:  # the await was cancelled meanwhile
            pass

    shared_watcher(job._backend).add(job, on_end)
    return await asyncio.wrap_future(outcome)
