"""RQ's per-job features under `workers supervise` that RQ's own suite does not pin for a batch
worker (issue 17): a job using one is settled with RQ's own methods, next to batched plain jobs.

Real supervisor processes and a real Redis.
"""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Callback, Job, JobStatus

from tests import feature_jobs, jobs
from tests.supervisor_helpers import Supervise, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5"]


def status(client, job_id: str) -> JobStatus:
    return Job.fetch(job_id, connection=client).get_status()


def test_a_job_returning_retry_runs_again_between_batched_plain_jobs(redis_url, client):
    # Given plain jobs queued around a job that returns rq.Retry on its first run
    queue = Queue("default", connection=client)
    before = [queue.enqueue(jobs.square, i).id for i in range(5)]
    retried = queue.enqueue(feature_jobs.retry_once, "second run")
    after = [queue.enqueue(jobs.square, i).id for i in range(5)]
    with Supervise(redis_url, "-n", "1", *FAST):
        # When a supervised worker runs them
        wait_until(lambda: status(client, retried.id) == JobStatus.FINISHED, what="the retried job finished")
        wait_until(lambda: all(status(client, i) == JobStatus.FINISHED for i in before + after),
                   what="the plain jobs finished")
        # Then the job ran twice, as under rq worker: one RETRIED result, then its value
        job = Job.fetch(retried.id, connection=client)
        assert job.number_of_retries == 1
        assert job.return_value() == "second run"
        assert [r.type for r in job.results()][-1].name == "RETRIED"
        # And nothing stays held or started
        wait_until(lambda: queue.started_job_registry.count == 0, what="the started registry empty")


def test_a_failure_callback_that_raises_is_recorded_as_the_jobs_failure(redis_url, client):
    # Given a failing job whose on_failure callback raises too
    queue = Queue("default", connection=client)
    job = queue.enqueue(jobs.fail, "boom", on_failure=Callback(feature_jobs.broken_failure_callback))
    with Supervise(redis_url, "-n", "1", *FAST):
        # When it runs
        wait_until(lambda: status(client, job.id) == JobStatus.FAILED, what="the job failed")
    # Then, as under rq worker, the recorded failure is the callback's error
    failed = Job.fetch(job.id, connection=client)
    assert "the failure callback broke" in failed.latest_result().exc_string

