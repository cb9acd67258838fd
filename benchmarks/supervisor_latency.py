"""Enqueue->result latency one job at a time, and re-run delays after a child or host kill.

Usage: .venv/bin/python benchmarks/supervisor_latency.py [latency] [child-kill] [host-kill [HOST_TIMEOUT]]
Uses a private redis-server on a free port; prints p50/p99 in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rq import Queue  # noqa: E402
from rq.job import JobStatus  # noqa: E402
from rq.results import Result  # noqa: E402

from tests import jobs  # noqa: E402
from tests.redis_server import start_redis  # noqa: E402
from tests.supervisor_helpers import Supervise, wait_until  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def latency(url: str, client, n: int = 1000) -> None:
    queue = Queue("default", connection=client)
    with Supervise(url, "-n", "2", "--log-level", "warning") as sup:
        sup.wait_children(2)
        for _ in range(50):  # warm-up
            Result.fetch_latest(queue.enqueue(jobs.noop), timeout=5)
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            job = queue.enqueue(jobs.noop)
            assert Result.fetch_latest(job, timeout=5) is not None
            samples.append((time.perf_counter() - start) * 1000)
        sup.signal(signal.SIGTERM)
        sup.wait()
    print(f"enqueue->result, one at a time, n={n}: p50 {pct(samples, .5):.2f} ms, p99 {pct(samples, .99):.2f} ms")


def child_kill(url: str, client, n: int = 20) -> None:
    queue = Queue("default", connection=client)
    delays = []
    with Supervise(url, "-n", "2", "--log-level", "warning", "--max-losses", "100") as sup:
        sup.wait_children(2)
        for _ in range(n):
            marker = tempfile.mktemp(prefix="jobfleet-kill-")
            job = queue.enqueue(jobs.kill_once, marker)
            wait_until(lambda job=job: job.get_status() == JobStatus.FINISHED, 30)
            killed_at = os.path.getmtime(marker)
            rerun_at = Result.fetch_latest(job).created_at.timestamp()
            delays.append((rerun_at - killed_at) * 1000)
            os.unlink(marker)
        sup.signal(signal.SIGTERM)
        sup.wait()
    print(f"re-run after a child SIGKILL, n={n}: p50 {pct(delays, .5):.0f} ms, max {max(delays):.0f} ms")


def host_kill(url: str, client, host_timeout: str) -> None:
    queue = Queue("default", connection=client)
    with Supervise(url, "-n", "1", "--host-timeout", host_timeout, "--log-level", "warning") as a:
        a.wait_children(1)
        job = queue.enqueue(jobs.sleep_then, 2.0, "done")
        wait_until(lambda: job.get_status() == JobStatus.STARTED, 30)
        with Supervise(url, "-n", "1", "--host-timeout", host_timeout, "--log-level", "warning") as b:
            b.wait_children(1)
            killed = time.time()
            a.kill_host()
            wait_until(lambda: job.get_status() == JobStatus.FINISHED, 3 * float(host_timeout) + 30, 0.05)
            # The job itself sleeps 2 s after it is re-run.
            rerun = Result.fetch_latest(job).created_at.timestamp() - 2.0 - killed
            b.signal(signal.SIGTERM)
            b.wait()
    print(f"re-run after a host SIGKILL with --host-timeout {host_timeout}: {rerun:.1f} s")


def main() -> None:
    what = sys.argv[1:] or ["latency", "child-kill"]
    server = start_redis()
    try:
        client = server.client()
        if "latency" in what:
            latency(server.url, client)
        if "child-kill" in what:
            client.flushall()
            child_kill(server.url, client)
        if "host-kill" in what:
            client.flushall()
            i = what.index("host-kill")
            host_kill(server.url, client, what[i + 1] if len(what) > i + 1 else "45")
    finally:
        server.close()


if __name__ == "__main__":
    main()
