"""Workflows at scale: fan-in, chain, a map on one parent; `workers supervise -n 2` vs RQ's `depends_on`.

Each shape is enqueued while no worker runs, so every dependent starts ``deferred`` and its
release is measured: *release latency* is a dependent's ``enqueued_at`` minus the ``ended_at``
of its last parent, both as RQ records them, so the client's speed is left out. jobfleet passes
values (``q.enqueue(add_one, previous)``, ``q.imap(add_one, [parent] * n)``); RQ cannot, so the
reference runs the same shapes with ``depends_on=`` under two RQ SimpleWorkers (burst mode), RQ's
fastest worker. RQ's fan-in re-reads every parent's status at each parent's end (quadratic), so
its fan-in runs at a tenth of the size, as the table says.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from benchmarks.harness import (
    Processes,
    Row,
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
from benchmarks.jobs_fns import add_one, count, noop

QUEUE = "wf"
P50_MS = 50.0


def _stamp(raw: bytes | None) -> float:
    if not raw:
        return float("nan")
    return datetime.strptime(raw.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def _latencies(client, pairs: list[tuple[list[str], str]]) -> list[float]:
    """ms from the last parent's ``ended_at`` to the dependent's ``enqueued_at``, per (parents, dependent)."""
    out = []
    for start in range(0, len(pairs), 500):
        with client.pipeline(transaction=False) as pipe:
            for parents, dependent in pairs[start:start + 500]:
                for job_id in parents:
                    pipe.hget(f"rq:job:{job_id}", "ended_at")
                pipe.hget(f"rq:job:{dependent}", "enqueued_at")
            replies = iter(pipe.execute())
        for parents, _ in pairs[start:start + 500]:
            ended = max(_stamp(next(replies)) for _ in parents)
            out.append((_stamp(next(replies)) - ended) * 1000)
    return out


def _deferred_ids(client) -> list[str]:
    return [i.decode() for i in client.zrange(f"rq:deferred:{QUEUE}", 0, -1)]


def _enqueue_jobfleet(q, shape: str, n: int):
    """Write the shape; (pairs of parents and dependent, the job whose value ends it, expected value)."""
    if shape == "fan-in":
        parents = [q.enqueue(noop, i) for i in range(n)]
        last = q.enqueue(count, parents)
        return [([p.id for p in parents], last.id)], last, n
    if shape == "chain":
        chain = [q.enqueue(add_one, 0)]
        for _ in range(n - 1):
            chain.append(q.enqueue(add_one, chain[-1]))
        return [([a.id], b.id) for a, b in zip(chain, chain[1:])], chain[-1], n
    parent = q.enqueue(add_one, 0)
    values = q.imap(add_one, [parent] * n)  # every item is submitted before imap returns
    return [([parent.id], d) for d in _deferred_ids(q.backend.rq_queue.connection)], values, [2] * n


def _jobfleet(url: str, shape: str, n: int) -> tuple[float, list[float]]:
    import jobs

    with jobs.Queue(url, QUEUE) as q, Processes() as procs:
        pairs, waited, expected = _enqueue_jobfleet(q, shape, n)
        start = time.perf_counter()
        procs.start(supervise_command(url, 2, "--queue", QUEUE))
        got = list(waited) if shape == "map" else waited.result(timeout=900)
        seconds = time.perf_counter() - start
        if got != expected:
            raise AssertionError(f"jobfleet {shape}: wrong result")
        return seconds, _latencies(q.backend.rq_queue.connection, pairs)


def _rq(url: str, client, shape: str, n: int) -> tuple[float, list[float]]:
    from rq import Queue

    q = Queue(QUEUE, connection=client)
    if shape == "fan-in":
        parents = [q.enqueue(noop, i) for i in range(n)]
        last = q.enqueue(noop, depends_on=parents)
        pairs = [([p.id for p in parents], last.id)]
    elif shape == "chain":
        chain = [q.enqueue(noop)]
        for _ in range(n - 1):
            chain.append(q.enqueue(noop, depends_on=chain[-1]))
        pairs, last = [([a.id], b.id) for a, b in zip(chain, chain[1:])], chain[-1]
    else:
        parent = q.enqueue(noop)
        children = [q.enqueue(noop, depends_on=parent) for _ in range(n)]
        pairs, last = [([parent.id], c.id) for c in children], children[-1]
    start = time.perf_counter()
    with Processes() as procs:
        workers = [procs.start(rq_worker_command(url, QUEUE, "--burst", simple=True)) for _ in range(2)]
        for worker in workers:
            Processes.wait(worker, 1800)
    seconds = time.perf_counter() - start
    if last.get_status() != "finished":
        raise AssertionError(f"RQ {shape}: the last job is {last.get_status()}")
    return seconds, _latencies(client, pairs)


def run(quick: bool) -> list[Row]:
    sizes = {"fan-in": 1_000, "chain": 100, "map": 1_000} if quick else {"fan-in": 10_000, "chain": 1_000, "map": 10_000}
    if not (supervisor_available() and jobfleet_redis_api()):
        return [Row("workflows", "RQ depends_on", None, None, "s", note=missing("jobs.Queue on Redis"))]
    rows = []
    with private_redis() as server:
        client = server.client()
        for shape, n in sizes.items():
            rq_n = max(100, n // 10) if shape == "fan-in" else n
            client.flushdb()
            rq_s, rq_lat = _rq(server.url, client, shape, rq_n)
            client.flushdb()
            jf_s, jf_lat = _jobfleet(server.url, shape, n)
            scale = f" (RQ at {rq_n:,})" if rq_n != n else ""
            rows.append(Row(f"{shape} of {n:,}: jobs/s, all jobs{scale}", "RQ depends_on, 2 SimpleWorkers",
                            (rq_n + 1) / rq_s, (n + 1) / jf_s, "jobs/s"))
            p50 = percentile(jf_lat, 50)
            rows.append(Row(f"{shape} of {n:,}: release latency p50{scale}", "RQ depends_on, 2 SimpleWorkers",
                            percentile(rq_lat, 50), p50, "ms", f"≤ {P50_MS:.0f} ms", at_most(p50, P50_MS)))
            if len(jf_lat) > 1:
                rows.append(Row(f"{shape} of {n:,}: release latency p99{scale}", "RQ depends_on, 2 SimpleWorkers",
                                percentile(rq_lat, 99), percentile(jf_lat, 99), "ms"))
        client.close()
    return rows


if __name__ == "__main__":
    script_main(run, __doc__)
