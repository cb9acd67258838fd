"""Workflows: a Job passed as an argument stands for its result, on every backend.

The examples of the README run on local://, fakeredis://, redis:// with a plain RQ worker and
with `workers supervise -n 2`. Failure, loss and cancel propagate down a chain of 3 at once.
"""

from __future__ import annotations

import time

import pytest

import jobs
from jobs.backends.base import RunsInProcess
from tests.backend_fixtures import queue  # noqa: F401 - the fixture
from tests.jobs import add, fail, fail_once, kill_own_process, square
from tests.workflow_jobs import describe, nested_sum, wait_for_file

ALL = ["local", "fakeredis", "redis", "supervised"]
#: Backends whose jobs run in the background (a gate can hold a parent while the test acts).
BACKGROUND = ["local", "redis", "supervised"]
REDIS = ["redis", "supervised"]




@pytest.fixture
def gate(tmp_path):
    """A file path; jobs waiting on it return once the test creates it."""
    return str(tmp_path / "gate")


def open_gate(path):
    with open(path, "w") as fh:
        fh.write("open\n")


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_passed_as_an_argument_is_replaced_by_its_result(queue):
    # Given two jobs
    a = queue.enqueue(square, 3)
    b = queue.enqueue(square, 4)
    # When a third takes them as arguments
    c = queue.enqueue(add, a, b)
    # Then it runs after both, with their values
    assert c.result(timeout=30) == 25


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_fan_in_of_a_hundred_jobs_in_a_list_sums_their_results(queue):
    total = queue.enqueue(sum, [queue.enqueue(square, i) for i in range(100)])
    assert total.result(timeout=60) == sum(i * i for i in range(100))


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_jobs_at_any_depth_of_lists_tuples_and_dicts_are_replaced(queue):
    a, b, c = queue.enqueue(square, 1), queue.enqueue(square, 2), queue.enqueue(square, 3)
    job = queue.enqueue_call(nested_sum, kwargs={"data": {"x": [a, (b, {"y": c})], "z": 10}})
    assert job.result(timeout=30) == 1 + 4 + 9 + 10


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_map_items_may_hold_jobs(queue):
    parent = queue.enqueue(square, 5)
    assert queue.map(add, [parent] * 5) == [25] * 5
    assert queue.starmap(add, [(parent, i) for i in range(3)]) == [25, 26, 27]


@pytest.mark.parametrize("queue", BACKGROUND, indirect=True)
def test_a_dependent_is_deferred_until_its_parent_finished(queue, gate):
    # Given a parent held at a gate and a job waiting on it (and one only ordered after it)
    parent = queue.enqueue(wait_for_file, gate, 7)
    child = queue.enqueue(add, parent, 1)
    ordered = queue.enqueue_call(square, (2,), depends_on=parent)
    # Then both wait, deferred
    assert child.status == jobs.JobStatus.DEFERRED
    assert ordered.status == jobs.JobStatus.DEFERRED
    # When the parent finishes, they run
    open_gate(gate)
    assert child.result(timeout=30) == 8
    assert ordered.result(timeout=30) == 4


def test_fakeredis_dependents_run_when_waited_on():
    with jobs.Queue("fakeredis://deferred") as q:
        parent = q.enqueue(square, 3)
        child = q.enqueue(add, parent, 1)
        assert child.status == jobs.JobStatus.DEFERRED
        assert child.result(timeout=10) == 10


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_failure_propagates_down_a_chain_of_three_naming_the_parent(queue):
    # Given a failing job and a chain of three waiting on it
    root = queue.enqueue(fail, "broken")
    first = queue.enqueue(add, root, 1)
    second = queue.enqueue(add, first, 1)
    third = queue.enqueue_call(square, (2,), depends_on=second)
    # Then none runs: each fails naming its parent and the root's error type
    for job, parent in ((first, root), (second, first), (third, second)):
        with pytest.raises(jobs.JobFailed) as info:
            job.result(timeout=30)
        assert parent.id in str(info.value) and "ValueError" in str(info.value)
        assert info.value.exc_type == "ValueError"
        assert job.status == jobs.JobStatus.FAILED


@pytest.mark.parametrize("queue", BACKGROUND, indirect=True)
def test_a_failure_while_the_chain_waits_propagates_at_once(queue, gate):
    # Given a chain waiting on a parent that will fail
    root = queue.enqueue(wait_for_file, gate, "not a number")
    first = queue.enqueue(add, root, 1)  # "not a number" + 1 raises TypeError
    second = queue.enqueue(add, first, 1)
    third = queue.enqueue(add, second, 1)
    open_gate(gate)
    with pytest.raises(jobs.JobFailed) as info:
        third.result(timeout=30)
    assert info.value.exc_type == "TypeError" and second.id in str(info.value)
    assert second.status == jobs.JobStatus.FAILED


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_allow_failure_passes_the_parents_job_failed_as_the_value(queue):
    root = queue.enqueue(fail, "broken")
    job = queue.enqueue_call(describe, (root,), allow_failure=True)
    assert job.result(timeout=30) == ["JobFailed", "ValueError", root.id]


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_canceling_a_parent_cancels_its_waiting_dependents_down_the_chain(queue, gate):
    # Given a chain of three behind a waiting parent
    in_process = isinstance(queue.backend, RunsInProcess)  # fakeredis: nothing runs until waited on
    hold = None if in_process else queue.enqueue(wait_for_file, gate, 1)
    parent = queue.enqueue(square, 1) if in_process else queue.enqueue(add, hold, 1)
    first = queue.enqueue(add, parent, 1)
    second = queue.enqueue(add, first, 1)
    third = queue.enqueue(add, second, 1)
    # When the parent is canceled
    assert parent.cancel()
    # Then the chain is canceled, naming the job each waited for
    for job, waited_for in ((first, parent), (second, first), (third, second)):
        with pytest.raises(jobs.JobCanceled, match=waited_for.id):
            job.result(timeout=30)
        assert job.status == jobs.JobStatus.CANCELED
    if hold is not None:
        open_gate(gate)
        assert hold.result(timeout=30) == 1


@pytest.mark.parametrize("queue", ["local", "supervised"], indirect=True)
def test_a_lost_parent_fails_its_chain_with_job_lost(queue):
    # Given a job that SIGKILLs every worker it meets, and a chain of three waiting on it
    root = queue.enqueue_call(kill_own_process, max_losses=1)
    first = queue.enqueue(add, root, 1)
    second = queue.enqueue(add, first, 1)
    third = queue.enqueue(add, second, 1)
    with pytest.raises(jobs.JobLost):
        root.result(timeout=60)
    # Then each of the chain fails with the parent's error type
    for job, parent in ((first, root), (second, first), (third, second)):
        with pytest.raises(jobs.JobFailed) as info:
            job.result(timeout=30)
        assert info.value.exc_type == "JobLost" and parent.id in str(info.value)


@pytest.mark.parametrize("queue", ["local", "fakeredis", "supervised"], indirect=True)
def test_a_job_id_of_your_own_works_and_one_in_use_is_a_config_error(queue):
    a = queue.enqueue_call(square, (6,), job_id="wf-square-six")
    assert a.id == "wf-square-six"
    b = queue.enqueue_call(add, (a, 1), job_id="wf-add-one")
    assert b.result(timeout=30) == 37
    assert queue.job("wf-add-one").result(timeout=5) == 37
    with pytest.raises(jobs.ConfigError, match="already exists"):
        queue.enqueue_call(add, (a, 2), job_id="wf-add-one")


def test_jobs_as_arguments_travel_with_the_json_serializer_too():
    with jobs.Queue("fakeredis://wf-json", serializer="json") as q:
        a = q.enqueue(square, 3)
        assert q.enqueue(nested_sum, {"x": [a, 1]}).result(timeout=10) == 10


@pytest.mark.parametrize("queue", ["local", "supervised"], indirect=True)
def test_a_job_waiting_for_its_retry_interval_is_scheduled(queue, tmp_path):
    # Given a job that fails once and retries after 2 s
    job = queue.enqueue_call(fail_once, (str(tmp_path / "marker"),), retries=1, retry_interval=2)
    # When its first attempt failed, it waits scheduled (as RQ says), then runs again
    seen, deadline = set(), time.monotonic() + 30
    while job.status not in (jobs.JobStatus.FINISHED, jobs.JobStatus.FAILED) and time.monotonic() < deadline:
        seen.add(job.status)
        time.sleep(0.02)
    assert jobs.JobStatus.SCHEDULED in seen
    assert job.result(timeout=30) == "ok"
