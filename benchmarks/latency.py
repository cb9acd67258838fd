"""Enqueue → result latency, one no-op job at a time: `workers supervise -n 1` vs one RQ worker.

Each side has its own queue and its own single worker process, all running at once on one
private Redis; rounds of jobs alternate between the sides. The RQ client waits with
``job.latest_result(timeout=...)``, RQ's blocking read of the result stream (its fastest
wait); jobfleet's with ``job.result(timeout=...)``. Percentiles pool every round.
"""

from __future__ import annotations

import time

from benchmarks.harness import (
    Processes,
    Row,
    alternate,
    at_most,
    jobfleet_redis_api,
    missing,
    percentile,
    private_redis,
    rq_worker_command,
    script_main,
    supervise_command,
    supervisor_available,
)
from benchmarks.jobs_fns import noop

P50_MS, P99_MS = 1.5, 4.0


def _rq_once(queue) -> float:
    start = time.perf_counter()
    job = queue.enqueue(noop)
    result = job.latest_result(timeout=10)
    elapsed = time.perf_counter() - start
    if result is None or result.type != result.Type.SUCCESSFUL:
        raise AssertionError(f"RQ job {job.id} did not succeed within 10 s")
    return elapsed * 1000


def _jobfleet_once(queue) -> float:
    start = time.perf_counter()
    queue.enqueue(noop).result(timeout=10)
    return (time.perf_counter() - start) * 1000


def _round(once, queue, size: int) -> list[float]:
    return [once(queue) for _ in range(size)]


def run(quick: bool) -> list[Row]:
    rounds, size = (2, 50) if quick else (5, 200)
    have_jf, jobs = supervisor_available(), jobfleet_redis_api()
    from rq import Queue

    with private_redis() as server, Processes() as procs:
        client = server.client()
        simple_q, fork_q = Queue("lat-simple", connection=client), Queue("lat-fork", connection=client)
        procs.start(rq_worker_command(server.url, "lat-simple", simple=True))
        procs.start(rq_worker_command(server.url, "lat-fork"))
        jf_q, jf_once = None, _jobfleet_once
        if have_jf:
            procs.start(supervise_command(server.url, 1, "--queue", "lat-jobfleet"))
            if jobs:
                jf_q = jobs.Queue(server.url, name="lat-jobfleet")
            else:  # the supervisor runs ordinary RQ jobs: time it with RQ's client meanwhile
                jf_q, jf_once = Queue("lat-jobfleet", connection=client), _rq_once
        try:
            # The first job of each side also waits for its worker to start: not counted.
            for once, queue in ((_rq_once, simple_q), (_rq_once, fork_q), (jf_once, jf_q)):
                if queue is not None:
                    _warm(once, queue)
            simple, fork, jf = (sum(rounds_of_side, []) for rounds_of_side in alternate(
                rounds,
                lambda: _round(_rq_once, simple_q, size),
                lambda: _round(_rq_once, fork_q, size),
                (lambda: _round(jf_once, jf_q, size)) if jf_q else None))
        finally:
            if jobs and jf_q is not None:
                jf_q.close()
            client.close()
    note = missing("`workers supervise`") if not have_jf else (
        "" if jobs else "RQ's client: jobs.Queue on Redis not merged yet")
    rows = []
    for pct, bound in ((50, P50_MS), (99, P99_MS)):
        jf_value = percentile(jf, pct) if jf else None
        rows.append(Row(f"enqueue → result p{pct}, one job at a time", "`rq worker -w SimpleWorker`",
                        percentile(simple, pct), jf_value, "ms", f"≤ {bound} ms", at_most(jf_value, bound),
                        note=note))
        rows.append(Row(f"(for scale) enqueue → result p{pct}", "`rq worker` (forks a horse per job)",
                        percentile(fork, pct), None, "ms"))
    return rows


def _warm(once, queue, timeout: float = 30.0) -> None:
    """Run one job, retrying until the worker is up (each try waits at most 10 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            once(queue)
            return
        except (AssertionError, TimeoutError):
            if time.monotonic() > deadline:
                raise


if __name__ == "__main__":
    script_main(run, __doc__)
