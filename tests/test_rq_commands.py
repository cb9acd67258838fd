"""RQ's worker commands, dequeue strategies and ``work()`` on the batch worker (issue 17).

``rq.command.send_stop_job_command`` / ``send_kill_horse_command``, ``--dequeue-strategy``,
``--max-idle-time``, and ``rq worker -w workers.worker.BatchWorker``: real processes, a real
Redis; each test waits (with a timeout) for the state it expects.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Queue, Retry, Worker
from rq.command import send_kill_horse_command, send_shutdown_command, send_stop_job_command
from rq.job import Job, JobStatus

from tests import feature_jobs, jobs
from tests.supervisor_helpers import ROOT, Supervise, job_status, terminate, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5"]


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_stop_job_interrupts_the_running_job_and_marks_it_stopped(redis_url, client, tmp_path):
    # Given a long job with retries left, running on a supervised worker
    queue = Queue("default", connection=client)
    marker = tmp_path / "runs"
    job = queue.enqueue(feature_jobs.sleep_unless_stopped, str(marker), 60, retry=Retry(max=2))
    with Supervise(redis_url, "-n", "1", *FAST) as sup:
        child = sup.wait_children(1)[0]
        wait_until(lambda: lines(marker) == ["begun"], what="the job began")
        # When RQ's stop-job command is sent for it
        send_stop_job_command(client, job.id)
        # Then it ends at once as stopped, not failed, and is not retried
        wait_until(lambda: job_status(client, job.id) == JobStatus.STOPPED, what="the job stopped")
        stopped = Job.fetch(job.id, connection=client)
        assert stopped.number_of_retries in (0, None)
        assert job.id in queue.failed_job_registry
        assert "interrupted by an RQ command" in stopped.latest_result().exc_string
        # And the worker was not killed: it runs the next job
        after = queue.enqueue(jobs.square, 7)
        wait_until(lambda: job_status(client, after.id) == JobStatus.FINISHED, what="the next job ran")
        assert sup.children() == [child]
    assert lines(marker) == ["begun"]


def test_stop_job_of_a_job_waiting_in_the_batch_means_it_never_starts(redis_url, client, tmp_path):
    # Given a worker holding a batch: a long job running, another waiting behind it
    queue = Queue("default", connection=client)
    first_marker, second_marker = tmp_path / "first", tmp_path / "second"
    first = queue.enqueue(feature_jobs.sleep_unless_stopped, str(first_marker), 2)
    second = queue.enqueue(feature_jobs.sleep_unless_stopped, str(second_marker), 0)
    with Supervise(redis_url, "-n", "1", "--worker-class", "tests.feature_jobs.HoldingWorker", *FAST):
        wait_until(lambda: lines(first_marker) == ["begun"], what="the first job began")
        assert job_status(client, second.id) == JobStatus.STARTED  # held by the worker, not run yet
        # When the waiting job is stopped
        send_stop_job_command(client, second.id)
        # Then it is stopped without ever running, and the running job finishes
        wait_until(lambda: job_status(client, second.id) == JobStatus.STOPPED, what="the second job stopped")
        wait_until(lambda: job_status(client, first.id) == JobStatus.FINISHED, what="the first job finished")
    assert lines(second_marker) == []
    assert "before it started" in Job.fetch(second.id, connection=client).latest_result().exc_string


def test_kill_horse_fails_the_running_job_as_rq_does_when_its_horse_dies(redis_url, client, tmp_path):
    # Given a long job running on a supervised worker
    queue = Queue("default", connection=client)
    marker = tmp_path / "runs"
    job = queue.enqueue(feature_jobs.sleep_unless_stopped, str(marker), 60)
    with Supervise(redis_url, "-n", "1", *FAST):
        wait_until(lambda: lines(marker) == ["begun"], what="the job began")
        # When RQ's kill-horse command is sent to its worker
        send_kill_horse_command(client, Job.fetch(job.id, connection=client).worker_name)
        # Then the job fails (it has no retries left), and the worker lives on
        wait_until(lambda: job_status(client, job.id) == JobStatus.FAILED, what="the job failed")
        after = queue.enqueue(jobs.square, 3)
        wait_until(lambda: job_status(client, after.id) == JobStatus.FINISHED, what="the next job ran")


@pytest.mark.parametrize("strategy", ["default", "round_robin", "random"])
def test_dequeue_strategies_order_the_queues_as_rq_worker_does(redis_url, client, tmp_path, strategy):
    # Given three queues of three jobs each
    runs = tmp_path / "runs"
    for q in range(3):
        for j in range(3):
            Queue(f"q{q}", connection=client).enqueue(jobs.append_run, str(runs), f"q{q}_{j}")
    # When one supervised worker serves them with the strategy, in burst mode
    with Supervise(redis_url, "-n", "1", "--burst", "--dequeue-strategy", strategy,
                   "-q", "q0", "-q", "q1", "-q", "q2", *FAST) as sup:
        assert sup.wait(timeout=60) == 0
    order = lines(runs)
    # Then every job ran once, in the strategy's order
    assert sorted(order) == sorted(f"q{q}_{j}" for q in range(3) for j in range(3))
    if strategy == "default":
        assert order == [f"q{q}_{j}" for q in range(3) for j in range(3)]
    elif strategy == "round_robin":
        assert order == [f"q{q}_{j}" for j in range(3) for q in range(3)]
    else:  # random: each queue's own jobs stay in their order
        for q in range(3):
            assert [r for r in order if r.startswith(f"q{q}_")] == [f"q{q}_{j}" for j in range(3)]


def test_a_bad_dequeue_strategy_is_refused_before_anything_starts(redis_url):
    run = subprocess.run([sys.executable, "-m", "workers", "supervise", "--url", redis_url, "--dequeue-strategy",
                          "fifo"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "'fifo' is not one of 'default', 'round_robin', 'random'" in run.stderr


def test_max_idle_time_ends_the_supervisor_once_its_workers_had_nothing_to_do(redis_url, client):
    # Given a job, and a supervisor whose workers exit after 0.5 s without work
    queue = Queue("default", connection=client)
    job = queue.enqueue(jobs.square, 4)
    with Supervise(redis_url, "-n", "2", "--max-idle-time", "0.5", *FAST) as sup:
        # Then it runs the job and exits 0 by itself, its workers gone
        assert sup.wait(timeout=60) == 0
        assert "idle: all workers done" in sup.output()
    assert job_status(client, job.id) == JobStatus.FINISHED


def _rq_worker(redis_url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--url", redis_url,
                             "-w", "workers.worker.BatchWorker", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_rq_worker_with_the_batch_worker_class_runs_the_batched_loop(redis_url, client):
    # Given jobs, and RQ's own CLI told to use jobfleet's worker class
    queue = Queue("default", connection=client)
    checks = [queue.enqueue(feature_jobs.in_batch_loop) for _ in range(5)]
    worker = _rq_worker(redis_url, "--burst", "--dequeue-strategy", "round_robin")
    try:
        out, _ = worker.communicate(timeout=60)
    finally:
        terminate(worker)
    # Then it ran them in the batched loop, not RQ's one-job loop, and exited 0
    assert worker.returncode == 0, out
    assert [Job.fetch(j.id, connection=client).return_value() for j in checks] == [True] * 5


def test_rq_worker_with_the_batch_worker_class_stops_warm_then_cold_and_loses_nothing(redis_url, client, tmp_path):
    # Given `rq worker -w workers.worker.BatchWorker` running a long job with more waiting
    queue = Queue("default", connection=client)
    marker = tmp_path / "runs"
    long = queue.enqueue(feature_jobs.sleep_unless_stopped, str(marker), 60)
    rest = [queue.enqueue(jobs.square, i) for i in range(3)]
    worker = _rq_worker(redis_url)
    try:
        wait_until(lambda: lines(marker) == ["begun"], what="the long job began")
        # When it gets Ctrl-C, then Ctrl-C again (RQ ignores a repeat within a second: keep pressing)
        wait_until(lambda: worker.send_signal(signal.SIGINT) or worker.poll() is not None, timeout=30,
                   interval=0.3, what="the worker stopped")
    finally:
        terminate(worker)
    # Then it exited, and every job it had not finished is back on the queue, to run again
    assert job_status(client, long.id) == JobStatus.QUEUED
    assert all(job_status(client, j.id) in (JobStatus.QUEUED, JobStatus.FINISHED) for j in rest)
    assert set(queue.get_job_ids()) >= {long.id}
    assert queue.started_job_registry.count == 0


@pytest.mark.parametrize("queues", [["default"], ["high", "low"]], ids=["one queue", "several queues"])
def test_a_shutdown_command_ends_an_idle_workers_wait_instead_of_waiting_it_out(redis_url, client, queues):
    # Given an idle supervised worker whose waits for work last a minute
    q_args = [arg for q in queues for arg in ("-q", q)]
    with Supervise(redis_url, "-n", "1", "--worker-class", "tests.feature_jobs.LongWaitWorker", *q_args, *FAST) as sup:
        first = sup.wait_children(1)[0]
        wait_until(lambda: any(w.name.endswith(".0.1") and w.get_state() == "idle" for w in Worker.all(connection=client)),
                   what="the worker idle")
        name = next(w.name for w in Worker.all(connection=client) if w.name.endswith(".0.1"))
        channel = f"rq:pubsub:{name}"  # a command sent before the worker subscribed would be lost (pub/sub)
        wait_until(lambda: dict(client.pubsub_numsub(channel)).get(channel.encode()), what="the worker subscribed")
        # When RQ's shutdown command is sent to it
        send_shutdown_command(client, name)
        # Then it stops long before its wait would have ended, and the supervisor replaces it
        wait_until(lambda: sup.children() and sup.children() != [first], timeout=20, what="a new worker")
        assert "shutdown command received" in sup.output()
