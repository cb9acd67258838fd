"""Worker hooks under `workers supervise`: called around every job, never fatal to one.

Real supervisor processes and a real Redis; hooks record what they saw in a Redis list.
"""

from __future__ import annotations

import signal

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from tests import jobs
from tests.hooks import EVENTS
from tests.supervisor_helpers import Supervise, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5", "--log-level", "info"]


@pytest.fixture
def queue(client):
    client.delete(EVENTS)
    return Queue("default", connection=client)


def events(client) -> list[str]:
    return [e.decode() for e in client.lrange(EVENTS, 0, -1)]


def test_a_hook_sees_each_job_before_and_after_it_runs_and_each_batch_once_it_is_in_redis(redis_url, client, queue):
    # Given a supervisor running a recording hook
    with Supervise(redis_url, "-n", "1", "--hook", "tests.hooks.RecordingHook", *FAST) as sup:
        # When a job that succeeds and one that fails run
        ok, bad = queue.enqueue(jobs.square, 4), queue.enqueue(jobs.fail, "boom")
        wait_until(lambda: sum(e.startswith("after_batch") for e in events(client)) == 2, what="two batch events")
        # Then the hook saw each job before and after it ran, with its outcome
        seen = events(client)
        assert seen[0] == "worker_started"
        assert seen.index(f"before_job {ok.id}") < seen.index(f"after_job {ok.id} ok")
        assert seen.index(f"before_job {bad.id}") < seen.index(f"after_job {bad.id} failed")
        # And after_batch ran once each outcome was stored in Redis
        assert f"after_batch {ok.id} finished" in seen
        assert f"after_batch {bad.id} failed" in seen
        # When the supervisor stops, the hook hears the worker stop
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0
    assert events(client)[-1] == "worker_stopping"


def test_a_hook_that_raises_is_logged_and_the_jobs_still_finish(redis_url, client, queue):
    # Given a supervisor whose hook raises from every event
    with Supervise(redis_url, "-n", "1", "--hook", "tests.hooks.BrokenHook", *FAST) as sup:
        # When jobs run
        ids = [queue.enqueue(jobs.square, i).id for i in range(5)]
        # Then every one finishes with its result, and each failing event is logged
        wait_until(lambda: all(Job.fetch(i, connection=client).get_status() == JobStatus.FINISHED for i in ids),
                   what="jobs finished")
        assert [Job.fetch(i, connection=client).return_value() for i in ids] == [0, 1, 4, 9, 16]
        wait_until(lambda: "hook BrokenHook.after_batch failed; the job goes on" in sup.output(), what="log line")
        assert "hook BrokenHook.before_job failed" in sup.output()
        # And no worker was restarted for it
        assert sup.output().count("started (pid") == 1
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


@pytest.mark.parametrize("args, expected", [
    (["--worker-class", "tests.hooks.PerformJobWorker"],
     "--worker-class tests.hooks.PerformJobWorker overrides perform_job, which workers supervise never calls"),
    (["--hook", "tests.hooks.NotAHook"], "--hook tests.hooks.NotAHook is not a subclass (or an instance) of workers.hooks.Hook"),
    (["--hook", "tests.hooks.Missing"], "--hook tests.hooks.Missing: cannot import it"),
])
def test_a_worker_class_override_that_would_never_run_or_a_bad_hook_stops_the_supervisor_with_its_reason(
        redis_url, args, expected):
    # Given a --worker-class overriding an RQ method batch workers never call, or a bad --hook
    with Supervise(redis_url, "-n", "1", *args, *FAST) as sup:
        # Then the supervisor refuses to run it, in one line that says what to do
        assert sup.wait(timeout=60) == 3
        last = sup.output().strip().splitlines()[-1]
        assert last.startswith("workers: error: worker failed to start 5 times: TypeError: ")
        assert expected in last
