"""The compose cluster without Docker: Redis and three `workers supervise` hosts, each in its
own network namespace (tests/netns.py), reaching Redis over its link as a container would.

Where namespaces can't be made (not root) the same scenario runs as plain local processes, and
the test says so; under CI it must use namespaces.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter

import pytest
import redis
import rq

from examples.cluster_producer import collect, count_hosts
from jobs.rq_format import markers as meta
from tests import jobs as test_jobs
from tests.cluster_fixtures import WAIT_TIMEOUT_S, cluster_redis, cluster_url, host_env, network, wait_until  # noqa: F401

pytestmark = pytest.mark.redis

PROCESSES_PER_HOST = 2


@pytest.fixture
def supervisors(network, cluster_url, tmp_path):
    """Hosts a, b and c, each running ``workers supervise -n 2`` on the queue ``cluster``."""
    hosts = {name: network.add_host(name) for name in ("a", "b", "c")}
    for name, host in hosts.items():
        with open(tmp_path / f"supervisor-{name}.log", "wb") as log:
            host.popen([sys.executable, "-m", "workers", "supervise", "--url", cluster_url, "--queue", "cluster",
                        "--processes", str(PROCESSES_PER_HOST), "--log-level", "info"],
                       env=host_env(name), stdout=log, stderr=subprocess.STDOUT)
    return hosts


def test_when_a_host_dies_mid_run_every_job_still_completes_on_the_other_two(network, cluster_url, supervisors):
    import jobs

    # Given three supervisor hosts and more gated jobs than they have processes
    client = redis.Redis.from_url(cluster_url, socket_timeout=10)
    key, n_jobs = f"gate-{uuid.uuid4().hex}", 24
    with jobs.Queue(cluster_url, name="cluster") as q:
        handles = [q.enqueue(test_jobs.gated_host_job, cluster_url, key, i) for i in range(n_jobs)]
        # When every worker process of every host holds one job
        busy = {name.encode(): str(PROCESSES_PER_HOST).encode() for name in supervisors}
        wait_until(lambda: client.hgetall(f"{key}:started") == busy, "every worker process busy")
        # And host b dies with its two jobs: link down, every process in it SIGKILLed
        supervisors["b"].kill()
        assert supervisors["b"].pids() == []
        client.set(f"{key}:gate", 1)
        # Then every job completes (b's two are re-run within the host-loss bound)
        results = collect(handles, timeout_s=WAIT_TIMEOUT_S)
    assert sorted(value for _, value in results) == list(range(n_jobs))
    # And a and c ran all of them
    per_host = count_hosts(results)
    assert set(per_host) == {"a", "c"}
    # And exactly b's two jobs carry one loss each
    losses = Counter(rq.job.Job.fetch(h.id, connection=client).meta.get(meta.LOSSES, 0) for h in handles)
    assert losses == {1: 2, 0: n_jobs - 2}
    client.close()


def test_the_cluster_producer_runs_its_workload_from_a_fourth_host(network, cluster_redis, cluster_url, supervisors):
    # Given the three supervisor hosts and a client host, as `docker compose run producer`
    client_host = network.add_host("producer")
    # When the example producer enqueues 60 jobs and waits for them
    producer = client_host.popen(
        [sys.executable, "-m", "examples.cluster_producer", "--url", cluster_url, "--queue", "cluster",
         "--jobs", "60", "--timeout", str(WAIT_TIMEOUT_S)],
        env=host_env("producer"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = producer.communicate(timeout=WAIT_TIMEOUT_S + 30)
    # Then it exits 0, shows progress and a summary whose counts per host add up to 60
    assert producer.returncode == 0, out
    assert "60/60 done" in out
    summary = out[out.index("60 jobs in"):].splitlines()
    counts = {line.split()[0]: int(line.split()[1]) for line in summary[1:]}
    assert set(counts) <= {"a", "b", "c"} and sum(counts.values()) == 60
    assert cluster_redis.password not in out  # the URL is shown redacted
