"""Failover through Sentinel: the primary SIGKILLed mid-run, clients and workers follow the new one.

A real primary, one replica and three sentinels (``redis-server --sentinel``), all ours, on free
ports, stopped by PID. The old primary comes back (empty, as after a crash without
persistence) and the sentinels make it a replica of the new one, as an operator's restart would.
"""

from __future__ import annotations

import pytest

import jobs
from tests.conftest import _no_redis
from tests.faults import map_through
from tests.jobs import square
from tests.redis_server import redis_server_path
from tests.sentinel_cluster import start_sentinel_cluster
from tests.supervisor_helpers import Supervise

JOBS = 2_000


@pytest.fixture
def cluster():
    if redis_server_path() is None:
        _no_redis("redis-server is not installed")
    found = start_sentinel_cluster()
    yield found
    found.close()


def _fail_over(cluster) -> None:
    old = cluster.primary.port
    cluster.primary.kill()  # SIGKILL
    cluster.wait_for_failover(old)
    cluster.primary.restart()  # back empty; the sentinels turn it into a replica of the new primary


@pytest.mark.slow
def test_a_primary_sigkilled_during_2000_jobs_is_followed_and_with_wait_replicas_no_job_is_lost(cluster):
    url = cluster.url("wait_replicas=1&wait_timeout=2")
    with Supervise(url, "-n", "2", "--log-level", "warning") as sup, jobs.Queue(url) as q:
        sup.wait_children(2)
        assert q.enqueue(square, 3).result(timeout=30) == 9
        # When the primary is SIGKILLed while 2,000 jobs are in flight and a map waits on them
        values = map_through(q, cluster.primary.client, lambda: _fail_over(cluster),
                             count=JOBS, strike_after=300, job_seconds=0.003, timeout=120)
        # Then the sentinels promoted the replica, and every job finished with its result
        assert values == list(range(JOBS))
        # And new jobs run on the new primary
        assert q.enqueue(square, 5).result(timeout=30) == 25
        assert "Traceback" not in sup.output()


def test_a_sentinel_url_runs_jobs_and_names_the_service_in_errors(cluster):
    with Supervise(cluster.url(), "-n", "1", "--log-level", "warning") as sup, jobs.Queue(cluster.url()) as q:
        sup.wait_children(1)
        assert q.map(square, range(10), timeout=30) == [i * i for i in range(10)]
    bad = cluster.url().replace(f"/{'jobfleet'}/", "/no-such-service/")
    with jobs.Queue(bad) as q, pytest.raises(jobs.BackendUnavailable, match="no-such-service"):
        q.enqueue(square, 1)


def test_with_wait_replicas_an_enqueue_no_replica_confirms_raises_backend_unavailable(redis_url):
    # Given a Redis with no replica, and a queue that asks for one
    with jobs.Queue(redis_url + "?wait_replicas=1&wait_timeout=0.2") as q:
        # Then an enqueue is not acknowledged: the error says what is at stake
        with pytest.raises(jobs.BackendUnavailable, match=r"only 0 of 1 replica\(s\) confirmed it within 0.2 s"):
            q.enqueue(square, 1)
