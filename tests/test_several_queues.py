"""`workers supervise` on several queues: priority order, an immediate wake-up, no lost job.

With one queue an idle worker waits in BLMOVE; with several it is woken by Redis's client
tracking and claims with the atomic dequeue script, so no job can leave a queue without being
held (issue 14 item 1). Real processes, a real Redis, real SIGKILLs.
"""

from __future__ import annotations

import os
import random
import signal
import threading

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from tests import jobs
from tests.supervisor_helpers import Supervise, wait_until

pytestmark = pytest.mark.redis

QUEUES = ["--queue", "high", "--queue", "low"]
FAST = ["--host-timeout", "1.5", "--log-level", "info"]


def test_an_idle_worker_on_several_queues_is_woken_by_a_job_on_any_of_them(redis_url, client):
    # Given one idle worker serving two queues
    with Supervise(redis_url, "-n", "1", *QUEUES, *FAST) as sup:
        sup.wait_children(1)
        low, high = Queue("low", connection=client), Queue("high", connection=client)
        # When a job arrives on the second queue, then on the first
        first = low.enqueue(jobs.square, 3)
        wait_until(lambda: first.get_status() == JobStatus.FINISHED, what="job on low")
        second = high.enqueue(jobs.square, 4)
        wait_until(lambda: second.get_status() == JobStatus.FINISHED, what="job on high")
        # Then both ran, and Redis notified the worker (it did not fall back to polling)
        assert (first.return_value(), second.return_value()) == (9, 16)
        assert "refused client tracking" not in sup.output()
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


def test_jobs_waiting_on_both_queues_run_in_the_queues_priority_order(redis_url, client):
    low, high = Queue("low", connection=client), Queue("high", connection=client)
    gate, order = "tests:gate", "tests:order"
    client.delete(gate, order)
    with Supervise(redis_url, "-n", "1", *QUEUES, *FAST) as sup:
        sup.wait_children(1)
        # Given the only worker busy behind a gate
        blocker = low.enqueue(jobs.wait_for_key, redis_url, gate)
        wait_until(lambda: blocker.get_status() == JobStatus.STARTED, what="blocker started")
        # When three jobs wait on the low queue and then three on the high one
        for i in range(3):
            low.enqueue(jobs.push_run, redis_url, order, f"low{i}")
        for i in range(3):
            high.enqueue(jobs.push_run, redis_url, order, f"high{i}")
        client.set(gate, 1)
        wait_until(lambda: client.llen(order) == 6, what="six runs")
        # Then every high job ran before any low one, each queue in its own order
        assert [v.decode() for v in client.lrange(order, 0, -1)] == ["high0", "high1", "high2", "low0", "low1", "low2"]
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0


@pytest.mark.slow
def test_no_job_is_lost_when_idle_workers_on_several_queues_are_killed_as_jobs_trickle_in(redis_url, client):
    # Given two workers on two queues, mostly idle: jobs come one at a time
    n, key = 300, "tests:trickle"
    client.delete(key)
    queues = [Queue("high", connection=client), Queue("low", connection=client)]
    ids: list[str] = []
    with Supervise(redis_url, "-n", "2", *QUEUES, "--max-losses", "1000", *FAST) as sup:
        sup.wait_children(2)
        stop = threading.Event()

        def produce() -> None:
            rng = random.Random(3)
            for i in range(n):
                ids.append(rng.choice(queues).enqueue(jobs.record, redis_url, key, i).id)
                stop.wait(0.005)

        producer = threading.Thread(target=produce)
        producer.start()
        # When a random child is SIGKILLed every 50-150 ms while they come
        rng, kills = random.Random(11), 0
        while producer.is_alive() or client.hlen(key) < n:
            assert kills < 600, "the jobs did not all finish"
            children = sup.children()
            if children:
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1
            stop.wait(rng.uniform(0.05, 0.15))
        producer.join(10)
        sup.signal(signal.SIGTERM)
        assert sup.wait() == 0
    # Then every job finished: none was lost between leaving its queue and being held
    assert sorted(int(k) for k in client.hgetall(key)) == list(range(n))
    assert all(j.get_status() == JobStatus.FINISHED for j in Job.fetch_many(ids, connection=client))
    assert kills >= 1
