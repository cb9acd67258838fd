"""Redis batch enqueue of 10,000 no-op jobs: jobfleet vs RQ enqueue_many in a pipeline.

No worker runs: the figure is how fast jobs get into Redis (jobs/s). RQ's one-by-one
``enqueue`` is shown for scale. The database is flushed between runs (it is our own server).
"""

from __future__ import annotations

import subprocess
import time

from benchmarks.harness import (
    Row,
    alternate,
    at_least,
    jobfleet_redis_api,
    median,
    missing,
    private_redis,
    rq_noop_batch,
    script_main,
)
from benchmarks.jobs_fns import noop

TARGET = 2.0
QUEUE = "bench"


def _rate(client, count: int, enqueue) -> float:
    client.flushdb()
    start = time.perf_counter()
    enqueue(count)
    elapsed = time.perf_counter() - start
    queued = client.llen(f"rq:queue:{QUEUE}")
    if queued != count:
        raise AssertionError(f"{queued} jobs on the queue, expected {count}")
    return count / elapsed


def _rq_one_by_one(client, count: int) -> None:
    from rq import Queue

    queue = Queue(QUEUE, connection=client)
    for i in range(count):
        queue.enqueue(noop, i)


def jobfleet_batch(queue, count: int) -> None:
    """Put ``count`` no-op jobs on the queue without waiting for them: the enqueue half of ``map``.

    ``Queue.imap`` enqueues every item (in pipelined batches) when called and waits only as its
    iterator is read; the iterator is dropped unread, so no worker is needed.
    """
    queue.imap(noop, range(count))


def redis_benchmark(server, pipeline: int, requests: int) -> float:
    """SET requests/s of ``redis-benchmark`` against our server: what Redis itself does here."""
    done = subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "set", "-n", str(requests),
                           "-P", str(pipeline), "--csv"], capture_output=True, text=True, timeout=120, check=True)
    last = done.stdout.strip().splitlines()[-1]  # "SET","140845.07",...
    return float(last.split(",")[1].strip('"'))


def run(quick: bool) -> list[Row]:
    count, runs = (2_000, 2) if quick else (10_000, 7)
    jobs = jobfleet_redis_api()
    with private_redis() as server:
        client = server.client()
        queue = jobs.Queue(server.url, name=QUEUE) if jobs else None
        try:
            one, many, jf = alternate(
                runs,
                lambda: _rate(client, count // 5, lambda n: _rq_one_by_one(client, n)),
                lambda: _rate(client, count, lambda n: rq_noop_batch(client, QUEUE, n)),
                (lambda: _rate(client, count, lambda n: jobfleet_batch(queue, n))) if queue else None,
            )
            requests = 20_000 if quick else 200_000
            plain, piped = alternate(1 if quick else 3, lambda: redis_benchmark(server, 1, requests),
                                     lambda: redis_benchmark(server, 16, requests))
        finally:
            if queue is not None:
                queue.close()
            client.close()
    note = "" if jobs else missing("jobs.Queue on Redis")
    row = Row(f"redis batch enqueue, {count:,} no-op jobs", "RQ `enqueue_many` in a pipeline",
              median(many), median(jf), "jobs/s", f"≥ {TARGET}×", note=note)
    row.met = at_least(row.ratio, TARGET)
    scale = Row(f"(for scale) {count // 5:,} no-op jobs", "RQ `enqueue` one by one",
                median(one), None, "jobs/s")
    baseline = [Row(f"(for scale) Redis itself, SET{label}", f"`redis-benchmark -t set{flag}`",
                    median(ops), None, "ops/s") for label, flag, ops in
                ((", unpipelined", "", plain), (", pipelined by 16", " -P 16", piped))]
    return [row, scale, *baseline]


if __name__ == "__main__":
    script_main(run, __doc__)
