"""A long job never holds back the others while a worker is idle (prefetch must not hoard).

Each test runs one long job that is a gate: it opens only once every short job has finished,
and gives up after a timeout. A short job prefetched behind the gate by the same worker could
only run after the gate, so the gate would time out: the answer says which, with no timing
assert.
"""

from __future__ import annotations

import pytest

import jobs
from tests.jobs import append_run, gate_or_mark, square, wait_until_finished

SHORT_JOBS = 40
GATE_TIMEOUT_S = 10.0


def _items(directory: str) -> list[tuple]:
    gate = ("gate", directory, SHORT_JOBS, GATE_TIMEOUT_S)
    return [gate] + [("mark", directory, i) for i in range(SHORT_JOBS)]


@pytest.mark.parametrize("chunksize", [None, 1], ids=["default chunksize", "chunksize 1"])
def test_imap_unordered_short_jobs_finish_while_a_long_one_runs_on_local(tmp_path, chunksize):
    with jobs.Queue("local://2") as q:
        # Given warm workers (their batches sized for tiny jobs)
        warm = tmp_path / "warm"
        warm.mkdir()
        q.map(gate_or_mark, [("mark", str(warm), i) for i in range(200)])
        gate_dir = tmp_path / "gate"
        gate_dir.mkdir()
        # When a long job (the gate) is mapped first, followed by 40 short ones
        results = list(q.imap_unordered(gate_or_mark, _items(str(gate_dir)), chunksize=chunksize, timeout=60))
        # Then the other worker ran every short job while the gate waited
        assert "opened" in results
        assert sorted(r for r in results if r != "opened") == list(range(SHORT_JOBS))


def test_imap_in_order_is_not_held_back_by_its_long_first_item_on_local(tmp_path):
    with jobs.Queue("local://2") as q:
        # Given a gate first and 40 short jobs after it, mapped in order (default chunksize)
        results = list(q.imap(gate_or_mark, _items(str(tmp_path)), timeout=60))
        # Then the gate opened: no short job was stuck behind it
        assert results == ["opened", *range(SHORT_JOBS)]


def test_a_job_taken_back_from_a_busy_worker_runs_exactly_once_on_local(tmp_path):
    # Given 300 jobs, every 50th of them long, that each log their run to one file
    log = tmp_path / "runs"
    args = [(str(log), i, 0.1 if i % 50 == 0 else 0.0) for i in range(300)]
    with jobs.Queue("local://2") as q:
        # When they run on two workers that keep taking work back from each other
        results = sorted(q.starmap(append_run, args, chunksize=1, timeout=60))
    # Then every job ran, and ran once
    assert results == list(range(300))
    assert sorted(int(line) for line in log.read_text().split()) == list(range(300))


def test_jobs_prefetched_behind_a_long_one_are_not_held_back_under_workers_supervise(supervised_url, tmp_path):
    with jobs.Queue(supervised_url) as q:
        # Given two warm workers (their batches sized for tiny jobs)
        warm = tmp_path / "warm"
        warm.mkdir()
        q.map(gate_or_mark, [("mark", str(warm), i) for i in range(200)], timeout=60)
        # When two short jobs, then the gate, then 38 short jobs are enqueued at once: each worker
        # wakes with one short job, and the first back takes a batch holding the gate and more
        gate_dir = tmp_path / "gate"
        gate_dir.mkdir()
        d = str(gate_dir)
        items = [("mark", d, 0), ("mark", d, 1), ("gate", d, SHORT_JOBS, GATE_TIMEOUT_S)]
        items += [("mark", d, i) for i in range(2, SHORT_JOBS)]
        results = list(q.imap_unordered(gate_or_mark, items, timeout=60))
        # Then the other worker ran every short job while the gate waited
        assert "opened" in results


def test_results_of_a_batch_are_written_while_a_long_job_of_that_batch_runs(redis_url, client):
    from rq import Queue

    from tests.supervisor_helpers import Supervise, wait_until

    queue = Queue("default", connection=client)
    with Supervise(redis_url, "-n", "1", "--host-timeout", "1.5") as sup:
        sup.wait_children(1)
        # Given a warm worker (its batches sized for tiny jobs)
        warm = [queue.enqueue(square, i) for i in range(100)]
        wait_until(lambda: all(j.get_status() == "finished" for j in warm), what="warm-up")
        # When short jobs and, behind them in the same batch, a job that waits for their results
        with client.pipeline() as pipe:
            shorts = [queue.enqueue(square, i, pipeline=pipe) for i in range(10)]
            waiter = queue.enqueue(wait_until_finished, redis_url, [j.id for j in shorts], 20.0, pipeline=pipe)
            pipe.execute()
        # Then their results reach Redis while it still runs
        wait_until(lambda: waiter.get_status() == "finished", timeout=40, what="the waiting job")
        assert waiter.return_value() == "seen"
