"""The drop-in classes against what they replace: ``jobs.Pool(2).map`` vs ``multiprocessing.Pool(2).map``
on 100,000 tiny items, ``jobs.Executor`` submit + result vs ``ProcessPoolExecutor(2)`` on 10,000.

Both sides are started and warmed before the clock runs and alternate, same run, each side first
in half the rounds (the harness of ``local_map`` and ``local_submit``, whose figures are
``jobs.Queue``'s own).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from benchmarks.harness import Row, alternate, at_least, median, script_main
from benchmarks.local_map import _timed_map
from benchmarks.local_submit import _timed_submit

PROCESSES = 2
MAP_TARGET, SUBMIT_TARGET = 0.9, 1.5


def _both_orders(runs: int, reference: Callable[[], float], jobfleet: Callable[[], float]) -> tuple[list[float], list[float]]:
    """``alternate``, with the reference first in half the rounds and second in the others: the
    side that runs just after ``multiprocessing.Pool.map`` measures slower here (up to ~25 %)."""
    first = alternate((runs + 1) // 2, reference, jobfleet)
    second = alternate(runs // 2, jobfleet, reference)
    return first[0] + second[1], first[1] + second[0]


def _map_row(items: int, runs: int) -> Row:
    import jobs

    with multiprocessing.Pool(PROCESSES) as reference, jobs.Pool(PROCESSES, url=f"local://{PROCESSES}") as pool:
        ref_map = lambda f, xs, cs: reference.map(f, xs, cs)  # noqa: E731 - one shape for both sides
        jf_map = lambda f, xs, cs: pool.map(f, xs, cs)  # noqa: E731
        for warm in (ref_map, jf_map):
            _timed_map(warm, 100, None)
        ref, jf = _both_orders(runs, lambda: _timed_map(ref_map, items, None), lambda: _timed_map(jf_map, items, None))
    row = Row(f"`jobs.Pool(2).map`, {items:,} tiny items", "`multiprocessing.Pool(2).map`",
              median(ref), median(jf), "items/s", f"≥ {MAP_TARGET}×")
    row.met = at_least(row.ratio, MAP_TARGET)
    return row


def _submit_row(count: int, runs: int) -> Row:
    import jobs

    with ProcessPoolExecutor(PROCESSES) as reference, jobs.Executor(f"local://{PROCESSES}") as executor:
        for warm in (reference.submit, executor.submit):
            _timed_submit(warm, 100)
        ref, jf = _both_orders(runs, lambda: _timed_submit(reference.submit, count),
                               lambda: _timed_submit(executor.submit, count))
    row = Row(f"`jobs.Executor` submit + result, {count:,} tiny jobs", "`ProcessPoolExecutor(2).submit`",
              median(ref), median(jf), "jobs/s", f"≥ {SUBMIT_TARGET}×")
    row.met = at_least(row.ratio, SUBMIT_TARGET)
    return row


def run(quick: bool) -> list[Row]:
    items, count, runs = (20_000, 2_000, 2) if quick else (100_000, 10_000, 7)
    return [_map_row(items, runs), _submit_row(count, runs)]


if __name__ == "__main__":
    script_main(run, __doc__)
