"""local://: worker processes that survive crashes where ``multiprocessing.Pool`` hangs."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

import jobs
from tests.jobs import getpid, kill_once, kill_own_process, sleep_then, square


def _local_workers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name == "jobfleet-local-worker"]


def _wait_for_status(job: jobs.Job, status: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while job.status != status:
        assert time.monotonic() < deadline, f"job never reached {status!r}"
        time.sleep(0.01)


def test_a_job_whose_worker_is_sigkilled_is_run_again(tmp_path):
    # Given a job that SIGKILLs its own worker the first time it runs (Pool would hang here)
    with jobs.Queue("local://2") as q:
        job = q.enqueue(kill_once, str(tmp_path / "marker"))
        # Then the job runs again on a new worker and its result arrives
        assert job.result(timeout=30) == "survived"
        assert (tmp_path / "marker").exists()


def test_a_worker_killed_from_outside_mid_job_loses_nothing():
    with jobs.Queue("local://1") as q:
        # Given a job running on the only worker
        job = q.enqueue(sleep_then, 0.5, "done")
        _wait_for_status(job, "started")
        (worker,) = _local_workers()
        # When the worker is SIGKILLed
        os.kill(worker.pid, signal.SIGKILL)
        # Then the job is re-run on a replacement and finishes
        assert job.result(timeout=30) == "done"
        assert [p.pid for p in _local_workers()] != [worker.pid]


def test_a_poison_job_ends_as_lost_and_the_others_still_run():
    with jobs.Queue("local://2") as q:
        # Given a job that kills every worker that runs it, among good jobs
        good = [q.enqueue(square, i) for i in range(20)]
        poison = q.enqueue_call(kill_own_process, max_losses=2)
        more = [q.enqueue(square, i) for i in range(20)]
        # Then it ends as lost after two losses, naming the signal
        with pytest.raises(jobs.JobLost, match="lost 2 times: worker died by signal 9"):
            poison.result(timeout=30)
        assert poison.status == "failed"
        # And every other job has its result
        assert [j.result(timeout=30) for j in good + more] == [i * i for i in range(20)] * 2


def test_functions_defined_anywhere_run_on_local_workers():
    offset = 10

    def closure(x):
        return x + offset

    with jobs.Queue("local://2") as q:
        assert q.map(closure, [1, 2]) == [11, 12]
        assert q.map(lambda x: -x, [1, 2]) == [-1, -2]


def test_a_queued_job_can_be_canceled_and_a_running_one_cannot():
    with jobs.Queue("local://1") as q:
        running = q.enqueue(sleep_then, 0.5, "ran")
        waiting = q.enqueue(square, 3)
        _wait_for_status(running, "started")
        assert waiting.status == "queued"
        assert waiting.cancel() is True
        assert waiting.status == "canceled"
        with pytest.raises(jobs.JobCanceled):
            waiting.result(timeout=5)
        assert running.cancel() is False
        assert running.result(timeout=30) == "ran"


def test_closing_waits_for_jobs_and_leaves_no_process():
    q = jobs.Queue("local://2")
    job = q.enqueue(sleep_then, 0.3, "finished before close returned")
    pids = [p.pid for p in _local_workers()]
    assert len(pids) == 2
    q.close()
    assert job.result(timeout=0) == "finished before close returned"
    assert _local_workers() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    q.close()  # safe twice
    with pytest.raises(jobs.JobsError, match="closed"):
        q.enqueue(square, 1)


def test_jobs_run_in_other_processes():
    with jobs.Queue("local://2") as q:
        assert os.getpid() not in set(q.map(getpid, range(8), chunksize=1))


def test_a_result_that_cannot_be_pickled_is_a_serialization_error():
    from tests.jobs import unpicklable_result

    with jobs.Queue("local://1") as q:
        with pytest.raises(jobs.SerializationError, match="cannot be serialized"):
            q.enqueue(unpicklable_result).result(timeout=30)
        assert q.enqueue(square, 2).result(timeout=30) == 4  # the worker lives on


def test_a_local_job_id_is_unknown_to_another_queue():
    with jobs.Queue("local://1") as first, jobs.Queue("local://1") as second:
        job = first.enqueue(square, 2)
        with pytest.raises(jobs.JobNotFound):
            second.job(job.id)
        assert job.result(timeout=30) == 4


def test_close_after_a_burst_of_wakeups_never_hangs():
    # Given queues whose dispatcher is woken many times in a row (each empty map wakes it)
    import threading

    for _ in range(150):
        q = jobs.Queue("local://1")
        for _ in range(20):
            q.map(square, [])
        # When the queue closes, Then the dispatcher hears it (a wake-up lost between clearing the
        # flag and draining the pipe used to leave it asleep in select for ever)
        closing = threading.Thread(target=q.close)
        closing.start()
        closing.join(10)
        assert not closing.is_alive(), "close() hung: the dispatcher missed its wake-up"
