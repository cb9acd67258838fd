"""Entry point of a child process: signals, parent-death watch, worker class, run, exit code.

Exit codes the supervisor reads are :class:`workers.exit_codes.ExitCode`: ``OK`` stopped or
burst done, ``RECYCLE`` ran ``--max-jobs-per-child`` jobs and wants a fresh process,
``START_FAILED`` could not start (its error is in the shared slot). Anything else, or a
signal, is a crash: its held jobs are re-queued by the supervisor.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rq.utils import import_attribute

from jobs.backends.redis_errors import TRANSIENT_ERRORS
from jobs.backoff import Backoff
from jobs.rq_format import keys
from jobs.urls import connect, describe_server

from . import hooks
from .counters import JobCounter
from .exit_codes import ExitCode
from .worker import BatchWorker, ChildSlot

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildConfig:
    """What a child needs to build its worker; plain data, so it crosses any start method."""

    url: str
    queues: tuple[str, ...]
    name: str
    worker_class: str = "workers.worker.BatchWorker"
    serializer: str = "pickle"
    burst: bool = False
    max_jobs: int | None = None
    max_idle_s: float | None = None
    dequeue_strategy: str = "default"
    threads: int = 1
    max_async: int = 0
    supervisor_id: str = ""
    parent_pid: int = 0
    log_level: str = "INFO"
    #: dotted paths of :class:`workers.hooks.Hook` classes (or instances)
    hooks: tuple[str, ...] = ()


def main(config: ChildConfig, slot: ChildSlot, counts: Any = None) -> None:
    """Run one worker until it is told to stop; never returns (exits with a named code).

    ``counts``: the shared block :class:`workers.counters.JobCounter` counts into (``--metrics-port``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)
    _die_with_parent(config.parent_pid)
    # A SIGTERM that arrives before the worker installs its own handler must not be lost (the
    # handler inherited from the supervisor would swallow it, and a stop would wait its whole
    # --shutdown-timeout for this child): remember it, and hand it to the worker once built.
    early_stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: early_stop.append(signum))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        worker = _build(config, slot, counts)
    except Exception as exc:  # noqa: BLE001 - any start failure becomes one line for the supervisor
        slot.error = f"{type(exc).__name__}: {exc}".encode()[:500]
        log.error("worker %s could not start: %s: %s", config.name, type(exc).__name__, exc)
        sys.stdout.flush()
        os._exit(ExitCode.START_FAILED)
    if early_stop:
        worker._stop_requested = True
    slot.ready = 1
    gc.freeze()  # start-up objects (RQ, redis-py, the job modules) stay out of every GC pass
    done = worker.run(burst=config.burst, max_jobs=config.max_jobs, max_idle_s=config.max_idle_s)
    recycle = config.max_jobs is not None and done >= config.max_jobs
    logging.shutdown()
    os._exit(ExitCode.RECYCLE if recycle else ExitCode.OK)


def _build(config: ChildConfig, slot: ChildSlot, counts: Any) -> BatchWorker:
    worker_class = worker_class_of(config.worker_class)
    connection = connect(config.url)
    counting = [] if counts is None else [JobCounter(counts, config.queues)]
    worker = worker_class(list(config.queues), name=config.name, connection=connection,
                          serializer=config.serializer, slot=slot, hooks=[*counting, *hooks.load(config.hooks)],
                          threads=config.threads, max_async=config.max_async, supervisor_id=config.supervisor_id, prepare_for_work=False)
    worker.install_child_signals()
    worker.set_dequeue_strategy(config.dequeue_strategy)
    backoff = Backoff(first=0.2)
    while True:  # Redis down is a wait, not a start failure: the supervisor would crash-loop us
        try:
            worker.register_birth()
            worker.set_state("idle")
            return worker
        except TRANSIENT_ERRORS as exc:
            delay = backoff.next()
            log.warning("worker %s: Redis at %s unavailable (%s); retrying in %.1f s",
                        config.name, describe_server(connection), type(exc).__name__, delay)
            time.sleep(delay)
            if worker._stop_requested:
                os._exit(ExitCode.OK)


def worker_class_of(path: str) -> type[BatchWorker]:
    """The ``--worker-class``: a :class:`BatchWorker` subclass that overrides none of the RQ methods
    a batch worker never calls (that code would silently not run); TypeError saying what to do."""
    worker_class = import_attribute(path)
    if not (isinstance(worker_class, type) and issubclass(worker_class, BatchWorker)):
        raise TypeError(f"--worker-class {path} is not a subclass of workers.worker.BatchWorker")
    overridden = hooks.bypassed_overrides(worker_class, BatchWorker)
    if overridden:
        raise TypeError(f"--worker-class {path} overrides {', '.join(overridden)}, which workers supervise never "
                        "calls (it runs jobs in batches): move that code to a hook (--hook, a subclass of "
                        "workers.hooks.Hook; see docs/supervisor.md)")
    if not keys.Prefixes.of(worker_class.queue_class, worker_class.job_class).default:
        raise TypeError(f"--worker-class {path}: its job_class or queue_class has its own key prefix, which "
                        "workers supervise does not serve (the supervisor re-queues a dead worker's jobs by RQ's "
                        "default keys); keep RQ's prefixes, or run such queues with rq worker")
    return worker_class


def _die_with_parent(parent_pid: int) -> None:
    """Make sure this child never outlives its supervisor, even one killed by SIGKILL.

    Linux: PR_SET_PDEATHSIG delivers SIGKILL when the parent dies (its held jobs are then
    re-queued by another supervisor as a lost host). Elsewhere, and as a second line, a thread
    polls ``os.getppid()``.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before prctl took effect

    def watch() -> None:
        while True:
            if parent_pid and os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(1.0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
