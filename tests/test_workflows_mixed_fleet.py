"""Workflows across a mixed fleet: parents run by a plain ``rq worker``, dependents served by
``workers supervise``. RQ's own release does not count down jobfleet's count of unmet parents and
does not propagate failure; the supervisor's sweep (jobs/rq_format/dependency_sweep.py) finds such
waiting jobs and queues or fails them. Real processes, a real Redis."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis
from rq.registry import DeferredJobRegistry

import jobs
from tests.jobs import add, fail, square
from tests.supervisor_helpers import ROOT, Supervise, wait_until

pytestmark = pytest.mark.redis


def plain_rq_worker(url: str, queue: str) -> None:
    """RQ's own worker, not ours, runs ``queue`` until it is empty."""
    run = subprocess.run([sys.executable, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "--burst",
                          "--url", url, "-q", queue], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_fan_in_whose_parents_ran_on_rq_worker_and_on_workers_supervise_runs(redis_url):
    with jobs.Queue(redis_url, "plain") as plain, jobs.Queue(redis_url, "ours") as ours:
        # Given a job waiting on a parent of a queue only a plain rq worker serves, and on one of ours
        theirs = plain.enqueue(square, 3)
        mine = ours.enqueue(square, 4)
        total = ours.enqueue(add, theirs, mine)
        # When the plain rq worker runs its parent first, then workers supervise the other
        plain_rq_worker(redis_url, "plain")
        assert theirs.status == jobs.JobStatus.FINISHED and total.status == jobs.JobStatus.DEFERRED
        with Supervise(redis_url, "-n", "1", "--queue", "ours"):
            # Then the dependent runs, with both values
            assert total.result(timeout=30) == 25


def test_a_parent_that_failed_on_a_plain_rq_worker_fails_its_dependents_down_the_chain(redis_url):
    with jobs.Queue(redis_url, "plain") as plain, jobs.Queue(redis_url, "ours") as ours:
        # Given a chain of two waiting on a parent that plain RQ code enqueued (no jobfleet callback)
        # and that fails on a plain rq worker, which leaves the jobs waiting on it deferred for ever
        from rq import Queue as RQQueue

        rq_parent = RQQueue("plain", connection=redis.Redis.from_url(redis_url)).enqueue(fail, "broken parent")
        parent = plain.job(rq_parent.id)
        child = ours.enqueue(add, parent, 1)
        grandchild = ours.enqueue(add, child, 1)
        plain_rq_worker(redis_url, "plain")
        assert parent.status == jobs.JobStatus.FAILED
        # When workers supervise serves the dependents' queue
        with Supervise(redis_url, "-n", "1", "--queue", "ours"):
            # Then both fail without running, each naming the job it waited for
            with pytest.raises(jobs.JobFailed, match=parent.id):
                child.result(timeout=30)
            with pytest.raises(jobs.JobFailed, match=child.id):
                grandchild.result(timeout=30)
            # And in Redis too: failed, out of RQ's deferred registry (rq info shows no waiting job)
            wait_until(lambda: child.status == grandchild.status == jobs.JobStatus.FAILED, what="both failed")
            assert DeferredJobRegistry("ours", connection=redis.Redis.from_url(redis_url)).count == 0


def test_a_job_rq_left_in_its_ready_registry_is_queued_without_waiting_for_rq_maintenance(redis_url):
    # Given a job RQ's ready step moved to its ready registry and then gave up on (lost its lock)
    from rq import Queue as RQQueue
    from rq.registry import ReadyJobRegistry

    client = redis.Redis.from_url(redis_url)
    job = RQQueue("ours", connection=client).enqueue(square, 6)
    client.delete(RQQueue("ours", connection=client).key)  # as if never pushed: only the registry holds it
    with client.pipeline() as pipe:
        ReadyJobRegistry("ours", connection=client).register_jobs([job], pipeline=pipe)
        pipe.execute()
    # When workers supervise serves its queue
    with Supervise(redis_url, "-n", "1", "--queue", "ours"), jobs.Queue(redis_url, "ours") as ours:
        # Then it runs within a sweep, not RQ's ten-minute maintenance
        assert ours.job(job.id).result(timeout=30) == 36
