"""The README's promises, checked on every backend: local://, fakeredis:// and redis://.

redis:// runs twice: served by a plain RQ SimpleWorker (so jobfleet writes ordinary RQ jobs) and
by `workers supervise` (our own workers).
"""

from __future__ import annotations

import pytest

import jobs
from tests.backend_fixtures import queue  # noqa: F401 - the fixture
from tests.jobs import add, echo_kwargs, fail, fail_once, inverse, sleep_then, square

ALL = ["local", "fakeredis", "redis", "supervised"]
#: Backends whose jobs run in the background, so a wait can run out while the job goes on.
BACKGROUND = ["local", "redis", "supervised"]




@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_an_enqueued_job_returns_its_result(queue):
    # Given a queue, When a job is enqueued
    job = queue.enqueue(square, 7)
    # Then result() waits for it and returns the value, and the job reads as finished
    assert job.result(timeout=30) == 49
    assert job.status == "finished"
    assert job.done()


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_map_works_like_pool_map(queue):
    # Given the squares of the multiprocessing tutorial
    items = [1, 2, 3, 4, 5]
    # Then map returns them in order, whatever the chunk size
    assert queue.map(square, items, timeout=30) == [1, 4, 9, 16, 25]
    assert queue.map(square, items, chunksize=2, timeout=30) == [1, 4, 9, 16, 25]
    assert queue.map(square, [], timeout=30) == []
    assert queue.starmap(add, [(1, 2), (3, 4)], timeout=30) == [3, 7]
    assert list(queue.imap(square, range(6), timeout=30)) == [0, 1, 4, 9, 16, 25]
    assert sorted(queue.imap_unordered(square, range(6), timeout=30)) == [0, 1, 4, 9, 16, 25]


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_every_keyword_reaches_the_function_even_names_of_options(queue):
    # Given keywords that are also option names elsewhere
    job = queue.enqueue(echo_kwargs, timeout=3, job_id="mine", retries=2)
    # Then they are the function's, not swallowed as options
    assert job.result(timeout=30) == {"timeout": 3, "job_id": "mine", "retries": 2}


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_failing_job_raises_job_failed_with_the_remote_type_and_traceback(queue):
    job = queue.enqueue(fail, "boom")
    with pytest.raises(jobs.JobFailed) as caught:
        job.result(timeout=30)
    assert caught.value.exc_type == "ValueError"
    assert "ValueError: boom" in caught.value.remote_traceback
    assert "boom" in str(caught.value)
    assert job.status == "failed"


@pytest.mark.parametrize("queue", ALL, indirect=True)
@pytest.mark.parametrize("chunksize", [None, 1, 2])
def test_a_failing_map_item_is_named_by_its_index(queue, chunksize):
    # Given items where the fourth divides by zero
    with pytest.raises(jobs.JobFailed) as caught:
        queue.map(inverse, [1, 2, 4, 0, 5], chunksize=chunksize, timeout=30)
    # Then the error names item 3 and the remote exception
    assert caught.value.index == 3
    assert caught.value.exc_type == "ZeroDivisionError"
    assert "item 3" in str(caught.value)


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_is_found_again_by_its_id(queue):
    job = queue.enqueue(square, 5)
    again = queue.job(job.id)
    assert again.id == job.id
    assert again.result(timeout=30) == 25
    with pytest.raises(jobs.JobNotFound):
        queue.job("no-such-job")


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_timeout_stops_the_job(queue):
    # Given a job enqueued with a 1 s timeout that would run 30 s
    job = queue.enqueue_call(sleep_then, (30,), timeout=1)
    # Then it fails, and the failure says it timed out
    with pytest.raises(jobs.JobFailed) as caught:
        job.result(timeout=30)
    assert "timeout" in (caught.value.exc_type + str(caught.value)).lower()


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_failing_job_with_retries_runs_again(queue, tmp_path):
    # Given a job that fails on its first run only
    job = queue.enqueue_call(fail_once, (str(tmp_path / "marker"),), retries=2)
    # Then the retry's value is the result
    assert job.result(timeout=30) == "ok"


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_retry_with_an_interval_runs_once_the_interval_passed(queue, tmp_path):
    # Given a job that fails once, with a retry one second later (RQ parks it in its scheduler)
    job = queue.enqueue_call(fail_once, (str(tmp_path / "marker"),), retries=1, retry_interval=[1])
    # Then the retry runs and its value is the result
    assert job.result(timeout=30) == "ok"


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_bad_options_are_config_errors_before_anything_runs(queue):
    for bad in ({"timeout": -1}, {"timeout": "soon"}, {"retries": -1}, {"retry_interval": [-1]},
                {"job_id": "has space"}, {"max_losses": 0}):
        with pytest.raises(jobs.ConfigError):
            queue.enqueue_call(square, (1,), **bad)
    with pytest.raises(jobs.ConfigError):
        queue.map(square, [1], chunksize=0)
    with pytest.raises(jobs.ConfigError):
        queue.enqueue_call(square, 1)  # args must be a sequence


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_an_unpicklable_argument_is_a_serialization_error(queue):
    import threading

    with pytest.raises(jobs.SerializationError, match="cannot be serialized"):
        queue.enqueue(square, threading.Lock())


@pytest.mark.parametrize("queue", BACKGROUND, indirect=True)
def test_a_wait_that_runs_out_raises_timeout_error_and_the_job_goes_on(queue):
    job = queue.enqueue(sleep_then, 1, "late")
    # When the wait is shorter than the job
    with pytest.raises(TimeoutError):
        job.result(timeout=0.05)
    # Then the job still finishes
    assert job.result(timeout=30) == "late"


@pytest.mark.parametrize("queue", BACKGROUND, indirect=True)
def test_a_map_that_runs_out_raises_result_timeout(queue):
    with pytest.raises(jobs.ResultTimeout):
        queue.map(sleep_then, [1, 1], timeout=0.05)


@pytest.mark.parametrize("serializer_kind", ALL)
def test_json_serializer_carries_json_values_and_rejects_others(request, serializer_kind):
    url = {"local": "local://1", "fakeredis": "fakeredis://json"}.get(serializer_kind)
    url = url or request.getfixturevalue("rq_worker_url" if serializer_kind == "redis" else "supervised_url")
    if serializer_kind in ("redis", "supervised"):
        # the plain worker of the fixture reads pickle; JSON jobs go to a queue read by none
        with jobs.Queue(url, "json-only", serializer="json") as q:
            with pytest.raises(jobs.SerializationError, match="JSON"):
                q.enqueue(echo_kwargs, value={1, 2})
        return
    with jobs.Queue(url, serializer="json") as q:
        assert q.enqueue(echo_kwargs, a=[1, "x", None]).result(timeout=30) == {"a": [1, "x", None]}
        with pytest.raises(jobs.SerializationError, match="JSON"):
            q.enqueue(echo_kwargs, value={1, 2})


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_an_async_def_job_is_awaited_and_returns_or_raises_like_any_job(queue):
    # Given async def job functions, enqueued and mapped as any other
    from tests.jobs import async_fail, async_square

    # Then each is awaited where it runs: its value comes back, and its error as JobFailed
    assert queue.enqueue(async_square, 6).result(timeout=30) == 36
    assert queue.map(async_square, [1, 2, 3], timeout=30) == [1, 4, 9]
    with pytest.raises(jobs.JobFailed, match="async boom"):
        queue.enqueue(async_fail).result(timeout=30)
