"""One round of one system: start its client and its 2 worker processes, collect the figures, stop both.

The client (``benchmarks.peers.driver``) starts first and connects; then the workers are
launched and the launch time goes to the client, which enqueues the first job at once, so
cold start is launch → first result as a user sees it. Workers and client run in their own
process groups and are stopped by PID (``harness.Processes``): nothing outlives its round.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmarks.harness import ROOT, Processes, child_env
from benchmarks.peers.systems import System

READY_TIMEOUT_S = 60.0
ROUND_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 3.0


class RoundFailed(RuntimeError):
    """A round gave no figures: the reason and the tail of its log."""


@dataclass(frozen=True)
class Sizes:
    latency: int  # W2: single jobs, one at a time
    noop: int  # W1
    sleep: int  # W3
    async_jobs: int  # W4
    rounds: int


FULL = Sizes(latency=200, noop=5_000, sleep=200, async_jobs=200, rounds=3)
QUICK = Sizes(latency=30, noop=500, sleep=50, async_jobs=50, rounds=1)


@dataclass
class Sample:
    version: str
    cold_s: float
    latency_ms: list[float]
    noop_jobs_per_s: float
    sleep_s: float
    async_s: float | None = None
    async_error: str | None = None
    worker_deaths: int = 0
    stop_s: float = 0.0  # SIGTERM to the workers until they are gone: not a figure, the round's cost


def _lines(stream: IO[str]) -> "queue.Queue[str | None]":
    """The lines of ``stream``, read by a thread, so that every read can have a timeout."""
    found: "queue.Queue[str | None]" = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line.strip())
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return found


def _next(lines: "queue.Queue[str | None]", want: str, timeout: float) -> str:
    """The next line starting with ``want``; other lines (a library's chatter) are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RoundFailed(f"no {want!r} from the client within {timeout:.0f} s") from None
        if line is None:
            raise RoundFailed(f"the client exited before printing {want!r}")
        if line.startswith(want):
            return line


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def one_round(system: System, python: str, url: str, sizes: Sizes, log: Path) -> Sample:
    """Run every workload once against ``system``; raise ``RoundFailed`` with the log's tail if it breaks."""
    command = [python, "-m", "benchmarks.peers.driver", system.app, url, "--latency", str(sizes.latency),
               "--noop", str(sizes.noop), "--sleep", str(sizes.sleep)]
    if system.async_jobs:
        command += ["--async", str(sizes.async_jobs)]
    with open(log, "ab") as err:
        client = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                  env=child_env(), cwd=ROOT, start_new_session=True)
    try:
        assert client.stdin is not None and client.stdout is not None
        lines = _lines(client.stdout)
        _next(lines, "ready", READY_TIMEOUT_S)
        commands = system.workers(python, url)  # before the clock: building one may run a subprocess
        with Processes() as procs:
            launched = time.monotonic()
            workers = [procs.start(cmd, log) for cmd in commands]
            client.stdin.write(f"{launched!r}\n")
            client.stdin.flush()
            found = json.loads(_next(lines, "{", ROUND_TIMEOUT_S))
            deaths = sum(w.poll() is not None for w in workers)
            stopping = time.monotonic()
            for worker in workers:  # the figures are in: a peer slow to drain (saq 10 s) is killed
                Processes.stop(worker, timeout=STOP_TIMEOUT_S)
        stop_s = time.monotonic() - stopping
    except RoundFailed as exc:
        raise RoundFailed(f"{system.key}: {exc}\n{_tail(log)}") from None
    finally:
        Processes.stop(client)
    if "error" in found:
        raise RoundFailed(f"{system.key}: {found['error']}\n{_tail(log)}")
    return Sample(version=found["version"], cold_s=found["cold_s"], latency_ms=found["latency_ms"],
                  noop_jobs_per_s=found["noop_jobs_per_s"], sleep_s=found["sleep_s"],
                  async_s=found.get("async_s"), async_error=found.get("async_error"), worker_deaths=deaths,
                  stop_s=stop_s)
