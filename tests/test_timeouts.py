"""Job timeouts on the one-thread worker: RQ's exception and message, after RQ's time, every job.

The worker arms SIGALRM without a system call per job (``workers.job_runner.AlarmPenalty``):
these tests hold it to RQ's behaviour across jobs of different timeouts.
"""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from tests import jobs, thread_jobs
from tests.supervisor_helpers import Supervise, job_status, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5"]


def exc_string(client, job_id: str) -> str:
    return Job.fetch(job_id, connection=client).latest_result().exc_string


def test_jobs_past_their_timeout_fail_with_rqs_error_and_the_worker_goes_on(redis_url, client):
    # Given a busy job and a sleeping one, each with a 1 s timeout, then an ordinary job
    queue = Queue("default", connection=client)
    busy = queue.enqueue(thread_jobs.spin, 30, job_timeout=1)
    asleep = queue.enqueue(thread_jobs.sleep_in_c, 30, job_timeout=1)
    after = queue.enqueue(jobs.square, 3)
    with Supervise(redis_url, "-n", "1", *FAST) as sup:
        child = sup.wait_children(1)[0]
        wait_until(lambda: job_status(client, after.id) == JobStatus.FINISHED, timeout=30, what="the last job finished")
        # Then both timed out with RQ's exception and message, in the same worker process
        for job in (busy, asleep):
            assert job_status(client, job.id) == JobStatus.FAILED
            assert "JobTimeoutException: Task exceeded maximum timeout value (1 seconds)" in exc_string(client, job.id)
        assert sup.children() == [child]


def test_a_short_timeout_before_it_never_cuts_a_later_job_short(redis_url, client):
    # Given a quick job with a 1 s timeout, then a 2-second job with the default timeout
    queue = Queue("default", connection=client)
    quick = queue.enqueue(jobs.square, 2, job_timeout=1)
    longer = queue.enqueue(thread_jobs.spin, 2)
    later = queue.enqueue(thread_jobs.spin, 3, job_timeout=2)
    with Supervise(redis_url, "-n", "1", *FAST):
        wait_until(lambda: job_status(client, later.id) == JobStatus.FAILED, timeout=30, what="the last job failed")
    # Then the longer job ran to its end past the quick one's second, and the last one still timed out at 2 s
    assert job_status(client, quick.id) == JobStatus.FINISHED
    assert job_status(client, longer.id) == JobStatus.FINISHED
    assert "Task exceeded maximum timeout value (2 seconds)" in exc_string(client, later.id)


def test_a_job_that_takes_sigalrm_for_itself_leaves_the_next_jobs_timeout_working(redis_url, client):
    # Given a job that installs its own SIGALRM handler, then a busy job with a 1 s timeout
    queue = Queue("default", connection=client)
    taker = queue.enqueue(thread_jobs.take_sigalrm)
    busy = queue.enqueue(thread_jobs.spin, 30, job_timeout=1)
    with Supervise(redis_url, "-n", "1", *FAST):
        wait_until(lambda: job_status(client, busy.id) == JobStatus.FAILED, timeout=30, what="the busy job failed")
    # Then the busy job still timed out with RQ's error, in its second
    assert job_status(client, taker.id) == JobStatus.FINISHED
    assert "Task exceeded maximum timeout value (1 seconds)" in exc_string(client, busy.id)
