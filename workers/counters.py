"""Job counts a child keeps in shared memory for the supervisor's ``/metrics``, without Redis.

Each child gets its own block of doubles (``multiprocessing`` shared memory the supervisor
allocates before the fork and owns). Only the child writes it, from :class:`JobCounter`'s
``after_batch`` hook, so a count is added only once its batch is durable in Redis; the
supervisor only reads it. When a child ends, however it ends (SIGKILL included), the
supervisor folds the block into its running totals before it starts the replacement, so
counts survive restarts. A child killed in the instant between its batch's write and the
increment loses that one batch's counts: the counters can lag Redis by one batch, never lead.

Layout, per queue the supervisor serves: ``finished``, ``failed``, ``requeued`` (failed with
retries left: RQ runs it again), the duration sum, then one count per :data:`BUCKETS` bound and
one for +Inf (not cumulative; :func:`histogram` makes them so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobs.status import JobStatus

from .hooks import Hook, JobOutcome

if TYPE_CHECKING:
    from .worker import BatchWorker

#: Upper bounds (seconds) of the job duration histogram's buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
FINISHED, FAILED, REQUEUED, DURATION_SUM, FIRST_BUCKET = range(5)
#: Doubles per queue.
STRIDE = FIRST_BUCKET + len(BUCKETS) + 1
#: What each status slot is called in ``jobfleet_jobs_total``.
STATUSES = {FINISHED: "finished", FAILED: "failed", REQUEUED: "requeued"}
_RETRIED = frozenset({JobStatus.QUEUED.value, JobStatus.SCHEDULED.value})


def size(queues: Sequence[str]) -> int:
    """Doubles a block for these queues holds."""
    return len(queues) * STRIDE


def bucket_of(duration_s: float) -> int:
    return next((i for i, bound in enumerate(BUCKETS) if duration_s <= bound), len(BUCKETS))


def status_slot(outcome: JobOutcome) -> int:
    if outcome.ok:
        return FINISHED
    # a failure with retries left was put back by RQ (queued, or scheduled after its interval)
    status = outcome.job.get_status(refresh=False)
    return REQUEUED if getattr(status, "value", status) in _RETRIED else FAILED


class JobCounter(Hook):
    """The child's side: count each durable outcome into this child's block."""

    def __init__(self, block: Any, queues: Sequence[str]) -> None:
        self.block = block
        self.base = {name: i * STRIDE for i, name in enumerate(queues)}

    def after_batch(self, worker: BatchWorker, outcomes: Sequence[JobOutcome]) -> None:
        block = self.block
        for outcome in outcomes:
            base = self.base.get(outcome.queue.name)
            if base is None:
                continue
            block[base + status_slot(outcome)] += 1
            block[base + DURATION_SUM] += outcome.duration_s
            block[base + FIRST_BUCKET + bucket_of(outcome.duration_s)] += 1


def histogram(block: Sequence[float], base: int) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` buckets as Prometheus wants them, and the duration sum."""
    buckets, running = [], 0.0
    for i, bound in enumerate([*BUCKETS, float("inf")]):
        running += block[base + FIRST_BUCKET + i]
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return buckets, block[base + DURATION_SUM]
