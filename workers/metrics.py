"""``workers supervise --metrics-port PORT``: Prometheus metrics on ``/metrics``, off unless asked.

Served by the supervisor (one HTTP thread of prometheus_client), on 127.0.0.1 unless
``--metrics-host`` says otherwise: a port nobody asked for is a port nobody secures
(dramatiq#309). What a scrape returns:

- ``jobfleet_jobs_total{queue,status}``: ``finished`` and ``failed`` (ended so, counted by the
  children once their batch is in Redis: see :mod:`workers.counters`), ``requeued`` (put back
  to run again: a retry after a failure, or a dead worker's held job), ``lost`` (given up after
  too many losses), the last two from the supervisor's own recovery work. A job counts once
  per way it ended: ``finished + failed + lost`` is the jobs that ended here.
- ``jobfleet_job_duration_seconds{queue}``: histogram of how long jobs ran.
- ``jobfleet_queue_jobs{queue,state}`` and ``jobfleet_queue_oldest_job_age_seconds{queue}``:
  read from Redis at each scrape, fleet-wide (any one supervisor is enough for an autoscaler),
  in three round trips whatever the queues hold (:func:`jobs.rq_format.reads.queue_states`).
- ``jobfleet_workers{state}`` (``busy``/``idle``, this supervisor's children) and
  ``jobfleet_worker_restarts_total``.

Counts survive a child's restart (the supervisor folds a dead child's shared counters into its
totals) but not the supervisor's own: Prometheus's ``rate()`` and ``increase()`` handle the reset.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry as Collectors  # a call of *Registry is RQ's to tests/test_structure
from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.errors import ConfigError
from jobs.rq_format import reads
from jobs.urls import connect

from . import counters
from .recovery import Requeued

log = logging.getLogger(__name__)

#: What a recovery action counts as in ``jobfleet_jobs_total``.
RECOVERY_STATUS = {"requeued": "requeued", "lost": "lost", "timed out": "failed", "unreadable": "failed"}
#: The ``status`` label's values, and where the children count each (lost: only the supervisor).
JOB_STATUSES = ("finished", "failed", "lost", "requeued")
_SLOT_OF = {name: slot for slot, name in counters.STATUSES.items()}


class Metrics:
    """The supervisor's counts and its ``/metrics`` endpoint; every method is thread-safe."""

    def __init__(self, url: str, queues: Sequence[str], ctx: Any) -> None:
        self.queues = tuple(queues)
        self._ctx = ctx
        self._lock = threading.Lock()
        self._retired = [0.0] * counters.size(self.queues)  # folded blocks of children that ended
        self._live: dict[int, tuple[Any, Any]] = {}  # child index -> (its block, its ChildSlot)
        self._recovered: Counter[tuple[str, str]] = Counter()  # (queue, status) -> jobs
        self._restarts = 0
        self._redis = connect(url)  # the scrape thread's own client
        self._server: Any = None

    # -- the supervisor's side --------------------------------------------------------------
    def block_for(self, index: int, slot: Any, restart: bool) -> Any:
        """A fresh zeroed block for child ``index`` (call before forking it)."""
        block = self._ctx.RawArray("d", counters.size(self.queues))
        with self._lock:
            self._live[index] = (block, slot)
            self._restarts += restart
        return block

    def child_ended(self, index: int) -> None:
        """Fold the dead child's counts into the totals (it writes no more: it is gone)."""
        with self._lock:
            found = self._live.pop(index, None)
            if found is not None:
                self._retired = [a + b for a, b in zip(self._retired, found[0])]

    def recovered(self, events: list[Requeued] | None) -> None:
        with self._lock:
            for event in events or ():
                status = RECOVERY_STATUS.get(event.action)
                if status is not None:
                    self._recovered[(event.queue or "unknown", status)] += 1

    # -- serving ----------------------------------------------------------------------------
    def serve(self, host: str, port: int) -> None:
        """Listen on ``host:port``; ConfigError (before any worker starts) when that fails."""
        registry = Collectors(auto_describe=False)
        registry.register(self)
        try:
            self._server, _ = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise ConfigError(f"--metrics-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}): "
                              "choose a free port (or another --metrics-host)") from exc
        log.info("metrics on http://%s:%d/metrics", host, port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._redis.close()

    def collect(self) -> Iterator[Metric]:
        """One scrape: the counters in memory, then the queues' states from Redis."""
        with self._lock:
            totals = list(self._retired)
            for block, _ in self._live.values():
                totals = [a + b for a, b in zip(totals, block)]
            recovered, restarts = Counter(self._recovered), self._restarts
            busy = sum(1 for _, slot in self._live.values() if slot.running)
            idle = len(self._live) - busy
        yield self._jobs_total(totals, recovered)
        yield self._durations(totals)
        workers = GaugeMetricFamily("jobfleet_workers", "Worker processes of this supervisor, by state.", labels=["state"])
        workers.add_metric(["busy"], busy)
        workers.add_metric(["idle"], idle)
        yield workers
        yield CounterMetricFamily("jobfleet_worker_restarts", "Worker processes this supervisor started again.",
                                  value=restarts)
        yield from self._queue_gauges()

    def _jobs_total(self, totals: list[float], recovered: Counter[tuple[str, str]]) -> Metric:
        family = CounterMetricFamily("jobfleet_jobs", "Jobs by how they ended here: finished, failed, lost, requeued.",
                                     labels=["queue", "status"])
        names = sorted({*self.queues, *(queue for queue, _ in recovered)})
        for queue in names:
            base = self.queues.index(queue) * counters.STRIDE if queue in self.queues else None
            for status in JOB_STATUSES:
                slot = _SLOT_OF.get(status)
                counted = totals[base + slot] if base is not None and slot is not None else 0.0
                family.add_metric([queue, status], counted + recovered[(queue, status)])
        return family

    def _durations(self, totals: list[float]) -> Metric:
        family = HistogramMetricFamily("jobfleet_job_duration_seconds", "How long jobs ran, in seconds.",
                                       labels=["queue"])
        for index, queue in enumerate(self.queues):
            buckets, total_s = counters.histogram(totals, index * counters.STRIDE)
            family.add_metric([queue], buckets, total_s)
        return family

    def _queue_gauges(self) -> Iterator[Metric]:
        try:
            states = reads.queue_states(self._redis)
        except TRANSIENT_ERRORS as exc:  # the counters above still go out; the gauges are simply absent
            log.warning("metrics: cannot read queue states from Redis (%s)", type(exc).__name__)
            return
        jobs = GaugeMetricFamily("jobfleet_queue_jobs", "Jobs in each queue by state, fleet-wide (read from Redis).",
                                 labels=["queue", "state"])
        oldest = GaugeMetricFamily("jobfleet_queue_oldest_job_age_seconds",
                                   "How long the job at the head of each queue has waited (0: empty).", labels=["queue"])
        for queue in states:
            for state, count in queue.counts.items():
                jobs.add_metric([queue.name, state], count)
            oldest.add_metric([queue.name], queue.oldest_queued_age_s or 0.0)
        yield jobs
        yield oldest


class NoMetrics:
    """What the supervisor holds without ``--metrics-port``: counts nothing, serves nothing."""

    def block_for(self, index: int, slot: Any, restart: bool) -> None:
        return None

    def child_ended(self, index: int) -> None:
        pass

    def recovered(self, events: list[Requeued] | None) -> None:
        pass

    def serve(self, host: str, port: int) -> None:
        pass

    def close(self) -> None:
        pass
