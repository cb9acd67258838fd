"""jobs.Pool, jobs.Executor and jobs.Process behave as multiprocessing and concurrent.futures do,
on every backend: local://, fakeredis:// and redis:// served by `workers supervise`."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import subprocess
import sys

import pytest

import jobs
from tests.dropin_fixtures import ALL, url  # noqa: F401 - the fixture
from tests.jobs import (
    add,
    divide,
    exit_with,
    initialized_values,
    raise_unloadable,
    raise_unpicklable,
    raise_with_args,
    remember_init,
    sleep_then,
    square,
)
from tests.supervisor_helpers import ROOT, wait_until


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_pool_runs_the_whole_multiprocessing_api(url):
    # Given a pool on the backend
    with jobs.Pool(2, url=url) as pool:
        # Then each call answers as multiprocessing.Pool's does
        assert pool.map(square, [1, 2, 3, 4, 5]) == [1, 4, 9, 16, 25]
        assert pool.map(square, range(20), chunksize=3) == [x * x for x in range(20)]
        assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
        assert pool.apply(add, (1,), {"b": 2}) == 3
        assert list(pool.imap(square, range(6))) == [0, 1, 4, 9, 16, 25]
        assert sorted(pool.imap_unordered(square, range(6), chunksize=2)) == [0, 1, 4, 9, 16, 25]
        assert pool.map_async(square, [3]).get(timeout=30) == [9]
        assert pool.starmap_async(add, [(5, 6)]).get(timeout=30) == [11]
        seen = []
        result = pool.apply_async(square, (6,), callback=seen.append)
        assert result.get(timeout=30) == 36 and seen == [36]
        assert result.ready() and result.successful()
        errors = []
        failed = pool.apply_async(divide, (1, 0), error_callback=errors.append)
        with pytest.raises(ZeroDivisionError):
            failed.get(timeout=30)
        assert isinstance(errors[0], ZeroDivisionError) and not failed.successful()


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_a_task_raises_its_own_exception_with_the_remote_traceback_as_cause(url):
    # Given a pool and an executor on the backend
    with jobs.Pool(2, url=url) as pool, jobs.Executor(url) as executor:
        # When a task raises, Then the caller gets its type and args, the worker's traceback as cause
        for call in (lambda: pool.apply(raise_with_args, ("a", 1)),
                     lambda: executor.submit(raise_with_args, "a", 1).result(timeout=30)):
            with pytest.raises(KeyError) as raised:
                call()
            assert raised.value.args == ("a", 1)
            assert isinstance(raised.value.__cause__, jobs.RemoteTraceback)
            assert isinstance(raised.value.__cause__, multiprocessing.pool.RemoteTraceback)
            assert "raise KeyError(*args)" in raised.value.__cause__.tb
        # And in a map, the first failing item's exception
        with pytest.raises(ZeroDivisionError):
            pool.starmap(divide, [(1, 1), (1, 0), (2, 1)])
        with pytest.raises(ZeroDivisionError):
            pool.starmap(divide, [(1, 1), (1, 0), (2, 1)] * 4, chunksize=4)


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_an_exception_that_cannot_be_rebuilt_arrives_as_job_failed(url):
    with jobs.Pool(1, url=url) as pool:
        for func, name in ((raise_unloadable, "NotImportableHere"), (raise_unpicklable, "ValueError")):
            with pytest.raises(jobs.JobFailed) as raised:
                pool.apply(func)
            assert raised.value.exc_type == name and raised.value.exception is None


def test_a_json_queue_never_unpickles_a_job_exception():
    # Given the json serializer, Then the job's exception stays a JobFailed (no pickle travels)
    with jobs.Queue("fakeredis://json-errors", serializer="json") as q:
        with pytest.raises(jobs.JobFailed) as raised:
            q.enqueue(divide, 1, 0).result(timeout=30)
    assert raised.value.exc_type == "ZeroDivisionError" and raised.value.exception is None


def test_a_plain_rq_worker_without_the_handler_gives_job_failed(rq_worker_url):
    # Given a plain `rq worker` (no --exception-handler), Then the Pool raises JobFailed with the type name
    with jobs.Pool(1, url=rq_worker_url) as pool:
        with pytest.raises(jobs.JobFailed) as raised:
            pool.apply(divide, (1, 0))
    assert raised.value.exc_type == "ZeroDivisionError"


def test_a_plain_rq_worker_given_the_handler_gives_the_task_s_own_exception(redis_server):
    # Given a plain `rq worker --exception-handler jobs.remote_errors.store_exception`
    url = f"redis://127.0.0.1:{redis_server.port}/4"
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "--url", url,
         "--exception-handler", "jobs.remote_errors.store_exception", "-q", "default"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # When a task raises, Then the Pool raises its own type and args
        with jobs.Pool(1, url=url) as pool:
            with pytest.raises(KeyError) as raised:
                pool.apply(raise_with_args, ("plain", 2))
        assert raised.value.args == ("plain", 2)
        assert isinstance(raised.value.__cause__, jobs.RemoteTraceback)
    finally:
        worker.kill()
        worker.wait(timeout=10)


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_get_timeout_closed_pool_and_join_behave_as_multiprocessing(url):
    pool = jobs.Pool(1, url=url)
    slow = pool.apply_async(sleep_then, (1.0, "late"))
    # When get() runs out, Then multiprocessing.TimeoutError (the job goes on)
    if not url.startswith("fakeredis"):  # fakeredis runs jobs in this process: nothing runs while we wait
        with pytest.raises(multiprocessing.TimeoutError):
            slow.get(timeout=0.01)
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    # Then a closed pool refuses work, and join() waits for what was submitted
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply_async(square, (1,))
    pool.join()
    assert slow.ready() and slow.get(timeout=0) == "late"


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_the_initializer_runs_once_per_worker_process_before_its_first_task(url):
    # Given a pool with an initializer
    with jobs.Pool(2, initializer=remember_init, initargs=("ready",), url=url) as pool:
        # When tasks run, Then each process ran the initializer exactly once before them
        seen = pool.map(initialized_values, range(40), chunksize=1)
    by_pid = dict(seen)
    assert all(values.count("ready") == 1 for values in by_pid.values()), by_pid


def test_a_job_that_kills_its_workers_raises_job_lost_where_a_pool_hangs():
    from tests.jobs import kill_own_process

    with jobs.Pool(1, url="local://1") as pool:
        with pytest.raises(jobs.JobLost):
            pool.apply_async(kill_own_process).get(timeout=60)


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_executor_futures_work_with_as_completed_wait_and_map(url):
    with jobs.Executor(url, max_workers=2) as executor:
        futures = [executor.submit(square, i) for i in range(10)]
        assert isinstance(futures[0], cf.Future)
        assert sorted(f.result() for f in cf.as_completed(futures, timeout=60)) == [i * i for i in range(10)]
        done, not_done = cf.wait([executor.submit(add, 1, b=2)], timeout=60)
        assert not not_done and done.pop().result() == 3
        assert list(executor.map(square, range(5), timeout=60)) == [0, 1, 4, 9, 16]
        assert list(executor.map(add, range(7), range(7), chunksize=3, timeout=60)) == [2 * i for i in range(7)]
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(square, 1)


@pytest.mark.parametrize("url", ["local", "supervised"], indirect=True)
def test_future_cancel_cancels_a_job_not_yet_started(url):
    with jobs.Executor(url, max_workers=1) as executor:
        # Given workers busy with slow jobs and one more job behind them
        blockers = [executor.submit(sleep_then, 1.0) for _ in range(4)]
        last = executor.submit(square, 3)
        # When its future is canceled, Then the job never runs and wait() sees it done
        assert last.cancel() and last.cancelled()
        assert last.job.status == "canceled"
        done, _ = cf.wait([last, *blockers], timeout=60)
        assert last in done
        with pytest.raises(cf.CancelledError):
            last.result()


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_process_runs_its_target_and_sets_exitcode(url):
    ok = jobs.Process(target=square, args=(3,), url=url)
    failing = jobs.Process(target=divide, args=(1, 0), url=url)
    exiting = jobs.Process(target=exit_with, args=(7,), url=url, name="seven")
    for process in (ok, failing, exiting):
        assert process.exitcode is None and not process.is_alive()
        process.start()
    for process in (ok, failing, exiting):
        process.join(timeout=60)
    assert (ok.exitcode, failing.exitcode, exiting.exitcode) == (0, 1, 7)
    assert exiting.name == "seven" and not ok.is_alive()


def test_pool_reads_jobfleet_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("JOBFLEET_URL", "fakeredis://from-env")
    with jobs.Pool(3) as pool:
        assert pool._queue.url == "fakeredis://from-env"
        assert pool.map(square, [2]) == [4]
    monkeypatch.delenv("JOBFLEET_URL")
    with jobs.Pool(3) as pool:
        assert pool._queue.url == "local://3"


def test_bad_pool_arguments_raise_what_multiprocessing_raises():
    with pytest.raises(ValueError):
        jobs.Pool(0)
    with pytest.raises(ValueError):
        jobs.Pool(1, maxtasksperchild=0)
    with pytest.raises(TypeError):
        jobs.Pool(1, initializer=3)
    with pytest.raises(ValueError):
        jobs.Executor(max_workers=0)


@pytest.mark.parametrize("url", ALL, indirect=True)
def test_a_process_s_exitcode_is_known_once_its_job_ended_without_join(url):
    # Given a started process
    process = jobs.Process(target=square, args=(2,), url=url)
    process.start()
    if url.startswith("fakeredis"):
        process.job.result(timeout=30)  # fakeredis runs jobs when waited upon
    # Then exitcode reads 0 once the job ended, with no join()
    assert wait_until(lambda: process.exitcode is not None, 30, what="the exit code") is True
    assert process.exitcode == 0


def test_maxtasksperchild_is_accepted_with_a_warning_that_it_is_ignored():
    # Given a multiprocessing program that recycles its workers
    with pytest.warns(RuntimeWarning, match="ignores maxtasksperchild"):
        pool = jobs.Pool(2, maxtasksperchild=10, url="local://2")
    # Then it still runs, unchanged
    with pool:
        assert pool.map(square, [1, 2, 3]) == [1, 4, 9]
