"""``local://N?threads=T&max_async=M``: many I/O-bound calls at once in each worker process.

Real worker processes and real SIGKILLs, no mocks. Timing bounds are generous: they only prove
that calls overlapped (16 half-second sleeps on 8 threads take about 1 s, not 8 s).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

import jobs
from tests.jobs import kill_own_process, square
from tests.local_thread_jobs import async_block, async_count, async_fail, async_sleep, async_square, report_as, sleep_pid, spin, touch_after


def _local_workers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name == "jobfleet-local-worker"]


def _wait_for(predicate, timeout: float = 10.0, what: str = "the state") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.01)


def test_sixteen_sleeps_on_eight_threads_run_eight_at_a_time_in_one_process():
    with jobs.Queue("local://1?threads=8") as q:
        # Given 16 calls that each sleep half a second, on one process with 8 threads
        started = time.monotonic()
        calls = [q.enqueue(sleep_pid, 0.5, i) for i in range(16)]
        results = [c.result(timeout=30) for c in calls]
        elapsed = time.monotonic() - started
    # Then they all ran in that one process, in two waves, not one after another (8 s)
    assert [value for _, value in results] == list(range(16))
    assert len({pid for pid, _ in results}) == 1
    assert elapsed < 1.8, elapsed
    assert _local_workers() == []


def test_fifty_async_sleeps_share_one_event_loop():
    with jobs.Queue("local://1?max_async=50") as q:
        # Given 50 async def calls that each await half a second
        started = time.monotonic()
        calls = [q.enqueue(async_sleep, 0.5, i) for i in range(50)]
        # Then each returns its value, and together they took about half a second
        assert [c.result(timeout=30) for c in calls] == list(range(50))
        assert time.monotonic() - started < 1.8


def test_max_async_bounds_the_coroutines_running_at_once():
    with jobs.Queue("local://1?max_async=5") as q:
        # Given 20 async calls that count how many run at once, with room for 5
        counts = [c.result(timeout=30) for c in [q.enqueue(async_count, 0.2) for _ in range(20)]]
    # Then never more than 5 ran at once, and 5 did
    assert max(counts) == 5


def test_an_async_job_that_raises_reaches_the_caller_with_its_error():
    with jobs.Queue("local://1?max_async=4") as q:
        # Given an async def job that raises ValueError
        job = q.enqueue(async_fail, "bad input")
        # Then the caller gets JobFailed carrying the original exception
        with pytest.raises(jobs.JobFailed) as caught:
            job.result(timeout=30)
    assert caught.value.exc_type == "ValueError"
    assert isinstance(caught.value.exception, ValueError) and str(caught.value.exception) == "bad input"


def test_an_async_job_past_its_timeout_is_cancelled_and_the_others_finish():
    with jobs.Queue("local://1?max_async=4") as q:
        # Given an async job awaiting 30 s with a 0.5 s timeout, beside short ones
        slow = q.enqueue_call(async_sleep, (30,), timeout=0.5)
        quick = [q.enqueue(async_sleep, 0.3, i) for i in range(3)]
        # Then it fails with the timeout error a sequential worker reports, and the others finish
        with pytest.raises(jobs.JobFailed, match="JobTimeoutError: the job ran past its timeout"):
            slow.result(timeout=10)
        assert [c.result(timeout=10) for c in quick] == [0, 1, 2]


def test_a_call_past_its_timeout_on_a_thread_fails_and_its_thread_mates_finish():
    with jobs.Queue("local://1?threads=4") as q:
        # Given a call busy in Python for 30 s with a 0.5 s timeout, beside three sleeps
        busy = q.enqueue_call(spin, (30,), timeout=0.5)
        mates = [q.enqueue(sleep_pid, 1.0, i) for i in range(3)]
        # Then it fails as timed out, and its thread-mates finish in the same process
        with pytest.raises(jobs.JobFailed, match="JobTimeoutError: the job ran past its timeout"):
            busy.result(timeout=10)
        results = [c.result(timeout=10) for c in mates]
        assert [v for _, v in results] == [0, 1, 2]
        assert [p.pid for p in _local_workers()] == [results[0][0]]  # not restarted


@pytest.mark.parametrize("url, stuck_call, mate", [
    ("local://1?threads=4", sleep_pid, sleep_pid),
    ("local://1?max_async=4", async_block, async_sleep),
])
def test_a_call_stuck_in_c_past_its_timeout_ends_its_process_and_the_others_run_again_without_a_loss(
        url, stuck_call, mate):
    with jobs.Queue(url) as q:
        # Given a call blocked in time.sleep(30) with a 0.5 s timeout, sharing its process with
        # calls that may not be lost even once
        stuck = q.enqueue_call(stuck_call, (30,), timeout=0.5)
        mates = [q.enqueue_call(mate, (2.5, i), max_losses=1) for i in range(3)]
        first_pid = _local_workers()[0].pid
        # Then it fails as timed out (within its timeout and the grace, not 30 s)
        started = time.monotonic()
        with pytest.raises(jobs.JobFailed, match="JobTimeoutError: the job ran past its timeout"):
            stuck.result(timeout=10)
        assert time.monotonic() - started < 5
        # And the others were given back without a loss: they run again and finish
        results = [c.result(timeout=20) for c in mates]
        assert [r[1] if isinstance(r, tuple) else r for r in results] == [0, 1, 2]
        assert [p.pid for p in _local_workers()] != [first_pid]


def test_a_sigkilled_threaded_worker_charges_each_running_call_one_loss_and_no_other():
    with jobs.Queue("local://1?threads=4") as q:
        # Given 4 calls running on the 4 threads and 4 waiting, none allowed a loss
        running = [q.enqueue_call(sleep_pid, (3, i), max_losses=1) for i in range(4)]
        waiting = [q.enqueue_call(sleep_pid, (0.2, i), max_losses=1) for i in range(4, 8)]
        _wait_for(lambda: all(c.status == "started" for c in running), what="4 running calls")
        assert all(c.status == "queued" for c in waiting)
        # When the worker is SIGKILLed from outside
        os.kill(_local_workers()[0].pid, signal.SIGKILL)
        # Then each call it was running is lost, and the waiting ones run on its replacement
        for call in running:
            with pytest.raises(jobs.JobLost, match="lost 1 times: worker died by signal 9"):
                call.result(timeout=30)
        assert [c.result(timeout=30)[1] for c in waiting] == [4, 5, 6, 7]


def test_a_sigkilled_async_worker_charges_each_running_coroutine_one_loss():
    with jobs.Queue("local://1?max_async=3&threads=2") as q:
        # Given 3 coroutines and 2 threaded calls running, 2 more coroutines waiting
        coros = [q.enqueue_call(async_sleep, (3, i), max_losses=1) for i in range(3)]
        threaded = [q.enqueue_call(sleep_pid, (3, i), max_losses=1) for i in range(2)]
        waiting = [q.enqueue_call(async_sleep, (0.1, i), max_losses=1) for i in range(2)]
        _wait_for(lambda: all(c.status == "started" for c in coros + threaded), what="5 running calls")
        # When the worker is SIGKILLed
        os.kill(_local_workers()[0].pid, signal.SIGKILL)
        # Then the five running calls are lost, the waiting ones finish
        for call in coros + threaded:
            with pytest.raises(jobs.JobLost):
                call.result(timeout=30)
        assert [c.result(timeout=30) for c in waiting] == [0, 1]


def test_a_poison_call_runs_alone_after_it_killed_a_worker_so_its_thread_mates_are_charged_once():
    with jobs.Queue("local://1?threads=4") as q:
        # Given three calls allowed two losses, sharing a process with a
        # call that kills every worker that runs it (three losses allowed)
        good = [q.enqueue_call(sleep_pid, (1.0, i), max_losses=2) for i in range(3)]
        poison = q.enqueue_call(kill_own_process, max_losses=3)
        # Then the poison call ends lost after running alone twice more
        with pytest.raises(jobs.JobLost, match="lost 3 times"):
            poison.result(timeout=30)
        # And the others, charged for the first death only, finish
        assert [c.result(timeout=30)[1] for c in good] == [0, 1, 2]


@pytest.mark.parametrize("url", ["local://2?threads=4", "local://2?max_async=8", "local://1?threads=3&max_async=3"])
def test_map_and_pool_give_the_same_results_as_on_a_sequential_worker(url):
    # Given maps of a plain and an async def function
    with jobs.Queue(url) as q:
        assert q.map(square, range(100)) == [i * i for i in range(100)]
        assert q.map(async_square, range(50), chunksize=3) == [i * i for i in range(50)]
        assert sorted(q.imap_unordered(square, range(30), chunksize=1)) == sorted(i * i for i in range(30))
        assert q.starmap(pow, [(2, 3), (3, 2)]) == [8, 9]
    with jobs.Pool(url=url) as pool:
        assert pool.map(square, range(40)) == [i * i for i in range(40)]


def test_an_async_map_item_that_raises_names_its_index():
    with jobs.Queue("local://1?max_async=4") as q:
        with pytest.raises(jobs.JobFailed) as caught:
            q.map(async_fail, ["a", "b", "c"], chunksize=3)
    assert caught.value.exc_type == "ValueError"


def test_async_def_jobs_run_with_asyncio_run_without_max_async():
    # Given async def jobs on a sequential worker and on threads without an event loop
    for url in ("local://1", "local://1?threads=2&max_async=0"):
        with jobs.Queue(url) as q:
            # Then each is awaited to its value, as RQ runs it
            assert q.enqueue(async_sleep, 0.01, "v").result(timeout=30) == "v"
            assert q.map(async_square, [1, 2, 3]) == [1, 4, 9]


def test_close_waits_for_every_running_threaded_call(tmp_path):
    # Given four threaded calls that write a file after a second
    q = jobs.Queue("local://1?threads=4")
    calls = [q.enqueue(touch_after, str(tmp_path / f"f{i}"), 1.0) for i in range(4)]
    _wait_for(lambda: all(c.status == "started" for c in calls), what="4 running calls")
    # When the queue is closed
    q.close()
    # Then every call had finished, and no worker is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0", "f1", "f2", "f3"]
    assert _local_workers() == []


def test_progress_of_two_calls_on_two_threads_reaches_the_right_jobs():
    with jobs.Queue("local://1?threads=2") as q:
        # Given two calls in one process reporting at once, each with its own tag
        a, b = q.enqueue(report_as, "a", 6, 0.3), q.enqueue(report_as, "b", 6, 0.3)
        seen: dict[str, set] = {"a": set(), "b": set()}
        while not (a.status == "finished" and b.status == "finished"):
            for tag, job in (("a", a), ("b", b)):
                if job.progress is not None:
                    seen[tag].add(job.progress.message)
            time.sleep(0.05)
        # Then each job only ever shows its own reports, and ends at its total
        assert seen == {"a": {"a"}, "b": {"b"}}
        assert a.progress == jobs.Progress(6, 6, "a") and b.progress == jobs.Progress(6, 6, "b")


def test_the_backend_shows_its_threads_and_async_bound():
    with jobs.Queue("local://2?threads=8&max_async=100") as q:
        assert "processes=2 threads=8 max_async=100" in repr(q._backend)


def test_a_threaded_worker_awaits_async_def_jobs_together_without_being_asked():
    # Given 40 async def jobs that each await half a second, on one process with 2 threads and no max_async
    with jobs.Queue("local://1?threads=2") as q:
        start = time.monotonic()
        # When they are enqueued
        values = [j.result(timeout=60) for j in [q.enqueue(async_sleep, 0.5, "v") for _ in range(40)]]
        # Then they awaited together on the process's event loop, not two at a time on its threads
        assert values == ["v"] * 40
        assert time.monotonic() - start < 5.0  # two at a time would take 10 s
