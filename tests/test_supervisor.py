"""`workers supervise` with real processes, a real Redis and real SIGKILLs.

No timing assertions: each test waits (with a timeout) for the state it expects.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.results import Result

from jobs.rq_format import keys
from jobs.rq_format import markers as meta
from tests import jobs
from tests.supervisor_helpers import ROOT, Supervise, alive, wait_until

pytestmark = pytest.mark.redis

FAST = ["--host-timeout", "1.5", "--log-level", "info"]


@pytest.fixture
def queue(client):
    return Queue("default", connection=client)


def finished(client, job_ids) -> bool:
    statuses = [Job.fetch(i, connection=client).get_status() for i in job_ids]
    return all(s == JobStatus.FINISHED for s in statuses)


def test_a_job_enqueued_with_plain_rq_runs_and_rq_info_lists_the_queue_and_workers(redis_url, client, queue):
    # Given a supervisor with two workers
    with Supervise(redis_url, "-n", "2", *FAST) as sup:
        sup.wait_children(2)
        # When plain RQ code enqueues a job
        job = queue.enqueue(jobs.add, 2, b=3)
        # Then it runs and its result is in RQ's result stream
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, what="job finished")
        assert Result.fetch_latest(job).return_value == 5
        assert job.return_value() == 5
        # And `rq info` (a separate process) lists the queue and both workers
        wait_until(lambda: len(redis.Redis.from_url(redis_url).smembers("rq:workers")) == 2, what="2 workers")
        info = subprocess.run([sys.executable, "-m", "rq.cli", "info", "--url", redis_url], capture_output=True,
                              text=True, timeout=30, cwd=ROOT)
        assert info.returncode == 0, info.stderr
        assert "default" in info.stdout
        assert "2 workers" in info.stdout
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


def test_every_job_completes_while_a_killer_sigkills_random_children(redis_url, client, queue):
    # Given 2,000 short jobs that each record their completion, and three workers
    n = 2000
    ids = []
    with client.pipeline() as pipe:
        for i in range(n):
            ids.append(queue.enqueue(jobs.record, redis_url, "chaos", i, pipeline=pipe).id)
        pipe.execute()
    with Supervise(redis_url, "-n", "3", "--max-losses", "1000", *FAST) as sup:
        sup.wait_children(3)
        # When a random child is SIGKILLed every 200-400 ms until the queue is drained
        kills = 0
        rng = random.Random(7)

        def drained() -> bool:
            return client.hlen("chaos") >= n and client.zcard("rq:finished:default") >= n

        while not drained():
            assert kills < 400, "the queue did not drain"
            children = sup.children()
            if children:
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1
            wait_until(lambda: True, 0.1)
            threading.Event().wait(rng.uniform(0.2, 0.4))
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0
    # Then every job ran to the end at least once, none failed, none is left started
    recorded = {int(k): int(v) for k, v in client.hgetall("chaos").items()}
    assert sorted(recorded) == list(range(n))
    assert FailedJobRegistry("default", connection=client).count == 0
    assert StartedJobRegistry("default", connection=client).count == 0
    assert finished(client, ids)
    # And the losses are counted, at most one per kill
    losses = sum(j.meta.get(meta.LOSSES, 0) for j in Job.fetch_many(ids, connection=client))
    assert kills >= 1
    assert losses <= kills


def test_a_poison_job_is_given_up_after_max_losses_and_others_still_run(redis_url, client, queue):
    # Given a job that SIGKILLs its own process, and ordinary jobs
    with Supervise(redis_url, "-n", "2", "--max-losses", "3", *FAST) as sup:
        poison = queue.enqueue(jobs.kill_own_process)
        others = [queue.enqueue(jobs.square, i) for i in range(20)]
        # When the workers run them
        wait_until(lambda: poison.get_status() == JobStatus.FAILED, what="poison job failed")
        wait_until(lambda: finished(client, [j.id for j in others]), what="other jobs finished")
        # Then the poison job is failed in RQ's format with the JobLost data
        poison.refresh()
        assert poison.id in FailedJobRegistry("default", connection=client)
        assert poison.meta[meta.LOSSES] == 3
        assert poison.meta[meta.LOST] == "lost 3 times: worker died by signal 9"
        latest = Result.fetch_latest(poison)
        assert latest.type == Result.Type.FAILED
        assert latest.exc_string.startswith(meta.LOST_EXC_PREFIX + "lost 3 times: worker died by signal 9")
        # And the others are unaffected: even those prefetched with it got no loss
        assert [j.return_value() for j in others] == [i * i for i in range(20)]
        assert all(meta.LOSSES not in Job.fetch(j.id, connection=client).meta for j in others)
        wait_until(lambda: "given up after 3 losses" in sup.output(), what="give-up logged")


def test_a_job_that_killed_its_worker_once_is_rerun_with_one_loss(redis_url, client, queue, tmp_path):
    # Given a job that SIGKILLs its process the first time only
    with Supervise(redis_url, "-n", "1", *FAST) as sup:
        job = queue.enqueue(jobs.kill_once, str(tmp_path / "marker"))
        # When it runs
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, what="job finished")
        # Then it was re-run once and carries one loss; the dead child was replaced
        job.refresh()
        assert job.return_value() == "survived"
        assert job.meta[meta.LOSSES] == 1
        wait_until(lambda: f"job {job.id} re-queued" in sup.output(), what="re-queue logged")
        assert "died by signal 9 while running job " + job.id in sup.output()


def test_jobs_of_a_lost_host_are_rerun_by_the_other_supervisor(redis_url, client, queue):
    # Given two supervisors on the same Redis, and slow jobs
    key = "host-loss"
    ids = [queue.enqueue(jobs.record_slowly, redis_url, key, i, 0.3).id for i in range(12)]
    with Supervise(redis_url, "-n", "2", *FAST) as a:
        a.wait_children(2)
        wait_until(lambda: _held_by(client, a.pid), what="supervisor A holds jobs")
        with Supervise(redis_url, "-n", "2", *FAST) as b:
            b.wait_children(2)
            # When supervisor A and all its children are SIGKILLed mid-run
            a.kill_host()
            # Then B runs every job, including those A held
            try:
                wait_until(lambda: finished(client, ids), timeout=60, what="all jobs finished")
            except AssertionError:
                print(redis_state(client, ids))
                raise
            assert sorted(int(k) for k in client.hgetall(key)) == list(range(12))
            wait_until(lambda: "recovered" in b.output(), what="recovery logged")
            b.signal(signal.SIGTERM)
            assert b.wait() == 0
    assert StartedJobRegistry("default", connection=client).count == 0


def test_a_supervisor_wrongly_taken_for_lost_registers_again_with_its_next_claim(redis_url, client, queue):
    # Given a supervisor whose heartbeat is rare, and another's recovery that took it for lost
    # (its heartbeat key gone, its workers and itself dropped from the sets) while it lives on
    from workers import recovery

    with Supervise(redis_url, "-n", "1", "--host-timeout", "60") as a:
        a.wait_children(1)
        (sid,) = wait_until(lambda: [i.decode() for i in client.smembers(keys.SUPERVISORS)], what="A registered")
        client.delete(keys.supervisor(sid))
        recovery.recover_host(client, sid, max_losses=3)
        assert not client.sismember(keys.SUPERVISORS, sid) and not client.scard(keys.supervisor_workers(sid))
        # When it claims a job, long before its next heartbeat
        job = queue.enqueue(jobs.gated_host_job, redis_url, "again", 1)
        wait_until(lambda: client.hlen("again:started"), what="the job started")
        # Then its worker holding that job is findable again by a lost-host scan
        assert client.sismember(keys.SUPERVISORS, sid) and client.scard(keys.supervisor_workers(sid)) == 1
        # And when it really dies, another supervisor re-runs the job
        a.kill_host()
        client.set("again:gate", 1)
        with Supervise(redis_url, "-n", "1", *FAST):
            wait_until(lambda: job.get_status() == JobStatus.FINISHED, timeout=60, what="the job re-ran")


def redis_state(client, job_ids) -> str:
    """Each job's status and worker, the queue, the held lists and the registries: failure output."""
    rows = [f"job {i}: {client.hmget(f'rq:job:{i}', 'status', 'worker_name')}" for i in job_ids]
    rows.append(f"queue: {client.lrange('rq:queue:default', 0, -1)}")
    rows += [f"{k}: {client.lrange(k, 0, -1)}" for k in client.scan_iter(keys.PREFIX + "held:*")]
    rows.append(f"started: {client.zrange('rq:wip:default', 0, -1)}")
    rows.append(f"workers: {client.smembers('rq:workers')}; supervisors: {client.smembers(keys.SUPERVISORS)}")
    return "\n".join(rows)


def _held_by(client, pid: int) -> bool:
    return any(client.llen(k) for k in client.scan_iter(keys.PREFIX + "held:*") if f"-{pid}-" in k.decode())


def test_sigterm_lets_running_jobs_finish_and_puts_the_rest_back(redis_url, client, queue):
    # Given two workers busy with 1-second jobs and more waiting
    ids = [queue.enqueue(jobs.sleep_and_record, redis_url, "drain", i, 1.0).id for i in range(6)]
    with Supervise(redis_url, "-n", "2", *FAST) as sup:
        wait_until(lambda: client.hlen("drain:begun") >= 2, what="2 jobs running")
        children = sup.children()
        # When the supervisor gets SIGTERM
        sup.signal(signal.SIGTERM)
        # Then it exits 0, the running jobs finished, the others are back on the queue, no child is left
        assert sup.wait(timeout=30) == 0
        assert not any(alive(p) for p in children)
    done = {int(k) for k in client.hgetall("drain")}
    assert done == {int(k) for k in client.hgetall("drain:begun")}
    assert len(done) >= 2
    queued = [i.decode() for i in client.lrange("rq:queue:default", 0, -1)]
    assert sorted(queued) == sorted(ids[i] for i in range(6) if i not in done)
    assert all(Job.fetch(i, connection=client).get_status() == JobStatus.QUEUED for i in queued)
    assert StartedJobRegistry("default", connection=client).count == 0


def test_jobs_that_outlive_the_shutdown_timeout_go_back_without_a_loss(redis_url, client, queue):
    # Given a worker busy with a long job and a shutdown timeout shorter than it
    job = queue.enqueue(jobs.sleep_then, 60)
    with Supervise(redis_url, "-n", "1", "--shutdown-timeout", "0.5", *FAST) as sup:
        wait_until(lambda: job.get_status() == JobStatus.STARTED, what="job started")
        # When the supervisor gets SIGTERM
        sup.signal(signal.SIGTERM)
        # Then it kills the worker after the timeout and puts the job back, with no loss
        assert sup.wait(timeout=30) == 0
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED
    assert meta.LOSSES not in job.meta
    assert client.lrange("rq:queue:default", 0, -1) == [job.id.encode()]


def test_a_second_sigint_stops_at_once_and_still_puts_jobs_back(redis_url, client, queue):
    # Given a worker busy with a long job
    job = queue.enqueue(jobs.sleep_then, 60)
    with Supervise(redis_url, "-n", "1", "--shutdown-timeout", "60", *FAST) as sup:
        wait_until(lambda: job.get_status() == JobStatus.STARTED, what="job started")
        # When Ctrl-C comes twice
        sup.signal(signal.SIGINT)
        wait_until(lambda: "shutdown: stopping" in sup.output(), what="shutdown began")
        sup.signal(signal.SIGINT)
        # Then it exits 0 without waiting for the job, which is back on the queue
        assert sup.wait(timeout=20) == 0
    assert Job.fetch(job.id, connection=client).get_status() == JobStatus.QUEUED


def test_a_job_timeout_given_at_enqueue_is_enforced(redis_url, client, queue):
    # Given a job that would sleep 30 s with a 1 s timeout
    with Supervise(redis_url, "-n", "1", *FAST):
        slow = queue.enqueue(jobs.sleep_then, 30, job_timeout=1)
        after = queue.enqueue(jobs.square, 7)
        # Then it fails with RQ's timeout error and the worker goes on
        wait_until(lambda: slow.get_status() == JobStatus.FAILED, what="timed out job failed")
        assert "JobTimeoutException" in Result.fetch_latest(slow).exc_string
        wait_until(lambda: after.get_status() == JobStatus.FINISHED, what="next job finished")


def test_redis_down_at_start_is_one_clear_line_without_the_password(redis_server):
    # Given a URL with a password to a port where nothing listens
    from tests.redis_server import free_port

    port = free_port()
    with Supervise(f"redis://:s3cret@127.0.0.1:{port}/0", "-n", "2", *FAST) as sup:
        # Then it says which server is down and retries, starting no worker
        wait_until(lambda: sup.output().count("unreachable") >= 2, what="two retries")
        out = sup.output()
        assert f"Redis at 127.0.0.1:{port} is unreachable" in out
        assert "s3cret" not in out
        assert sup.children() == []
        # And it still stops cleanly
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


def test_workers_reconnect_and_carry_on_after_redis_restarts(redis_server, redis_url, client, queue):
    # Given a supervisor that already ran a job
    with Supervise(redis_url, "-n", "2", *FAST) as sup:
        first = queue.enqueue(jobs.square, 3)
        wait_until(lambda: first.get_status() == JobStatus.FINISHED, what="first job")
        # When Redis restarts (losing its data)
        redis_server.restart()
        # Then a job enqueued afterwards still runs
        second = Queue("default", connection=redis.Redis.from_url(redis_url)).enqueue(jobs.square, 4)
        wait_until(lambda: _status_or_none(second) == JobStatus.FINISHED, timeout=40, what="job after restart")
        assert second.return_value() == 16
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


def _status_or_none(job):
    try:
        return job.get_status()
    except redis.exceptions.ConnectionError:
        return None


def test_a_child_that_cannot_start_stops_the_supervisor_with_its_error(redis_url):
    # Given a worker class that does not exist
    with Supervise(redis_url, "-n", "1", "--worker-class", "tests.jobs.NoSuchWorker", *FAST) as sup:
        # Then the supervisor gives up after repeated failed starts, with the child's error in one line
        code = sup.wait(timeout=60)
        assert code == 3
        last = sup.output().strip().splitlines()[-1]
        assert last.startswith("workers: error: worker failed to start 5 times: ")
        assert "NoSuchWorker" in last


def test_max_jobs_per_child_replaces_workers_and_runs_everything(redis_url, client, queue):
    # Given a worker replaced every 5 jobs
    ids = [queue.enqueue(jobs.square, i).id for i in range(23)]
    with Supervise(redis_url, "-n", "1", "--max-jobs-per-child", "5", "--burst", *FAST) as sup:
        # Then every job runs and the supervisor exits 0 when the queue is empty
        assert sup.wait(timeout=60) == 0
        assert sup.output().count("recycled") >= 4
    assert finished(client, ids)


def test_children_stop_when_the_supervisor_is_sigkilled(redis_url):
    # Given a supervisor with two children
    with Supervise(redis_url, "-n", "2", *FAST) as sup:
        children = sup.wait_children(2)
        # When only the supervisor is SIGKILLed
        sup.signal(signal.SIGKILL)
        sup.wait()
        # Then its children notice and stop too
        wait_until(lambda: not any(alive(p) for p in children), timeout=10, what="children gone")


def test_workers_status_shows_supervisors_workers_queues_and_lost_jobs(redis_url, client, queue):
    # Given a supervisor that gave up a poison job and ran an ordinary one
    with Supervise(redis_url, "-n", "1", "--max-losses", "1", *FAST) as sup:
        poison = queue.enqueue(jobs.kill_own_process)
        ok = queue.enqueue(jobs.square, 2)
        wait_until(lambda: poison.get_status() == JobStatus.FAILED and ok.get_status() == JobStatus.FINISHED,
                   what="jobs settled")
        queue.enqueue(jobs.square, 3, at_front=False)  # may run or wait: depth is whatever it is
        # When `workers status` runs
        out = subprocess.run([sys.executable, "-m", "workers", "status", "--url", redis_url], capture_output=True,
                             text=True, timeout=30, cwd=ROOT)
        # Then it lists this supervisor, its worker and the queue with one lost job
        assert out.returncode == 0, out.stderr
        assert f"-{sup.pid}-" in out.stdout
        assert "Workers:" in out.stdout and "host=" in out.stdout
        assert "failed=1 lost=1" in out.stdout


def test_rq_features_work_retries_dependents_and_several_queues_in_priority_order(redis_url, client):
    # Given jobs on two queues, one that fails with a retry, one that depends on another
    from rq import Retry

    high, low = Queue("high", connection=client), Queue("low", connection=client)
    flaky = low.enqueue(jobs.fail, "again", retry=Retry(max=1))
    parent = high.enqueue(jobs.square, 5)
    child = low.enqueue(jobs.add, 1, b=2, depends_on=parent)
    with Supervise(redis_url, "-n", "1", "--queue", "high", "--queue", "low", *FAST):
        # When the worker runs them
        wait_until(lambda: flaky.get_status() == JobStatus.FAILED, what="flaky job failed for good")
        wait_until(lambda: child.get_status() == JobStatus.FINISHED, what="dependent ran")
        # Then the retry was used, the dependent ran after its parent, and a job on the
        # second queue enqueued while the worker idles is picked up
        flaky.refresh()
        assert flaky.retries_left == 0
        assert child.return_value() == 3 and parent.return_value() == 25
        late = low.enqueue(jobs.square, 6)
        wait_until(lambda: late.get_status() == JobStatus.FINISHED, what="late job on the second queue")


def test_a_result_that_cannot_be_pickled_is_stored_as_rq_does_and_the_worker_goes_on(redis_url, client, queue):
    # Given a job whose return value cannot be pickled
    with Supervise(redis_url, "-n", "1", *FAST):
        bad = queue.enqueue(jobs.unpicklable_result)
        after = queue.enqueue(jobs.square, 8)
        # Then, as under RQ's own workers, it finishes with RQ's "unserializable" placeholder,
        # costs no loss, and the next job still runs
        wait_until(lambda: bad.get_status() == JobStatus.FINISHED, what="bad job settled")
        wait_until(lambda: after.get_status() == JobStatus.FINISHED, what="next job finished")
        assert Job.fetch(bad.id, connection=client).meta.get(meta.LOSSES) is None


def test_json_serialized_jobs_run_with_serializer_json(redis_url, client):
    # Given a job enqueued by plain RQ with the JSON serializer
    from rq.serializers import JSONSerializer

    queue = Queue("default", connection=client, serializer=JSONSerializer)
    job = queue.enqueue("tests.jobs.add", 2, b=40)
    with Supervise(redis_url, "-n", "1", "--serializer", "json", *FAST):
        # Then a supervisor started with --serializer json runs it
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, what="json job finished")
        assert Job.fetch(job.id, connection=client, serializer=JSONSerializer).return_value() == 42


def test_a_job_that_ignores_its_timeout_is_failed_and_its_worker_replaced(redis_url, client, queue):
    # Given a job that blocks SIGALRM and would run 60 s, with a 1 s timeout
    with Supervise(redis_url, "-n", "1", "--timeout-grace", "0.5", *FAST) as sup:
        stuck = queue.enqueue(jobs.ignore_timeout, 60, job_timeout=1)
        after = queue.enqueue(jobs.square, 9)
        # Then the supervisor kills its worker after the grace and fails the job as timed out
        wait_until(lambda: stuck.get_status() == JobStatus.FAILED, what="stuck job failed")
        assert Result.fetch_latest(stuck).exc_string.startswith("rq.timeouts.JobTimeoutException: timed out")
        assert meta.LOSSES not in Job.fetch(stuck.id, connection=client).meta
        # And the next job runs on a fresh worker
        wait_until(lambda: after.get_status() == JobStatus.FINISHED, what="next job finished")
        wait_until(lambda: "ignored its timeout" in sup.output(), what="kill logged")


def test_a_supervised_success_leaves_the_records_rqs_own_worker_leaves(redis_url, client):
    # Given one job run by RQ's SimpleWorker and one like it run by workers supervise
    from rq import SimpleWorker

    queue = Queue("default", connection=client)
    by_rq = queue.enqueue(jobs.square, 7, result_ttl=600)
    SimpleWorker([queue], connection=client).work(burst=True)
    ours = queue.enqueue(jobs.square, 7, result_ttl=600)
    with Supervise(redis_url, "-n", "1", "--burst", *FAST) as sup:
        assert sup.wait(timeout=30) == 0
    # Then both have the same job fields, result stream fields, expiries and registry entries
    records = []
    for job in (by_rq, ours):
        stream = client.xrange(f"rq:results:{job.id}")
        fetched = Job.fetch(job.id, connection=client)
        records.append((sorted(client.hgetall(job.key)), len(stream), sorted(stream[0][1]), fetched.get_status(),
                        fetched.return_value(), client.ttl(job.key) > 590, client.ttl(f"rq:results:{job.id}") > 590,
                        client.zscore("rq:finished:default", job.id) is not None))
    assert records[0] == records[1]


def test_jobs_finish_after_redis_forgets_the_workers_scripts(redis_url, client, queue):
    # Given a supervisor that has written a batch (its scripts are loaded)
    with Supervise(redis_url, "-n", "1", *FAST):
        first = queue.enqueue(jobs.square, 2)
        wait_until(lambda: first.get_status(refresh=True) == JobStatus.FINISHED, what="the first job finished")
        # When Redis drops every script, as a restart does
        client.script_flush()
        later = queue.enqueue(jobs.square, 3)
        # Then the next batch is still written whole
        wait_until(lambda: later.get_status(refresh=True) == JobStatus.FINISHED, what="the later job finished")
    assert Job.fetch(later.id, connection=client).return_value() == 9
    assert queue.started_job_registry.count == 0
