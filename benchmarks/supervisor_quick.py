"""Rough jobs/s of `workers supervise -n 2 --burst` vs RQ's worker-pool and two SimpleWorkers.

Usage: .venv/bin/python benchmarks/supervisor_quick.py [JOBS] [which...]
which: supervise, simple, pool (default: all). Uses a private redis-server on a free port.
Also prints Redis commands per finished job (INFO commandstats, enqueue excluded).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rq import Queue  # noqa: E402

from tests.redis_server import start_redis  # noqa: E402

PY = sys.executable


def commands(client) -> int:
    return sum(v["calls"] for v in client.info("commandstats").values())


def working_span(client) -> float:
    """Seconds from the first job's start to the last job's end, read from the job hashes."""
    from rq.utils import utcparse

    ids = [i.decode() for i in client.zrange("rq:finished:default", 0, -1)]
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(f"rq:job:{job_id}", "started_at", "ended_at")
        rows = pipe.execute()
    starts = [utcparse(r[0].decode()).timestamp() for r in rows if r[0]]
    ends = [utcparse(r[1].decode()).timestamp() for r in rows if r[1]]
    return max(ends) - min(starts)


def fill(client, n: int) -> None:
    q = Queue("default", connection=client)
    with client.pipeline() as pipe:
        for _ in range(n):
            q.enqueue("tests.jobs.noop", pipeline=pipe)
        pipe.execute()


def run(which: str, url: str) -> list[subprocess.Popen]:
    if which == "supervise":
        return [subprocess.Popen([PY, "-m", "workers", "supervise", "--url", url, "-n", "2", "--burst",
                                  "--log-level", "warning"])]
    if which == "pool":
        return [subprocess.Popen([PY, "-m", "rq.cli", "worker-pool", "-n", "2", "-u", url, "--burst", "-q",
                                  "default"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    return [subprocess.Popen([PY, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "-u", url, "--burst",
                              "-q", "default"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    which = sys.argv[2:] or ["supervise", "simple", "pool"]
    server = start_redis()
    try:
        client = server.client()
        for name in which:
            client.flushall()
            fill(client, n)
            client.config_resetstat()
            start = time.perf_counter()
            procs = run(name, server.url)
            for p in procs:
                p.wait(timeout=600)
            elapsed = time.perf_counter() - start
            finished = client.zcard("rq:finished:default")
            cmds = commands(client)
            busy = working_span(client)
            print(f"{name:10s} {finished} jobs in {elapsed:.2f} s = {finished / elapsed:7.0f} jobs/s "
                  f"(incl. start-up), {finished / busy:7.0f} jobs/s (first start to last end), "
                  f"{cmds / max(finished, 1):.1f} Redis commands/job")
    finally:
        server.close()


if __name__ == "__main__":
    main()
