"""``workers supervise --max-async M``: ``async def`` jobs run at once on each process's event loop.

Real supervisor processes, a real Redis, real SIGKILLs; no timing assertions (each test waits,
with a timeout, for the state it expects).
"""

from __future__ import annotations

import os
import signal

import pytest
from rq import Queue
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus

from jobs.rq_format import markers as meta
from tests import async_jobs, jobs
from tests.supervisor_helpers import Supervise, job_status, running_count, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5", "--log-level", "info"]


def test_one_process_awaits_up_to_max_async_coroutines_at_once_on_one_thread(redis_url, client):
    # Given 24 async jobs that each await for a while
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(async_jobs.overlap, redis_url, "aio", 0.5).id for _ in range(24)]
    # When one worker process with one thread and --max-async 8 runs them
    with Supervise(redis_url, "-n", "1", "--max-async", "8", *FAST):
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in ids), what="all finished")
    # Then 8 awaited at once, never more, and each result is in RQ's format
    assert int(client.get("aio:max")) == 8
    assert Job.fetch(ids[0], connection=client).return_value() == "aio"
    assert queue.started_job_registry.count == 0 and queue.finished_job_registry.count == 24


def test_async_results_errors_and_the_current_job_are_what_rq_worker_records(redis_url, client):
    # Given async jobs that return, raise, and ask RQ for their current job, next to a plain one
    queue = Queue("default", connection=client)
    doubled = queue.enqueue(async_jobs.double, 21)
    failed = queue.enqueue(async_jobs.fail, "async boom")
    current = queue.enqueue(async_jobs.current_job_id)
    plain = queue.enqueue(jobs.square, 5)
    called = queue.enqueue(async_jobs.AsyncCallable(), 1)
    every = [doubled, failed, current, plain, called]
    with Supervise(redis_url, "-n", "1", "--threads", "2", "--max-async", "10", *FAST):
        wait_until(lambda: all(job_status(client, j.id) in (JobStatus.FINISHED, JobStatus.FAILED) for j in every),
                   what="all ended")
    # Then each is recorded as RQ's own worker records it
    assert Job.fetch(doubled.id, connection=client).return_value() == 42
    assert "ValueError: async boom" in Job.fetch(failed.id, connection=client).latest_result().exc_string
    assert Job.fetch(current.id, connection=client).return_value() == current.id
    assert Job.fetch(plain.id, connection=client).return_value() == 25
    assert Job.fetch(called.id, connection=client).return_value() == 2


def test_an_async_job_past_its_timeout_is_cancelled_while_the_others_go_on(redis_url, client):
    # Given a coroutine with a 1 s timeout that would await for a minute, next to a gated one
    queue = Queue("default", connection=client)
    late = queue.enqueue(async_jobs.overlap, redis_url, "late", 60, job_timeout=1)
    neighbour = queue.enqueue(async_jobs.overlap, redis_url, "near", 60, "near:gate")
    with Supervise(redis_url, "-n", "1", "--max-async", "4", *FAST) as sup:
        child = sup.wait_children(1)[0]
        # When it runs past its timeout
        wait_until(lambda: job_status(client, late.id) == JobStatus.FAILED, timeout=30, what="the late job failed")
        # Then it failed with RQ's timeout error; the process lives and the neighbour still runs
        assert "JobTimeoutException" in Job.fetch(late.id, connection=client).latest_result().exc_string
        assert job_status(client, neighbour.id) == JobStatus.STARTED
        client.set("near:gate", 1)
        wait_until(lambda: job_status(client, neighbour.id) == JobStatus.FINISHED, what="the neighbour finished")
        assert sup.children() == [child]


def test_a_sigkilled_worker_charges_a_loss_to_each_coroutine_it_was_running_and_to_no_other(redis_url, client):
    # Given a worker awaiting 3 gated coroutines, and 3 plain jobs waiting behind a full loop
    queue = Queue("default", connection=client)
    running = [queue.enqueue(async_jobs.overlap, redis_url, "akill", 60, "akill:gate").id for _ in range(3)]
    waiting = [queue.enqueue(jobs.square, i).id for i in range(3)]
    with Supervise(redis_url, "-n", "1", "--max-async", "3", *FAST) as sup:
        first = sup.wait_children(1)[0]
        wait_until(lambda: running_count(client, "akill") == 3, what="3 coroutines running")
        # When the worker process is SIGKILLed
        client.decr("akill:running", 3)  # the killed jobs cannot count themselves out
        os.kill(first, signal.SIGKILL)
        client.set("akill:gate", 1)
        # Then every job finishes; each coroutine re-ran with one loss, the waiting jobs with none
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in running + waiting), timeout=30,
                   what="all finished")
    assert [Job.fetch(i, connection=client).meta.get(meta.LOSSES) for i in running] == [1, 1, 1]
    assert [Job.fetch(i, connection=client).meta.get(meta.LOSSES) for i in waiting] == [None, None, None]


def test_a_coroutine_blocking_the_loop_past_its_timeout_is_killed_with_its_process_the_others_uncharged(
        redis_url, client):
    # Given a gated coroutine running, then one that blocks the loop (time.sleep) past its 1 s timeout
    queue = Queue("default", connection=client)
    neighbour = queue.enqueue(async_jobs.overlap, redis_url, "hold", 60, "hold:gate")
    with Supervise(redis_url, "-n", "1", "--max-async", "4", "--timeout-grace", "1", *FAST) as sup:
        wait_until(lambda: running_count(client, "hold") == 1, what="the neighbour running")
        blocked = queue.enqueue(async_jobs.block_the_loop, 60, job_timeout=1)
        client.set("hold:gate", 1)  # the neighbour's re-run passes straight through
        # When the supervisor kills the process after the timeout and the grace
        wait_until(lambda: job_status(client, blocked.id) == JobStatus.FAILED, timeout=30, what="the blocked job failed")
        # Then the blocking job failed as timed out; the neighbour went back without a loss and finished
        assert "JobTimeoutException" in Job.fetch(blocked.id, connection=client).latest_result().exc_string
        wait_until(lambda: job_status(client, neighbour.id) == JobStatus.FINISHED, timeout=30, what="the neighbour finished")
        assert meta.LOSSES not in Job.fetch(neighbour.id, connection=client).meta
        assert "ignored SIGALRM" in sup.output()


def test_stop_job_cancels_one_coroutine_and_leaves_the_others_awaiting(redis_url, client):
    # Given two gated coroutines on one loop
    queue = Queue("default", connection=client)
    stopped, other = (queue.enqueue(async_jobs.overlap, redis_url, "astop", 60, "astop:gate") for _ in range(2))
    with Supervise(redis_url, "-n", "1", "--max-async", "4", *FAST):
        wait_until(lambda: running_count(client, "astop") == 2, what="2 coroutines running")
        # When one is stopped with RQ's command
        send_stop_job_command(client, stopped.id)
        # Then it ends stopped; the other goes on, and finishes when let through
        wait_until(lambda: job_status(client, stopped.id) == JobStatus.STOPPED, what="the job stopped")
        assert job_status(client, other.id) == JobStatus.STARTED
        client.set("astop:gate", 1)
        wait_until(lambda: job_status(client, other.id) == JobStatus.FINISHED, what="the other finished")


def test_sigterm_waits_for_every_running_coroutine(redis_url, client):
    # Given 4 coroutines awaiting for a second each
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(async_jobs.overlap, redis_url, "adrain", 1.0).id for _ in range(4)]
    with Supervise(redis_url, "-n", "1", "--max-async", "4", *FAST) as sup:
        wait_until(lambda: running_count(client, "adrain") == 4, what="4 coroutines running")
        # When the supervisor gets SIGTERM
        sup.signal(signal.SIGTERM)
        # Then it exits 0 after they all finished
        assert sup.wait(timeout=30) == 0
    assert all(job_status(client, i) == JobStatus.FINISHED for i in ids)
    assert queue.started_job_registry.count == 0


def test_without_max_async_an_async_job_runs_to_its_end_as_under_rq_worker(redis_url, client):
    # Given async jobs and a supervisor without --max-async
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(async_jobs.overlap, redis_url, "serial", 0.1).id for _ in range(3)]
    with Supervise(redis_url, "-n", "1", *FAST):
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in ids), what="all finished")
    # Then they ran one at a time (asyncio.run, as RQ), and finished
    assert int(client.get("serial:max")) == 1


def test_a_coroutine_still_running_when_later_ones_ended_is_rerun_when_its_worker_dies(redis_url, client):
    # Given a gated coroutine, and quick ones enqueued after it that end first (out of held order)
    queue = Queue("default", connection=client)
    slow = queue.enqueue(async_jobs.overlap, redis_url, "order", 60, "order:gate")
    quick = [queue.enqueue(async_jobs.double, i).id for i in range(3)]
    with Supervise(redis_url, "-n", "1", "--max-async", "4", *FAST) as sup:
        first = sup.wait_children(1)[0]
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in quick), what="the quick ones finished")
        assert job_status(client, slow.id) == JobStatus.STARTED
        # When the worker dies while the slow one still awaits
        client.decr("order:running")
        os.kill(first, signal.SIGKILL)
        client.set("order:gate", 1)
        # Then the slow one is re-run with one loss, and finishes
        wait_until(lambda: job_status(client, slow.id) == JobStatus.FINISHED, timeout=30, what="the slow one finished")
    assert Job.fetch(slow.id, connection=client).meta.get(meta.LOSSES) == 1


def test_with_threads_and_no_max_async_async_jobs_still_await_together(redis_url, client):
    # Given 12 async jobs and a supervisor with 2 threads per process, no --max-async
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(async_jobs.overlap, redis_url, "together", 0.5).id for _ in range(12)]
    with Supervise(redis_url, "-n", "1", "--threads", "2", *FAST):
        wait_until(lambda: all(job_status(client, i) == JobStatus.FINISHED for i in ids), what="all finished")
    # Then more than the 2 threads' worth awaited at once: the event loop is on by default with threads
    assert int(client.get("together:max")) > 2
