"""The supervisor: start N children, watch them, restart the dead, re-queue what they held, stop.

One thread, one loop. Signal handlers only set flags and poke a wake-up pipe (logging inside a
handler can deadlock on the logging lock); the loop waits on the children's sentinels and that
pipe, so a death or a signal is acted on at once, and periodic work (heartbeat, lost-host
scan, due restarts) runs between waits.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis

from jobs.backends.redis_errors import TRANSIENT_ERRORS, is_permanent, translate
from jobs.backoff import Backoff
from jobs.rq_format import keys
from jobs.urls import connect, describe_server, redact

from . import recovery
from .child import ChildConfig
from .child import main as child_main
from .exit_codes import ExitCode
from .metrics import Metrics, NoMetrics
from .scheduling import ScheduledJobs
from .supervisor_config import SupervisorConfig
from .worker import ChildSlot

log = logging.getLogger(__name__)
#: A child that exits with an error code within this many seconds of its start crashed quickly.
QUICK_CRASH_S = 5.0


class StartFailed(Exception):
    """A child failed to start again and again; the message is the child's own error."""


@dataclass
class _Child:
    index: int
    generation: int = 0
    name: str = ""
    process: Any = None
    slot: ChildSlot | None = None
    #: consecutive failed starts, and the restart delay they earn
    start_failures: Backoff = field(default_factory=lambda: Backoff(first=0.2, cap=10.0))
    #: consecutive quick crashes of the child's own making (not signals), and their restart delay
    crashes: Backoff = field(default_factory=lambda: Backoff(first=0.1, cap=10.0))
    started_at: float = 0.0
    timed_out_job: str | None = None  # the job we killed this child for
    restart_at: float | None = 0.0  # monotonic time of the next start; None: not to be restarted


class Supervisor:
    """Runs ``config.processes`` :class:`workers.worker.BatchWorker` children; see the module doc."""

    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
        self.id = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.connection = connect(config.url)
        self.children = [_Child(i) for i in range(config.processes)]
        self._ctx = multiprocessing.get_context("fork")
        self._signals = 0
        self._unrecovered: list[tuple[str, str | None, str, bool]] = []
        self._next_beat = self._next_scan = self._next_schedule = 0.0
        self._scheduled = ScheduledJobs(self.connection, config.queues, config.serializer, config.log_level)
        self.metrics = NoMetrics() if config.metrics_port is None else Metrics(config.url, config.queues, self._ctx)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

    # -- signals -------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals += 1  # the loop reads it: first = drain, second = stop at once

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    # -- main ----------------------------------------------------------------------------
    def run(self) -> int:
        """Supervise until a signal (or, with ``--burst``, until the queues are empty); exit code."""
        self._install_signals()
        self.metrics.serve(self.config.metrics_host, self.config.metrics_port or 0)
        try:
            return self._run()
        finally:
            self.metrics.close()

    def _run(self) -> int:
        if not self._wait_for_redis():
            return 0
        log.info("supervisor %s: %d workers on %s, queues %s", self.id, len(self.children),
                 redact(self.config.url), ",".join(self.config.queues))
        try:
            self._heartbeat()
            self._loop()
        finally:
            self._shutdown()
            # Done: a late Ctrl-C must not kill the interpreter while it exits with our code.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return 0

    def _loop(self) -> None:
        while self._signals == 0:
            now = time.monotonic()
            for child in self.children:
                if child.process is None and child.restart_at is not None and child.restart_at <= now:
                    self._start(child)
            if self._ends_when_idle and all(c.process is None and c.restart_at is None for c in self.children):
                log.info("%s: all workers done", "burst: queues empty" if self.config.burst else "idle")
                return
            self._periodic(now)
            self._kill_overdue()
            self._wait(min(1.0, self._next_wake(now)))
            for child in self.children:
                if child.process is not None and child.process.exitcode is not None:
                    self._reaped(child)

    def _kill_overdue(self) -> None:
        """SIGKILL a child whose job outlived its timeout by the grace: SIGALRM did not stop it
        (a C extension that never returns to Python). The job is failed as timed out."""
        wall = time.time()
        for child in self.children:
            slot = child.slot
            if child.process is None or slot is None or not slot.deadline or child.timed_out_job:
                continue
            if wall > slot.deadline + self.config.timeout_grace_s:
                child.timed_out_job = slot.running.decode().split(" ")[0] or None  # --threads: the one due first
                log.warning("worker %s: job %s ignored its timeout for %.0f s; killing the worker",
                            child.name, child.timed_out_job, self.config.timeout_grace_s)
                _signal(child.process, signal.SIGKILL)

    def _next_wake(self, now: float) -> float:
        due = [c.restart_at for c in self.children if c.process is None and c.restart_at is not None]
        return max(0.0, min([self._next_beat, self._next_scan, self._next_schedule, *due]) - now)

    def _wait(self, timeout: float) -> None:
        sentinels = [c.process.sentinel for c in self.children if c.process is not None]
        multiprocessing.connection.wait([*sentinels, self._wake_r], timeout)
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _wait_for_redis(self) -> bool:
        """Ping Redis with backoff; one line per attempt naming host:port, never a password."""
        backoff = Backoff(first=0.5, cap=10.0)
        while self._signals == 0:
            try:
                self.connection.ping()
                return True
            except redis.exceptions.RedisError as exc:
                if is_permanent(exc) or not isinstance(exc, TRANSIENT_ERRORS):
                    # a wrong password or certificate: waiting will not cure it, say so and stop
                    raise translate(describe_server(self.connection), exc) from exc
                log.error("Redis at %s is unreachable (%s); retrying in %.1f s",
                          describe_server(self.connection), type(exc).__name__, backoff.peek())
                backoff.sleep(self._wait)
        return False

    @property
    def _ends_when_idle(self) -> bool:
        """A child that ends on its own (code 0) is done, not restarted: --burst, --max-idle-time."""
        return self.config.burst or self.config.max_idle_s is not None

    # -- children ------------------------------------------------------------------------
    def _start(self, child: _Child) -> None:
        child.generation += 1
        child.name = f"{self.id}.{child.index}.{child.generation}"
        child.slot = self._ctx.RawValue(ChildSlot)
        counts = self.metrics.block_for(child.index, child.slot, child.generation > 1)
        config = ChildConfig(url=self.config.url, queues=self.config.queues, name=child.name,
                             worker_class=self.config.worker_class, serializer=self.config.serializer,
                             burst=self.config.burst, max_jobs=self.config.max_jobs_per_child,
                             max_idle_s=self.config.max_idle_s, dequeue_strategy=self.config.dequeue_strategy,
                             threads=self.config.threads, max_async=self.config.max_async, supervisor_id=self.id,
                             parent_pid=os.getpid(), log_level=self.config.log_level, hooks=self.config.hooks)
        try:
            self.connection.sadd(keys.supervisor_workers(self.id), child.name)
        except TRANSIENT_ERRORS:
            pass  # the next heartbeat adds it
        # Signals stay blocked while the child starts, so it never runs our handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            child.process = self._ctx.Process(target=child_main, args=(config, child.slot, counts), name=child.name,
                                              daemon=False)
            child.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        child.restart_at = None
        child.started_at = time.monotonic()
        log.info("worker %s started (pid %d)", child.name, child.process.pid)

    def _reaped(self, child: _Child) -> None:
        """A child ended: re-queue what it held, then decide when (or whether) to restart it."""
        process, slot = child.process, child.slot
        assert process is not None and slot is not None
        process.join(0)
        self.metrics.child_ended(child.index)
        code = process.exitcode
        running = slot.running.decode() or None
        timed_out, child.timed_out_job = child.timed_out_job, None
        child.process = None
        if code in (ExitCode.OK, ExitCode.RECYCLE):
            log.info("worker %s exited (%s)", child.name, "recycled" if code else "done")
            self._recover(child.name, None, "worker stopped")
            child.start_failures.reset()
            child.restart_at = None if (code == 0 and self._ends_when_idle) or self._signals else time.monotonic()
            return
        reason = f"worker died by signal {-code}" if code < 0 else f"worker exited with code {code}"
        log.warning("worker %s (pid %d) %s%s", child.name, process.pid, reason.removeprefix("worker "),
                    f" while running job {running}" if running else "")
        if timed_out and timed_out in (running or "").split():  # its thread-mates go back uncharged
            reason = f"timed out: the job ignored SIGALRM for {self.config.timeout_grace_s:g} s past its timeout"
            self._recover(child.name, timed_out, reason, timed_out=True)
        else:
            self._recover(child.name, running, reason)
        if not slot.ready and code == ExitCode.START_FAILED:
            delay = child.start_failures.next()
            if child.start_failures.attempts >= self.config.max_start_failures:
                error = slot.error.decode() or reason
                raise StartFailed(f"worker failed to start {child.start_failures.attempts} times: {error}")
            log.warning("worker %s: restarting in %.1f s (%d failed starts)", child.name, delay,
                        child.start_failures.attempts)
            child.restart_at = time.monotonic() + delay
        else:
            child.start_failures.reset()
            child.restart_at = None if self._signals else time.monotonic() + self._crash_delay(child, code)

    def _crash_delay(self, child: _Child, code: int) -> float:
        """Killed from outside (a signal: OOM, a poison job): restart at once, its job re-runs.
        Crashed on its own (an exit code, e.g. a bug in a --worker-class) soon after its start:
        back off, 0.1 s doubling to 10 s, so a broken worker does not spin."""
        if code < 0 or time.monotonic() - child.started_at >= QUICK_CRASH_S:
            child.crashes.reset()
            return 0.0
        delay = child.crashes.next()
        log.warning("worker %s: restarting in %.1f s (%d quick crashes)", child.name, delay, child.crashes.attempts)
        return delay

    def _recover(self, name: str, running: str | None, reason: str, timed_out: bool = False) -> None:
        self._unrecovered.append((name, running, reason, timed_out))
        self._retry_recovery()

    def _retry_recovery(self) -> None:
        waiting, self._unrecovered = self._unrecovered, []
        for name, running, reason, timed_out in waiting:
            try:
                events = recovery.recover_worker(self.connection, name, lost_job_id=running, reason=reason,
                                                 max_losses=self.config.max_losses, serializer=self.config.serializer,
                                                 claimer=self.id, timed_out=timed_out)
                self.metrics.recovered(events)
                self.connection.srem(keys.supervisor_workers(self.id), name)
            except TRANSIENT_ERRORS as exc:
                log.warning("cannot re-queue jobs of worker %s yet (%s); will retry", name, type(exc).__name__)
                self._unrecovered.append((name, running, reason, timed_out))

    # -- periodic ------------------------------------------------------------------------
    def _periodic(self, now: float) -> None:
        if now >= self._next_beat:
            self._heartbeat()
            self._next_beat = now + self.config.host_timeout_s / 3
            if self._unrecovered:
                self._retry_recovery()
        if now >= self._next_scan:
            self._next_scan = now + max(self.config.host_timeout_s / 4, 0.1)
            self._scan_lost_hosts()
        if now >= self._next_schedule:
            self._next_schedule = now + 1.0
            try:
                self._next_schedule = now + self._scheduled.tick()
            except Exception:  # noqa: BLE001 - a bug in one tick must not end the supervisor: the next retries
                log.exception("scheduled jobs, schedules or waiting jobs: this tick failed")

    def _heartbeat(self) -> None:
        """Say this host is alive; also re-creates our keys after a Redis restart."""
        names = [c.name for c in self.children if c.process is not None]
        try:
            with self.connection.pipeline() as pipe:
                pipe.hset(keys.supervisor(self.id), mapping={
                    "host": socket.gethostname(), "pid": os.getpid(), "queues": ",".join(self.config.queues),
                    "processes": len(self.children), "heartbeat": time.time()})
                pipe.pexpire(keys.supervisor(self.id), max(1, int(self.config.host_timeout_s * 1000)))
                pipe.sadd(keys.SUPERVISORS, self.id)
                if names:
                    pipe.sadd(keys.supervisor_workers(self.id), *names)
                pipe.execute()
        except TRANSIENT_ERRORS as exc:
            log.warning("supervisor heartbeat failed: Redis at %s: %s", describe_server(self.connection),
                        type(exc).__name__)

    def _scan_lost_hosts(self) -> None:
        try:
            for sid in recovery.lost_supervisors(self.connection):
                if sid != self.id:
                    events = recovery.recover_host(self.connection, sid, max_losses=self.config.max_losses,
                                                   serializer=self.config.serializer, claimer=self.id)
                    self.metrics.recovered(events)
        except TRANSIENT_ERRORS as exc:
            log.debug("lost-host scan skipped: %s", exc)
        except Exception:  # noqa: BLE001 - one bad record must not stop the supervisor; the next scan retries
            log.exception("lost-host scan failed; retrying in %.1f s", max(self.config.host_timeout_s / 4, 0.1))

    # -- stopping ------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """Warm: SIGTERM children, wait up to the timeout; then kill the rest. Jobs go back."""
        alive = [c for c in self.children if c.process is not None]
        cold = self._signals > 1
        if alive:
            log.info("shutdown: stopping %d workers (%s)", len(alive),
                     "at once" if cold else f"up to {self.config.shutdown_timeout_s:g} s for running jobs")
        for child in alive:
            child.restart_at = None
            _signal(child.process, signal.SIGTERM)
        deadline = time.monotonic() + (0 if cold else self.config.shutdown_timeout_s)
        while any(c.process is not None for c in self.children):
            if self._signals > 1 or time.monotonic() >= deadline:
                break
            self._wait(min(0.5, max(0.0, deadline - time.monotonic())))
            for child in self.children:
                if child.process is not None and child.process.exitcode is not None:
                    self._reaped(child)
        self._kill_remaining()
        self._retry_recovery()
        self._scheduled.stop()
        self._unregister()
        log.info("shutdown complete")

    def _kill_remaining(self) -> None:
        for child in self.children:
            if child.process is None:
                continue
            log.warning("shutdown: killing worker %s (pid %d); its jobs go back to the queue",
                        child.name, child.process.pid)
            _signal(child.process, signal.SIGKILL)
            child.process.join(10)
            self.metrics.child_ended(child.index)
            child.process = None
            child.restart_at = None
            self._unrecovered.append((child.name, None, "stopped by shutdown", False))

    def _unregister(self) -> None:
        try:
            with self.connection.pipeline() as pipe:
                pipe.delete(keys.supervisor(self.id))
                if not self._unrecovered:
                    pipe.delete(keys.supervisor_workers(self.id))
                    pipe.srem(keys.SUPERVISORS, self.id)
                pipe.execute()
        except TRANSIENT_ERRORS as exc:
            log.warning("could not unregister supervisor %s: %s", self.id, type(exc).__name__)


def _signal(process: Any, signum: int) -> None:
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:
        pass
