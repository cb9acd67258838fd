"""The options of ``workers supervise``, as the supervisor and its children read them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class SupervisorConfig:
    """Options of ``workers supervise``; durations in seconds (``_s``)."""

    url: str
    queues: tuple[str, ...] = ("default",)
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    burst: bool = False
    #: A child exits once idle this long; the supervisor exits when all have (None: never).
    max_idle_s: float | None = None
    #: Jobs each child runs at once, on threads (1: on its main thread; workers/job_runner.py).
    threads: int = 1
    #: ``async def`` jobs each child runs at once on its event loop (0: one at a time; workers/async_jobs.py).
    max_async: int = 0
    #: RQ's dequeue strategy: default, round_robin or random (workers/dequeue_order.py).
    dequeue_strategy: str = "default"
    max_jobs_per_child: int | None = None
    max_losses: int = 3
    shutdown_timeout_s: float = 30.0
    worker_class: str = "workers.worker.BatchWorker"
    serializer: str = "pickle"
    log_level: str = "INFO"
    #: A supervisor silent this long is a lost host; others re-queue its jobs within ~1.25x it.
    host_timeout_s: float = 45.0
    #: Consecutive failed starts of one child after which the supervisor gives up.
    max_start_failures: int = 5
    #: Seconds past its timeout a job may ignore SIGALRM before its worker is killed.
    timeout_grace_s: float = 10.0
    #: Dotted paths of :class:`workers.hooks.Hook` classes every worker runs.
    hooks: tuple[str, ...] = ()
    #: Serve Prometheus metrics on this port (None: off) and address (see :mod:`workers.metrics`).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
