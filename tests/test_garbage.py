"""Garbage in Redis never stops a worker: the bad entry is failed or skipped, with a logged reason.

Each test writes by hand what no client of ours would write (a job hash missing fields or with
fields of the wrong type, an id whose hash is gone, a key of the wrong type where a queue or a
job should be), between good jobs, under a real ``workers supervise``. The good jobs after it
must finish, the worker that met the garbage must still be the same process (no crash loop),
and its log must say what it did with the entry.
"""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from jobs.rq_format import keys
from tests import jobs
from tests.supervisor_helpers import Supervise, wait_until

OPTIONS = ["-n", "1", "--log-level", "info"]


@pytest.fixture
def queue(client):
    return Queue("default", connection=client)


def _status(client, job_id: str) -> str | None:
    raw = client.hget(keys.job(job_id), "status")
    return raw.decode() if raw else None


def _run_between_good_jobs(redis_url, client, queue, plant) -> tuple[Supervise, list[str], list[Job]]:
    """Start one worker, plant garbage (``plant(client)`` returns the bad ids), enqueue good
    jobs behind it; return once the good ones finished, with the worker's pid unchanged."""
    sup = Supervise(redis_url, *OPTIONS)
    try:
        (pid,) = sup.wait_children(1)
        first = queue.enqueue(jobs.square, 2)
        wait_until(lambda: first.get_status(refresh=True) == JobStatus.FINISHED, what="a first good job")
        bad = plant(client)
        good = [queue.enqueue(jobs.square, i) for i in range(5)]
        wait_until(lambda: all(j.get_status(refresh=True) == JobStatus.FINISHED for j in good), timeout=30,
                   what="the good jobs behind the garbage")
        assert sup.children() == [pid], sup.output()
        return sup, bad, good
    except BaseException:
        sup.close()
        raise


def _push_job_hash(client, job_id: str, mapping: dict) -> str:
    client.hset(keys.job(job_id), mapping=mapping)
    client.rpush(keys.queue("default"), job_id)
    return job_id


def test_job_hashes_missing_fields_or_with_wrong_types_are_failed_and_the_worker_goes_on(redis_url, client, queue):
    def plant(client):
        return [
            _push_job_hash(client, "no-data", {"status": "queued", "origin": "default"}),
            _push_job_hash(client, "bad-timeout", {"status": "queued", "origin": "default", "data": b"x",
                                                   "timeout": "soon", "created_at": "not a date"}),
            _push_job_hash(client, "bad-data", {"status": "queued", "origin": "default", "data": b"\x00\x01garbage"}),
        ]
    # Given hashes no producer would write, queued between good jobs
    sup, bad, _ = _run_between_good_jobs(redis_url, client, queue, plant)
    with sup:
        # Then each bad one is failed, into RQ's failed registry, and the log names it
        for job_id in bad:
            wait_until(lambda job_id=job_id: _status(client, job_id) == JobStatus.FAILED, what=f"{job_id} failed")
            assert job_id in sup.output()
        assert set(bad) <= {m.decode() for m in client.zrange(keys.failed_registry("default"), 0, -1)}


def test_a_queued_id_whose_hash_is_gone_is_skipped_with_a_logged_reason(redis_url, client, queue):
    def plant(client):
        client.rpush(keys.queue("default"), "deleted-job")
        return ["deleted-job"]
    # Given an id in the queue with no job hash behind it
    sup, _, _ = _run_between_good_jobs(redis_url, client, queue, plant)
    with sup:
        # Then the worker skipped it and said so; nothing of it is left held or started
        wait_until(lambda: "deleted-job" in sup.output(), what="the skip logged")
        assert "gone" in sup.output()
        assert not any(client.llen(k) for k in client.keys(keys.held("*")))
        assert client.zcard(keys.started_registry("default")) == 0


def test_a_job_key_of_the_wrong_type_is_failed_and_the_worker_goes_on(redis_url, client, queue):
    def plant(client):
        client.set(keys.job("a-string"), "not a hash")
        client.rpush(keys.queue("default"), "a-string")
        return ["a-string"]
    # Given an id in the queue whose job key is a string, not a hash
    sup, _, _ = _run_between_good_jobs(redis_url, client, queue, plant)
    with sup:
        # Then the worker logged it and holds nothing of it
        wait_until(lambda: "a-string" in sup.output(), what="the bad entry logged")
        assert not any(client.llen(k) for k in client.keys(keys.held("*")))


def test_a_queue_key_of_the_wrong_type_is_logged_and_the_other_queues_are_served(redis_url, client, queue):
    # Given a worker on two queues, the first of which is a string key, not a list
    client.set(keys.queue("broken"), "not a list")
    with Supervise(redis_url, "-n", "1", "--queue", "broken", "--queue", "default", "--log-level", "info") as sup:
        (pid,) = sup.wait_children(1)
        # When jobs arrive on the good queue
        good = [queue.enqueue(jobs.square, i) for i in range(5)]
        # Then they run on the same worker, and the log names the broken queue
        wait_until(lambda: all(j.get_status(refresh=True) == JobStatus.FINISHED for j in good), timeout=30,
                   what="the good queue's jobs")
        assert sup.children() == [pid], sup.output()
        assert keys.queue("broken") in sup.output()
