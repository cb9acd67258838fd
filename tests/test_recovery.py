"""Re-queueing held jobs (workers.recovery) against a real Redis, without processes."""

from __future__ import annotations

import threading

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus

from jobs.rq_format import keys
from jobs.rq_format import markers as meta
from tests import jobs
from workers.recovery import recover_worker

pytestmark = pytest.mark.redis


def hold(client, worker: str, n: int) -> list[str]:
    """Enqueue n jobs and move them to a worker's held list, as its dequeue would."""
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(jobs.square, i).id for i in range(n)]
    for _ in ids:
        client.lmove(queue.key, keys.held(worker), "LEFT", "RIGHT")
    for job_id in ids:
        client.hset(Job.key_for(job_id), "status", "started")
    return ids


def test_only_the_running_job_gets_a_loss_and_prefetched_ones_go_back_first_in_order(client):
    # Given a dead worker that held three jobs, the second one running
    ids = hold(client, "w1", 3)
    Queue("default", connection=client).enqueue(jobs.square, 99)  # a job that was waiting already
    # When its jobs are recovered
    events = recover_worker(client, "w1", lost_job_id=ids[1], reason="worker died by signal 9", max_losses=3)
    # Then all three are back at the front, in order, and only the running one has a loss
    assert [e.action for e in events] == ["requeued"] * 3
    queued = [i.decode() for i in client.lrange("rq:queue:default", 0, -1)]
    assert queued[:3] == ids
    losses = [Job.fetch(i, connection=client).meta.get(meta.LOSSES, 0) for i in ids]
    assert losses == [0, 1, 0]
    assert all(Job.fetch(i, connection=client).get_status() == JobStatus.QUEUED for i in ids)
    assert not client.exists(keys.held("w1"))


def test_a_job_of_its_own_max_losses_is_failed_as_lost(client):
    # Given a held running job that allows a single loss
    [job_id] = hold(client, "w2", 1)
    job = Job.fetch(job_id, connection=client)
    job.meta[meta.MAX_LOSSES] = 1
    job.save_meta()
    # When its worker dies
    recover_worker(client, "w2", lost_job_id=job_id, reason="worker died by signal 9", max_losses=3)
    # Then it is failed with the JobLost reason and not re-queued
    job = Job.fetch(job_id, connection=client)
    assert job.get_status() == JobStatus.FAILED
    assert job.meta[meta.LOST] == "lost 1 times: worker died by signal 9"
    assert job.latest_result().exc_string.startswith(meta.LOST_EXC_PREFIX)
    assert client.llen("rq:queue:default") == 0


def test_two_recoverers_of_the_same_worker_requeue_each_job_exactly_once(client):
    # Given a dead worker holding 50 jobs
    ids = hold(client, "w3", 50)
    # When two supervisors recover it at the same moment
    barrier = threading.Barrier(2)

    def recover() -> None:
        conn = redis.Redis(connection_pool=client.connection_pool)
        barrier.wait(timeout=10)
        recover_worker(conn, "w3", lost_job_id=None, reason="host lost", max_losses=3)

    threads = [threading.Thread(target=recover) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # Then each job is on the queue exactly once
    queued = [i.decode() for i in client.lrange("rq:queue:default", 0, -1)]
    assert sorted(queued) == sorted(ids)


def make_worker(client, name: str):
    from workers.worker import BatchWorker

    return BatchWorker(["default"], name=name, connection=client, prepare_for_work=False)


def test_ids_moved_to_the_held_list_whose_reply_was_lost_go_back_to_the_queue(client):
    # Given a worker whose dequeue moved two ids to its held list but lost the reply
    worker = make_worker(client, "w4")
    ids = hold(client, "w4", 2)
    worker._resync = True
    # When it resynchronises with Redis
    worker._return_strays()
    # Then both ids are back at the front of the queue, in order, and nothing is held
    assert [i.decode() for i in client.lrange("rq:queue:default", 0, -1)] == ids
    assert not client.exists(keys.held("w4"))


def test_a_batch_worker_runs_a_burst_in_process_and_writes_rq_state(client):
    # Given 100 jobs, and a batch worker in this process
    queue = Queue("default", connection=client)
    ids = [queue.enqueue(jobs.square, i).id for i in range(100)]
    worker = make_worker(client, "w5")
    worker.register_birth()
    # When it works in burst mode
    assert worker.run(burst=True) == 100
    # Then every job is finished in RQ's format, nothing is held or started, counters are right
    assert [Job.fetch(i, connection=client).return_value() for i in ids] == [i * i for i in range(100)]
    assert client.zcard("rq:finished:default") == 100
    assert client.zcard("rq:wip:default") == 0
    assert not client.exists(keys.held("w5"))
    assert int(client.hget("rq:worker:w5", "successful_job_count")) == 100
