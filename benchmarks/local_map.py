"""local://2 map vs raw multiprocessing.Pool(2).map: 100,000 tiny items, and 10,000 with chunksize 1.

Both pools are started and warmed before the clock runs, so the figure is the map itself
(items/s), not process start-up; the two sides alternate, same run.
"""

from __future__ import annotations

import multiprocessing
import time

from benchmarks.harness import Row, alternate, at_least, jobfleet_queue_api, median, missing, script_main
from benchmarks.jobs_fns import square

PROCESSES = 2


def _timed_map(map_fn, items: int, chunksize: int | None) -> float:
    """Items per second of one ``map_fn(square, range(items), chunksize)``; checks the answers."""
    start = time.perf_counter()
    results = list(map_fn(square, range(items), chunksize))
    elapsed = time.perf_counter() - start
    if len(results) != items or results[-1] != (items - 1) ** 2:
        raise AssertionError("map returned wrong results")
    return items / elapsed


def run(quick: bool) -> list[Row]:
    big, small, runs = (20_000, 2_000, 2) if quick else (100_000, 10_000, 7)
    jobs = jobfleet_queue_api()
    with multiprocessing.Pool(PROCESSES) as pool:
        pool_map = lambda f, items, cs: pool.map(f, items, cs)  # noqa: E731 - the same shape for both sides
        queue = jobs.Queue(f"local://{PROCESSES}") if jobs else None
        try:
            queue_map = (lambda f, items, cs: queue.map(f, items, chunksize=cs, timeout=120)) if queue else None
            for warm in (pool_map, queue_map):
                if warm:
                    _timed_map(warm, 100, None)
            rows = []
            for items, chunksize, target in ((big, None, 0.9), (small, 1, None)):
                ref, jf = alternate(
                    runs,
                    lambda items=items, chunksize=chunksize: _timed_map(pool_map, items, chunksize),
                    (lambda items=items, chunksize=chunksize: _timed_map(queue_map, items, chunksize)) if queue_map else None,
                )
                label = "default chunksize" if chunksize is None else f"chunksize {chunksize}"
                row = Row(f"`local://2` map, {items:,} tiny items, {label}",
                          f"`Pool(2).map` {label}", median(ref), median(jf), "items/s",
                          note="" if jobs else missing("jobs.Queue"))
                if target:
                    row.target, row.met = f"≥ {target}×", at_least(row.ratio, target)
                rows.append(row)
        finally:
            if queue is not None:
                queue.close()
    return rows


if __name__ == "__main__":
    script_main(run, __doc__)
