"""Worker hooks and worker classes the tests pass to ``workers supervise`` (importable by its children)."""

from __future__ import annotations

from rq.job import Job

from workers.hooks import Hook, JobOutcome
from workers.worker import BatchWorker

#: The Redis list every recording hook appends its events to.
EVENTS = "tests:hook-events"


class RecordingHook(Hook):
    """Appends one line per event to :data:`EVENTS`; ``after_batch`` also records each job's
    stored status, so a test sees what was already in Redis when the hook ran."""

    def worker_started(self, worker: BatchWorker) -> None:
        worker.connection.rpush(EVENTS, "worker_started")

    def before_job(self, worker: BatchWorker, job: Job) -> None:
        worker.connection.rpush(EVENTS, f"before_job {job.id}")

    def after_job(self, worker: BatchWorker, outcome: JobOutcome) -> None:
        worker.connection.rpush(EVENTS, f"after_job {outcome.job.id} {'ok' if outcome.ok else 'failed'}")

    def after_batch(self, worker: BatchWorker, outcomes: list[JobOutcome]) -> None:  # type: ignore[override]
        for outcome in outcomes:
            stored = worker.connection.hget(outcome.job.key, "status")
            worker.connection.rpush(EVENTS, f"after_batch {outcome.job.id} {stored.decode() if stored else None}")

    def worker_stopping(self, worker: BatchWorker) -> None:
        worker.connection.rpush(EVENTS, "worker_stopping")


class BrokenHook(Hook):
    """Raises from every event."""

    def worker_started(self, worker: BatchWorker) -> None:
        raise RuntimeError("broken hook")

    def before_job(self, worker: BatchWorker, job: Job) -> None:
        raise RuntimeError("broken hook")

    def after_job(self, worker: BatchWorker, outcome: JobOutcome) -> None:
        raise RuntimeError("broken hook")

    def after_batch(self, worker: BatchWorker, outcomes: list[JobOutcome]) -> None:  # type: ignore[override]
        raise RuntimeError("broken hook")


class NotAHook:
    pass


class PerformJobWorker(BatchWorker):
    """What an RQ user writes for Sentry or a DB session; a batch worker never calls it."""

    def perform_job(self, job, queue):  # type: ignore[no-untyped-def]
        raise AssertionError("never called")
