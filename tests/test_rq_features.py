"""RQ's per-job features under `workers supervise` that RQ's own suite does not pin for a batch
worker (issue 17): a job using one is settled with RQ's own methods, next to batched plain jobs.

Real supervisor processes and a real Redis.
"""

from __future__ import annotations

import signal

import pytest
from rq import Queue, Worker
from rq.command import send_shutdown_command
from rq.job import Callback, Job, JobStatus
from rq.suspension import resume, suspend

from tests import feature_jobs, jobs
from tests.supervisor_helpers import Supervise, job_status, wait_until
from workers.child import worker_class_of

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5"]


def test_a_job_returning_retry_runs_again_between_batched_plain_jobs(redis_url, client):
    # Given plain jobs queued around a job that returns rq.Retry on its first run
    queue = Queue("default", connection=client)
    before = [queue.enqueue(jobs.square, i).id for i in range(5)]
    retried = queue.enqueue(feature_jobs.retry_once, "second run")
    after = [queue.enqueue(jobs.square, i).id for i in range(5)]
    with Supervise(redis_url, "-n", "1", *FAST):
        # When a supervised worker runs them
        wait_until(lambda: job_status(client, retried.id) == JobStatus.FINISHED, what="the retried job finished")
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in before + after),
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
        wait_until(lambda: job_status(client, job.id) == JobStatus.FAILED, what="the job failed")
    # Then, as under rq worker, the recorded failure is the callback's error
    failed = Job.fetch(job.id, connection=client)
    assert "the failure callback broke" in failed.latest_result().exc_string



def supervised_workers(client) -> list[Worker]:
    return [w for w in Worker.all(connection=client) if w.death_date is None]


def test_a_shutdown_command_stops_a_supervised_worker_warmly_and_the_supervisor_starts_another(redis_url, client):
    # Given a supervised worker
    with Supervise(redis_url, "-n", "1", *FAST):
        first = wait_until(lambda: supervised_workers(client), what="the worker registered")[0]
        wait_until(lambda: client.pubsub_numsub(first.pubsub_channel_name)[0][1], what="the worker listening")
        # When RQ's shutdown command is sent to it
        send_shutdown_command(client, first.name)
        # Then it stops, recording when the stop was asked, and the supervisor starts another
        wait_until(lambda: [w for w in supervised_workers(client) if w.name != first.name], what="a new worker")
        assert client.hget(first.key, "shutdown_requested_date")
        # And the new one runs jobs
        job = Queue("default", connection=client).enqueue(jobs.square, 5)
        wait_until(lambda: job_status(client, job.id) == JobStatus.FINISHED, what="the job finished")


def test_rq_suspend_holds_supervised_workers_back_until_rq_resume(redis_url, client):
    # Given supervised workers, suspended with RQ's `rq suspend`
    queue = Queue("default", connection=client)
    with Supervise(redis_url, "-n", "1", *FAST):
        suspend(client)
        try:
            wait_until(lambda: [w for w in supervised_workers(client) if w.get_state() == "suspended"],
                       what="the worker suspended")
            # When a job is enqueued, it stays queued
            job = queue.enqueue(jobs.square, 6)
            assert job_status(client, job.id) == JobStatus.QUEUED
        finally:
            # When `rq resume` is run, it runs
            resume(client)
        wait_until(lambda: job_status(client, job.id) == JobStatus.FINISHED, what="the job finished")


def test_a_batch_worker_serves_a_job_class_with_its_own_key_prefix(client):
    # Given a job of a job class with its own key prefix
    queue = Queue("default", connection=client, job_class=feature_jobs.CustomPrefixJob)
    job = queue.enqueue(jobs.square, 7)
    assert client.exists(f"custom:job:{job.id}") and not client.exists(f"rq:job:{job.id}")
    # When a batch worker of that job class runs its queue
    worker = feature_jobs.CustomPrefixWorker([queue], connection=client)
    worker.register_birth()
    assert worker.run(burst=True) == 1
    # Then the job ran, under its own keys
    assert feature_jobs.CustomPrefixJob.fetch(job.id, connection=client).return_value() == 49


def test_workers_supervise_refuses_a_worker_class_with_its_own_key_prefix_at_start():
    # Given a worker class whose job class has its own key prefix
    # Then workers supervise refuses it, saying why and what to do
    with pytest.raises(TypeError, match="own key prefix.*keep RQ's prefixes, or run such queues with rq worker"):
        worker_class_of("tests.feature_jobs.CustomPrefixWorker")


def test_a_job_with_a_ttl_shorter_than_its_run_is_not_expired_while_it_runs(redis_url, client):
    # Given a job that may wait 1 s in its queue (ttl=1) and runs for 2 s
    queue = Queue("default", connection=client)
    job = queue.enqueue(jobs.sleep_then, 2, "done", ttl=1)
    with Supervise(redis_url, "-n", "1", *FAST):
        # When it runs
        wait_until(lambda: client.exists(job.key) and job_status(client, job.id) == JobStatus.FINISHED,
                   what="the job finished")
    # Then, as under rq worker, its hash outlived the ttl (persisted when it started), with its result
    assert Job.fetch(job.id, connection=client).return_value() == "done"


def test_a_supervised_worker_reports_its_total_working_time(redis_url, client):
    # Given a supervised worker that ran a job of about half a second
    queue = Queue("default", connection=client)
    job = queue.enqueue(jobs.sleep_then, 0.5, "done")
    with Supervise(redis_url, "-n", "1", *FAST) as sup:
        worker = wait_until(lambda: supervised_workers(client), what="the worker registered")[0]
        wait_until(lambda: job_status(client, job.id) == JobStatus.FINISHED, what="the job finished")
        # When the supervisor stops
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0
    # Then the worker's total_working_time (rq info's figure) counts that job's run
    assert float(client.hget(worker.key, "total_working_time")) >= 0.5
