"""I/O-bound jobs on ``local://``: 200 jobs waiting 10 ms, with threads and on one event loop per process.

- ``local://2?threads=8`` ``map`` of ``time.sleep(0.01)`` against ``multiprocessing.pool.ThreadPool(16)``
  (the same 16 at once, no process boundary: the floor) and against ``multiprocessing.Pool(2)``
  (processes only, what ``local://2`` does without threads);
- ``local://2?max_async=100`` ``map`` of ``await asyncio.sleep(0.01)`` against one ``asyncio.gather``
  of the 200 coroutines in this process (the floor).

Each figure is seconds for the whole map (lower is better); pools are started and warmed first;
the sides alternate, same run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.pool
import time

from benchmarks.harness import Row, alternate, at_most, jobfleet_queue_api, median, missing, script_main
from benchmarks.jobs_fns import async_sleep_ms, sleep_ms

JOBS, MS = 200, 10


def _timed(map_fn, func) -> float:
    start = time.perf_counter()
    results = list(map_fn(func, [MS] * JOBS))
    elapsed = time.perf_counter() - start
    if results != [MS] * JOBS:
        raise AssertionError("map returned wrong results")
    return elapsed


def _gather(func, items) -> list:
    async def main():
        return await asyncio.gather(*(func(x) for x in items))
    return asyncio.run(main())


def run(quick: bool) -> list[Row]:
    runs = 2 if quick else 5
    jobs = jobfleet_queue_api()
    if jobs is None:
        return [Row("`local://2?threads=8` 200 × 10 ms", "ThreadPool(16)", None, None, "s", note=missing("jobs.Queue"))]
    with multiprocessing.pool.ThreadPool(16) as threads, multiprocessing.Pool(2) as procs, \
            jobs.Queue("local://2?threads=8") as threaded, jobs.Queue("local://2?max_async=100") as looped:
        thread_map = lambda f, items: threads.map(f, items)  # noqa: E731 - one shape for every side
        proc_map = lambda f, items: procs.map(f, items)  # noqa: E731
        threaded_map = lambda f, items: threaded.map(f, items, timeout=120)  # noqa: E731
        looped_map = lambda f, items: looped.map(f, items, timeout=120)  # noqa: E731
        for warm, func in ((thread_map, sleep_ms), (proc_map, sleep_ms), (threaded_map, sleep_ms), (looped_map, async_sleep_ms)):
            warm(func, [1] * 20)
        ref_t, ref_p, jf_t = alternate(runs, lambda: _timed(thread_map, sleep_ms), lambda: _timed(proc_map, sleep_ms),
                                       lambda: _timed(threaded_map, sleep_ms))
        ref_a, jf_a = alternate(runs, lambda: _timed(_gather, async_sleep_ms), lambda: _timed(looped_map, async_sleep_ms))
    floor = JOBS * MS / 1000 / 16
    rows = [
        Row(f"`local://2?threads=8` map, {JOBS} × `time.sleep(0.01)`", "`ThreadPool(16).map` (no processes)",
            median(ref_t), median(jf_t), "s", target="≤ 1.5×", note=f"16 at once: the floor is {floor:.3f} s"),
        Row(f"`local://2?threads=8` map, {JOBS} × `time.sleep(0.01)`", "`Pool(2).map` (processes only)",
            median(ref_p), median(jf_t), "s", target="≤ 0.2×"),
        Row(f"`local://2?max_async=100` map, {JOBS} × `await asyncio.sleep(0.01)`",
            "one `asyncio.gather` in this process", median(ref_a), median(jf_a), "s", target="≤ 5×",
            note="the floor is 0.010 s"),
    ]
    for row, bound in zip(rows, (1.5, 0.2, 5.0)):
        row.met = at_most(row.ratio, bound)
    return rows


if __name__ == "__main__":
    script_main(run, __doc__)
