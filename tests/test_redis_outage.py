"""Redis restarts under load: no job lost, waiting clients ride it out, an enqueue fails whole.

Each test has a redis-server of its own with AOF on (so a graceful restart keeps the data), on
a free port, stopped by PID. The restart is a real SIGTERM (Redis's graceful SHUTDOWN, which
writes the AOF out) and a new server on the same port.
"""

from __future__ import annotations

import threading

import pytest

import jobs
from jobs.rq_format import keys
from tests.conftest import _no_redis
from tests.faults import map_through
from tests.jobs import square
from tests.redis_server import redis_server_path, start_redis
from tests.supervisor_helpers import Supervise, wait_until

JOBS = 5_000


@pytest.fixture
def aof_server():
    """A redis-server with ``appendonly yes`` (``appendfsync everysec``), stopped by PID."""
    if redis_server_path() is None:
        _no_redis("redis-server is not installed")
    server = start_redis(["--appendonly", "yes", "--appendfsync", "everysec"])
    yield server
    server.close()


def test_a_graceful_redis_restart_loses_none_of_5000_jobs_and_waiting_clients_ride_it_out(aof_server):
    with Supervise(aof_server.url, "-n", "2", "--log-level", "warning") as sup, jobs.Queue(aof_server.url) as q:
        sup.wait_children(2)
        # When Redis restarts gracefully (SIGTERM: it writes the AOF and exits; then the same
        # port again) while 5,000 jobs are in flight and a map waits on them
        values = map_through(q, aof_server.client, aof_server.restart,
                             count=JOBS, strike_after=500, job_seconds=0.002, timeout=180)
        # Then every job finished with its own result
        assert values == list(range(JOBS))
        # And a job enqueued after the restart runs, its client reading the result as usual
        assert q.enqueue(square, 12).result(timeout=30) == 144
        assert "Traceback" not in sup.output()


def test_a_client_blocked_in_result_rides_out_an_outage_shorter_than_its_timeout(aof_server, caplog):
    with jobs.Queue(aof_server.url) as q:
        # Given a job queued while no worker runs, and a client waiting for it
        job = q.enqueue(square, 7)
        outcome: dict[str, object] = {}

        def wait() -> None:
            try:
                outcome["value"] = job.result(timeout=60)
            except Exception as exc:  # noqa: BLE001 - the test reports what the wait raised
                outcome["error"] = exc
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        # When Redis goes down for a while, comes back, and only then a worker runs the job
        aof_server.stop()
        wait_until(lambda: "is unavailable" in caplog.text or not waiter.is_alive(), what="the client to meet the outage")
        aof_server.restart()
        with Supervise(aof_server.url, "-n", "1", "--burst", "--log-level", "warning") as sup:
            assert sup.wait(60) == 0
        waiter.join(60)
        # Then the waiting client got the value instead of failing at the dropped connection
        assert outcome == {"value": 49}


def test_an_enqueue_while_redis_is_down_raises_backend_unavailable_and_writes_nothing(aof_server):
    with jobs.Queue(aof_server.url) as q:
        # Given a queue that holds one job
        q.enqueue(square, 1)
        client = aof_server.client()
        before = sorted(client.keys("*"))
        # When Redis is down and a job and a map are enqueued
        aof_server.stop()
        with pytest.raises(jobs.BackendUnavailable, match=f"Redis at 127.0.0.1:{aof_server.port} is unavailable"):
            q.enqueue(square, 2)
        with pytest.raises(jobs.BackendUnavailable):
            q.map(square, range(10), timeout=5)
        # Then, Redis back, nothing of them was written
        aof_server.restart()
        assert sorted(client.keys("*")) == before
        assert client.llen(keys.queue("default")) == 1
        client.close()


def test_a_wait_gives_up_with_backend_unavailable_when_the_outage_outlasts_its_timeout(aof_server):
    with jobs.Queue(aof_server.url) as q:
        # Given a queued job, and Redis gone
        job = q.enqueue(square, 3)
        aof_server.stop()
        # Then a wait with a timeout ends at its timeout, naming the outage
        with pytest.raises(jobs.BackendUnavailable, match="is unavailable"):
            job.result(timeout=1)
