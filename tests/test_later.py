"""Later jobs, ``enqueue_in`` and ``enqueue_at``, on every backend: scheduled until due, then run on time.

The bounds below are the issue's correctness bounds (a job must not run early, and must run
within a second of its time), not speed measurements. A plain ``rq worker --with-scheduler``
runs the same jobs at the first whole second past their time, after its own one-second poll.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

import jobs
from tests.jobs import clock, square
from tests.test_contract import ALL, queue  # noqa: F401 - the queue fixture, one per backend

#: How late a job may run past its time: within 1 s under jobfleet; a plain RQ scheduler
#: rounds to the next whole second and polls once a second.
LATEST_AFTER_DUE_S = {"local": 1.0, "fakeredis": 1.0, "supervised": 1.0, "redis": 3.0}


def _kind(request) -> str:
    return request.node.callspec.params["queue"]


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_enqueued_in_one_and_a_half_seconds_runs_then_and_not_before(queue, request):
    # Given a job enqueued to run 1.5 s from now
    enqueued_at = time.time()
    job = queue.enqueue_in(1.5, clock)
    # Then it reads as scheduled until its time
    assert job.status == jobs.JobStatus.SCHEDULED
    # And it runs no earlier than 1.5 s, and within a second of its time
    ran_after = job.result(timeout=30) - enqueued_at
    assert 1.5 <= ran_after <= 1.5 + LATEST_AFTER_DUE_S[_kind(request)], ran_after
    assert job.status == jobs.JobStatus.FINISHED


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_enqueued_at_a_datetime_runs_at_that_local_time(queue, request):
    # Given a naive datetime (local time, as datetime.now() gives) one second ahead
    when = datetime.now() + timedelta(seconds=1)
    job = queue.enqueue_at(when, clock)
    # Then the job runs at that moment, not before
    ran_after = job.result(timeout=30) - when.timestamp()
    assert 0 <= ran_after <= LATEST_AFTER_DUE_S[_kind(request)], ran_after


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_later_job_in_the_past_or_with_no_delay_runs_at_once(queue):
    # Given a time already past, and a delay of zero (a timedelta)
    past = queue.enqueue_at(datetime.now() - timedelta(hours=1), square, 3)
    now = queue.enqueue_in(timedelta(0), square, 4)
    # Then both run
    assert past.result(timeout=30) == 9
    assert now.result(timeout=30) == 16


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_scheduled_job_can_be_canceled_before_its_time(queue):
    # Given a job an hour away
    job = queue.enqueue_in(3600, square, 2)
    # When it is canceled, Then it never runs
    assert job.cancel()
    assert job.status == jobs.JobStatus.CANCELED
    with pytest.raises(jobs.JobCanceled):
        job.result(timeout=5)


@pytest.mark.parametrize("queue", ALL, indirect=True)
@pytest.mark.parametrize("delay", [-1, float("nan"), "5", True, None])
def test_a_bad_delay_is_a_config_error(queue, delay):
    with pytest.raises(jobs.ConfigError, match="the delay must be seconds"):
        queue.enqueue_in(delay, square, 2)


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_enqueue_at_needs_a_datetime(queue):
    with pytest.raises(jobs.ConfigError, match="enqueue_at needs a datetime"):
        queue.enqueue_at(time.time() + 5, square, 2)
