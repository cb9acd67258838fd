"""local://2 enqueue + result of 10,000 tiny jobs vs ProcessPoolExecutor(2).submit + result.

Every job is submitted first, then every result collected: jobs/s from the first submit to the
last result, with both pools started and warmed before the clock runs.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks.harness import Row, alternate, at_least, jobfleet_queue_api, median, missing, script_main
from benchmarks.jobs_fns import square

PROCESSES = 2
TARGET = 1.5


def _timed_submit(submit, count: int) -> float:
    start = time.perf_counter()
    handles = [submit(square, i) for i in range(count)]
    results = [_result(h) for h in handles]
    elapsed = time.perf_counter() - start
    if results[-1] != (count - 1) ** 2:
        raise AssertionError("wrong result")
    return count / elapsed


def _result(handle):
    """``Future.result`` and ``jobs.Job.result`` share their shape: a timeout, the value or a raise."""
    return handle.result(timeout=60)


def run(quick: bool) -> list[Row]:
    count, runs = (2_000, 2) if quick else (10_000, 7)
    jobs = jobfleet_queue_api()
    with ProcessPoolExecutor(PROCESSES) as pool:
        queue = jobs.Queue(f"local://{PROCESSES}") if jobs else None
        try:
            _timed_submit(pool.submit, 100)
            if queue:
                _timed_submit(queue.enqueue, 100)
            ref, jf = alternate(runs, lambda: _timed_submit(pool.submit, count),
                                (lambda: _timed_submit(queue.enqueue, count)) if queue else None)
        finally:
            if queue is not None:
                queue.close()
    row = Row(f"`local://2` enqueue + result, {count:,} tiny jobs", "`ProcessPoolExecutor(2).submit`",
              median(ref), median(jf), "jobs/s", f"≥ {TARGET}×", note="" if jobs else missing("jobs.Queue"))
    row.met = at_least(row.ratio, TARGET)
    return [row]


if __name__ == "__main__":
    script_main(run, __doc__)
