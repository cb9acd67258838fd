"""Worker hooks: your code around every job, in the spirit of Dramatiq's middleware.

``workers supervise`` runs jobs in batches and writes their records in one transaction, so
RQ's per-job methods (``perform_job``, ``handle_job_success``, ...) are never called and
overriding them in a ``--worker-class`` would silently do nothing (the worker refuses to start
instead; see :data:`BYPASSED`). Hooks are the supported way in::

    class Timing(workers.hooks.Hook):
        def after_job(self, worker, outcome):
            statsd.timing(outcome.job.func_name, outcome.duration_s)

    $ workers supervise --hook myapp.hooks.Timing ...

Every method is a no-op here; override the ones you need. A hook that raises is logged and
never fails, loses or delays the job: the job's outcome is decided by the job alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rq.job import Job
from rq.queue import Queue

from jobs.rq_format.markers import Failure

if TYPE_CHECKING:
    from .worker import BatchWorker

log = logging.getLogger(__name__)

#: RQ worker methods a batch worker never calls; a ``--worker-class`` overriding one is refused.
BYPASSED = (
    "work", "execute_job", "perform_job", "prepare_job_execution", "prepare_execution", "handle_job_success",
    "handle_job_failure", "handle_job_retry", "handle_execution_ended", "dequeue_job_and_maintain_ttl",
    "fork_work_horse", "main_work_horse", "monitor_work_horse", "heartbeat", "maintain_heartbeats",
    "increment_successful_job_count", "increment_failed_job_count", "increment_total_working_time",
)


@dataclass
class JobOutcome:
    """How one job ended, as the worker will write it.

    ``ok``: it returned ``value``; else it failed with ``exc_string`` (a traceback text) and,
    when the reason is not the job's own exception (unreadable payload...), ``failure``.
    ``duration_s``: seconds it ran. A job that fails with retries left is retried by RQ.
    """

    job: Job
    queue: Queue
    ok: bool
    value: Any = None
    exc_string: str = ""
    failure: Failure | None = None
    duration_s: float = 0.0


class Hook:
    """No-op hooks; subclass and override. Instances live in one worker process for its life."""

    def worker_started(self, worker: BatchWorker) -> None:
        """The worker registered with Redis and is about to take its first batch."""

    def worker_stopping(self, worker: BatchWorker) -> None:
        """The worker wrote its last batch and put back what it did not run; it deregisters next."""

    def before_job(self, worker: BatchWorker, job: Job) -> None:
        """The job is about to run, in this process (its timeout has not started yet)."""

    def after_job(self, worker: BatchWorker, outcome: JobOutcome) -> None:
        """The job ran; its outcome is not written to Redis yet (it is, with its batch, soon)."""

    def after_batch(self, worker: BatchWorker, outcomes: Sequence[JobOutcome]) -> None:
        """These outcomes are now in Redis (one transaction): count what is durable here.

        Called on the worker's thread, or on its heartbeat thread when the batch of a job that
        runs long is written while that job runs: keep it thread-safe (a counter, a queue).
        """


class Hooks:
    """Calls each hook that overrides an event, in order; a hook that raises is logged, never fatal."""

    def __init__(self, hooks: Sequence[Hook] = ()) -> None:
        self.hooks = tuple(hooks)
        events = ("worker_started", "worker_stopping", "before_job", "after_job", "after_batch")
        # Only the overriding methods, bound once: a worker with no hooks pays one empty loop per call.
        self._bound = {event: [getattr(h, event) for h in self.hooks if getattr(type(h), event) is not getattr(Hook, event)]
                       for event in events}

    def _call(self, event: str, *args: Any) -> None:
        for method in self._bound[event]:
            try:
                method(*args)
            except Exception:  # noqa: BLE001 - a broken hook must not touch the job
                log.exception("hook %s.%s failed; the job goes on", type(method.__self__).__qualname__, event)

    def worker_started(self, worker: BatchWorker) -> None:
        self._call("worker_started", worker)

    def worker_stopping(self, worker: BatchWorker) -> None:
        self._call("worker_stopping", worker)

    def before_job(self, worker: BatchWorker, job: Job) -> None:
        if self._bound["before_job"]:
            self._call("before_job", worker, job)

    def after_job(self, worker: BatchWorker, outcome: JobOutcome) -> None:
        if self._bound["after_job"]:
            self._call("after_job", worker, outcome)

    def after_batch(self, worker: BatchWorker, outcomes: Sequence[JobOutcome]) -> None:
        if self._bound["after_batch"] and outcomes:
            self._call("after_batch", worker, outcomes)


def load(paths: Sequence[str]) -> list[Hook]:
    """Instances of the hooks named by dotted paths (a :class:`Hook` subclass, or an instance)."""
    from rq.utils import import_attribute

    hooks: list[Hook] = []
    for path in paths:
        try:
            found = import_attribute(path)
        except (ImportError, AttributeError, ValueError) as exc:
            raise TypeError(f"--hook {path}: cannot import it ({type(exc).__name__}: {exc})") from exc
        if isinstance(found, type) and issubclass(found, Hook):
            hooks.append(found())
        elif isinstance(found, Hook):
            hooks.append(found)
        else:
            raise TypeError(f"--hook {path} is not a subclass (or an instance) of workers.hooks.Hook")
    return hooks


def bypassed_overrides(worker_class: type, base: type) -> list[str]:
    """The :data:`BYPASSED` methods ``worker_class`` overrides (relative to ``base``)."""
    return [name for name in BYPASSED if getattr(worker_class, name, None) is not getattr(base, name, None)]
