"""Redis batch enqueue of 10,000 no-op jobs: jobfleet vs RQ enqueue_many in a pipeline.

No worker runs: the figure is how fast jobs get into Redis (jobs/s). RQ's one-by-one
``enqueue`` is shown for scale. The database is flushed between runs (it is our own server).
"""

from __future__ import annotations

import time

from benchmarks.harness import (Row, alternate, at_least, jobfleet_redis_api, median, missing,
                                private_redis, rq_noop_batch, script_main)
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
    return [row, scale]


if __name__ == "__main__":
    script_main(run, __doc__)
