"""Workflows on Redis: RQ's own records, results kept for readers, bad input, the two RQ traps."""

from __future__ import annotations

import time

import pytest
import redis
from rq.job import Job as RQJob
from rq.registry import DeferredJobRegistry, ReadyJobRegistry

import jobs
from tests.jobs import add, square
from tests.supervisor_helpers import Supervise
from tests.test_workflows import open_gate
from tests.workflow_jobs import wait_for_file


def snapshot(client):
    """Every key and its content: 'nothing written' means this does not change."""
    return {key: client.dump(key) for key in sorted(client.keys())}


@pytest.fixture
def gate(tmp_path):
    return str(tmp_path / "gate")


def test_a_waiting_job_is_an_ordinary_rq_deferred_job_that_rq_info_shows(redis_url, client):
    # Given a parent nobody runs yet, and a job taking its result
    with jobs.Queue(redis_url) as q:
        parent = q.enqueue(square, 3)
        child = q.enqueue(add, parent, 1)
        # Then RQ sees a deferred job depending on the parent, described as the user's call
        rq_job = RQJob.fetch(child.id, connection=client)
        assert rq_job.get_status() == "deferred"
        assert rq_job.dependency_ids == [parent.id]
        assert child.id in DeferredJobRegistry("default", connection=client).get_job_ids()
        assert rq_job.description == f"tests.jobs.add(<job {parent.id}>, 1)"


def test_a_bad_parent_or_function_is_a_clear_error_that_writes_nothing(redis_url, client, redis_server):
    other_url = f"redis://127.0.0.1:{redis_server.port}/3"
    with jobs.Queue(redis_url) as q, jobs.Queue(other_url) as other, jobs.Queue("local://1") as local:
        parent = q.enqueue(square, 3)
        gone = q.enqueue(square, 4)
        client.delete(f"rq:job:{gone.id}")  # as when its record expired
        before = snapshot(client)
        with pytest.raises(jobs.ConfigError, match="another backend"):
            q.enqueue(add, other.enqueue(square, 1), 1)
        with pytest.raises(jobs.ConfigError, match="another backend"):
            q.enqueue(add, local.enqueue(square, 1), 1)
        with pytest.raises(jobs.SerializationError, match="lambda"):
            q.enqueue(lambda x: x, parent)
        with pytest.raises(jobs.ConfigError, match="depends_on takes jobs or job ids"):
            q.enqueue_call(square, (1,), depends_on=lambda: parent)
        with pytest.raises(jobs.JobNotFound, match=gone.id):
            q.enqueue(add, parent, gone)
        with pytest.raises(jobs.JobNotFound, match="never-was"):
            q.enqueue_call(square, (1,), depends_on="never-was")
        with pytest.raises(jobs.ConfigError, match="already exists"):
            q.enqueue_call(add, (parent, 1), job_id=parent.id)
        assert snapshot(client) == before


def test_a_finished_parents_result_is_kept_past_its_result_ttl_until_its_dependent_read_it(supervised_url, gate):
    client = redis.Redis.from_url(supervised_url)
    with jobs.Queue(supervised_url) as q:
        # Given a parent that finished with a result kept for 1 s
        parent = q.enqueue_call(square, (3,), result_ttl=1)
        assert parent.result(timeout=30) == 9
        # When a job takes its result but also waits for another job, held at a gate
        held = q.enqueue(wait_for_file, gate, 1)
        child = q.enqueue(add, parent, held)
        # Then the parent's record and result outlive its result_ttl
        time.sleep(1.5)
        assert client.ttl(f"rq:job:{parent.id}") == -1 and client.ttl(f"rq:results:{parent.id}") == -1
        open_gate(gate)
        assert child.result(timeout=30) == 10
        # And once read, the parent expires again
        assert 0 < client.ttl(f"rq:job:{parent.id}") <= 1
    client.close()


def test_a_running_parents_result_is_kept_past_its_result_ttl(supervised_url, tmp_path):
    client = redis.Redis.from_url(supervised_url)
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    with jobs.Queue(supervised_url) as q:
        # Given a parent running with result_ttl=1, and a job that needs it and a later one
        parent = q.enqueue_call(wait_for_file, (first, 3), result_ttl=1)
        later = q.enqueue(wait_for_file, second, 1)
        child = q.enqueue(add, parent, later)
        open_gate(first)
        assert parent.result(timeout=30) == 3
        time.sleep(1.5)
        # Then its result is still there when the child runs
        open_gate(second)
        assert child.result(timeout=30) == 4
    client.close()


def test_a_parent_on_another_queue(redis_url):
    with Supervise(redis_url, "-n", "1", "--queue", "default", "--queue", "other") as supervisor:
        supervisor.wait_children(1)
        with jobs.Queue(redis_url, "other") as other, jobs.Queue(redis_url) as q:
            parent = other.enqueue(square, 5)
            child = q.enqueue(add, parent, 1)
            assert child.result(timeout=30) == 26


def test_dependents_released_by_two_workers_at_once_all_run_without_waiting_for_rq_maintenance(supervised_url, gate):
    # Given 300 parents held behind one gate job, each with a dependent: once the gate opens,
    # two workers finish parents and release dependents at the same moments (RQ's ready step
    # would give some up, to sit ready_to_enqueue for about 10 minutes)
    client = redis.Redis.from_url(supervised_url)
    with jobs.Queue(supervised_url) as q:
        held = q.enqueue(wait_for_file, gate, 0)
        parents = [q.enqueue(add, held, i) for i in range(300)]
        children = [q.enqueue(add, p, 1) for p in parents]
        open_gate(gate)
        # Then every dependent runs, none is left in RQ's ready registry
        assert [c.result(timeout=60) for c in children] == [i + 1 for i in range(300)]
        assert ReadyJobRegistry("default", connection=client).get_job_ids() == []
    client.close()


def test_enqueueing_dependents_while_their_parents_finish_never_raises_watch_error(supervised_url):
    # Given parents finishing on two workers right now
    with jobs.Queue(supervised_url) as q:
        parents = [q.enqueue(square, i) for i in range(300)]
        # When dependents are enqueued on them meanwhile (RQ's set-up raises WatchError here)
        children = [q.enqueue(add, p, 1) for p in parents]
        # Then each enqueue returned, and each dependent ran
        assert [c.result(timeout=60) for c in children] == [i * i + 1 for i in range(300)]


def test_a_dependent_rq_itself_wrote_waits_for_all_its_parents_under_workers_supervise(supervised_url, gate):
    # Given a job enqueued with RQ's own depends_on on a quick parent and a parent held at a gate
    from rq import Queue as RQQueue

    client = redis.Redis.from_url(supervised_url)
    rq_queue = RQQueue("default", connection=client)
    quick = rq_queue.enqueue(square, 2)
    held = rq_queue.enqueue(wait_for_file, gate, 1)
    dependent = rq_queue.enqueue(square, 3, depends_on=[quick, held])
    # When the quick parent finished, the dependent still waits
    with jobs.Queue(supervised_url) as q:
        assert q.job(quick.id).result(timeout=30) == 4
        assert dependent.get_status() == "deferred"
        # Then once the other finished too, it runs
        open_gate(gate)
        assert q.job(dependent.id).result(timeout=30) == 9
    client.close()
