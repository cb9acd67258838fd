"""``workers supervise --threads N``: N jobs at once per worker process, every guarantee kept.

Real supervisor processes, a real Redis, real SIGKILLs; no timing assertions (each test waits,
with a timeout, for the state it expects).
"""

from __future__ import annotations

import os
import signal

import pytest
from rq import Callback, Queue
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus

from jobs.rq_format import markers as meta
from tests import jobs, thread_jobs
from tests.supervisor_helpers import Supervise, job_status, running_count, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5", "--log-level", "info"]


def test_one_worker_process_runs_as_many_jobs_at_once_as_it_has_threads(redis_url, client):
    # Given 12 jobs that each take a while
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(thread_jobs.overlap, redis_url, "overlap", 0.3).id for _ in range(12)]
    # When one worker process with 4 threads runs them
    with Supervise(redis_url, "-n", "1", "--threads", "4", *FAST):
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in ids), what="all finished")
    # Then 4 ran at once, never more, and each job's result is in RQ's format
    assert int(client.get("overlap:max")) == 4
    assert Job.fetch(ids[0], connection=client).return_value() == "overlap"
    assert queue.started_job_registry.count == 0 and queue.finished_job_registry.count == 12


def test_a_sigkilled_threaded_worker_charges_a_loss_to_each_job_it_was_running_and_to_no_other(redis_url, client):
    # Given a worker with 3 threads running 3 gated jobs, and 3 more jobs waiting in the queue
    queue = Queue("default", connection=client)
    running = [queue.enqueue(thread_jobs.overlap, redis_url, "killed", 60, "killed:gate").id for _ in range(3)]
    waiting = [queue.enqueue(jobs.square, i).id for i in range(3)]
    with Supervise(redis_url, "-n", "1", "--threads", "3", *FAST) as sup:
        first = sup.wait_children(1)[0]
        wait_until(lambda: running_count(client, "killed") == 3, what="3 jobs running")
        # When the worker process is SIGKILLed
        client.decr("killed:running", 3)  # the killed jobs cannot count themselves out
        os.kill(first, signal.SIGKILL)
        client.set("killed:gate", 1)  # the re-runs pass straight through
        # Then every job finishes; each running one re-ran with one loss, the waiting ones with none
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in running + waiting), timeout=30,
                   what="all finished")
    assert [Job.fetch(i, connection=client).meta.get(meta.LOSSES) for i in running] == [1, 1, 1]
    assert [Job.fetch(i, connection=client).meta.get(meta.LOSSES) for i in waiting] == [None, None, None]


def test_a_job_past_its_timeout_fails_in_its_thread_while_its_neighbours_go_on(redis_url, client):
    # Given a busy job with a 1 s timeout next to an ordinary long job, on one process with 2 threads
    queue = Queue("default", connection=client)
    late = queue.enqueue(thread_jobs.spin, 30, job_timeout=1)
    neighbour = queue.enqueue(thread_jobs.overlap, redis_url, "neighbour", 2)
    with Supervise(redis_url, "-n", "1", "--threads", "2", *FAST) as sup:
        child = sup.wait_children(1)[0]
        # When it runs past its timeout
        wait_until(lambda: job_status(client, late.id) == JobStatus.FAILED, timeout=30, what="the late job failed")
        # Then it failed with RQ's timeout error, in its thread: the process lives, the neighbour finishes
        assert "JobTimeoutException" in Job.fetch(late.id, connection=client).latest_result().exc_string
        wait_until(lambda: job_status(client, neighbour.id) == JobStatus.FINISHED, what="the neighbour finished")
        assert sup.children() == [child]


def test_a_job_blocked_past_its_timeout_and_the_grace_is_killed_with_its_process_the_others_uncharged(redis_url, client):
    # Given a job blocked in one call well past its 1 s timeout, next to a gated job
    queue = Queue("default", connection=client)
    blocked = queue.enqueue(thread_jobs.sleep_in_c, 60, job_timeout=1)
    neighbour = queue.enqueue(thread_jobs.overlap, redis_url, "grace", 60, "grace:gate")
    with Supervise(redis_url, "-n", "1", "--threads", "2", "--timeout-grace", "1", *FAST) as sup:
        wait_until(lambda: running_count(client, "grace") == 1, what="the neighbour running")
        client.set("grace:gate", 1)  # the neighbour's re-run passes straight through
        # When the supervisor kills the process after the timeout and the grace
        wait_until(lambda: job_status(client, blocked.id) == JobStatus.FAILED, timeout=30, what="the blocked job failed")
        # Then the blocked job failed as timed out; the neighbour went back without a loss and finished
        assert "JobTimeoutException" in Job.fetch(blocked.id, connection=client).latest_result().exc_string
        wait_until(lambda: job_status(client, neighbour.id) == JobStatus.FINISHED, timeout=30, what="the neighbour finished")
        assert meta.LOSSES not in Job.fetch(neighbour.id, connection=client).meta
        assert "ignored SIGALRM" in sup.output()


def test_sigterm_waits_for_every_running_thread_and_puts_the_rest_back(redis_url, client):
    # Given a worker with 3 threads busy with 1-second jobs and more waiting
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(jobs.sleep_and_record, redis_url, "drain", i, 1.0).id for i in range(8)]
    with Supervise(redis_url, "-n", "1", "--threads", "3", *FAST) as sup:
        wait_until(lambda: client.hlen("drain:begun") >= 3, what="3 jobs running")
        # When the supervisor gets SIGTERM
        sup.signal(signal.SIGTERM)
        # Then it exits 0 after the running jobs finished; the others are back on the queue
        assert sup.wait(timeout=30) == 0
    begun = {int(k) for k in client.hgetall("drain:begun")}
    assert {int(k) for k in client.hgetall("drain")} == begun
    assert len(begun) >= 3
    assert sorted(queue.get_job_ids()) == sorted(i for n, i in enumerate(ids) if n not in begun)
    assert queue.started_job_registry.count == 0


def test_stop_job_interrupts_one_thread_and_leaves_the_others_running(redis_url, client):
    # Given two gated jobs running on two threads of one process
    queue = Queue("default", connection=client)
    stopped, other = (queue.enqueue(thread_jobs.overlap, redis_url, "stop", 60, "stop:gate") for _ in range(2))
    with Supervise(redis_url, "-n", "1", "--threads", "2", *FAST):
        wait_until(lambda: running_count(client, "stop") == 2, what="2 jobs running")
        # When one is stopped with RQ's command
        send_stop_job_command(client, stopped.id)
        # Then it ends stopped; the other goes on, and finishes when let through
        wait_until(lambda: job_status(client, stopped.id) == JobStatus.STOPPED, what="the job stopped")
        assert job_status(client, other.id) == JobStatus.STARTED
        client.set("stop:gate", 1)
        wait_until(lambda: job_status(client, other.id) == JobStatus.FINISHED, what="the other finished")


def test_burst_and_max_jobs_per_child_with_threads_run_every_job_once(redis_url, client, tmp_path):
    # Given 30 short jobs, each appending its number to a file
    queue = Queue("default", connection=client)
    runs = tmp_path / "runs"
    ids = [queue.enqueue(jobs.append_run, str(runs), i, 0.02).id for i in range(30)]
    # When a threaded supervisor whose workers are replaced every 7 jobs runs them in burst mode
    with Supervise(redis_url, "-n", "2", "--threads", "4", "--max-jobs-per-child", "7", "--burst", *FAST) as sup:
        assert sup.wait(timeout=60) == 0
    # Then every job ran exactly once and finished; nothing is left held or started
    assert sorted(int(x) for x in runs.read_text().split()) == list(range(30))
    assert all(job_status(client, i) == JobStatus.FINISHED for i in ids)
    assert queue.started_job_registry.count == 0 and not list(client.scan_iter("jobfleet:held:*"))


def test_success_and_failure_callbacks_run_under_their_timeout_on_a_jobs_thread(redis_url, client):
    # Given a job with an on_success callback and a failing one with an on_failure callback
    queue = Queue("default", connection=client)
    ok = queue.enqueue(jobs.square, 7, on_success=Callback(thread_jobs.note_success, timeout=5))
    bad = queue.enqueue(jobs.fail, "boom", on_failure=Callback(thread_jobs.note_failure, timeout=5))
    # When a worker with threads runs them (where SIGALRM, RQ's callback timeout, cannot reach)
    with Supervise(redis_url, "-n", "1", "--threads", "2", *FAST):
        wait_until(lambda: job_status(client, ok.id) == JobStatus.FINISHED and job_status(client, bad.id) == JobStatus.FAILED,
                   what="both ended")
    # Then each callback ran with what RQ gives it
    assert client.get(f"callback:{ok.id}") == b"49"
    assert client.get(f"callback:{bad.id}").startswith(b"ValueError: boom")
