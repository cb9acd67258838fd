"""The multi-host harness itself (tests/netns.py), proven with redis-server and plain RQ workers.

These need network namespaces (root); elsewhere they skip, and under CI they fail.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis
import rq

from tests import jobs
from tests.cluster_fixtures import cluster_redis, cluster_url, host_env, network, venv_script, wait_until  # noqa: F401
from tests.netns import (
    FORCE_LOCAL_ENV,
    NAME_PREFIX,
    LocalNetwork,
    NamespacesUnavailable,
    NetnsNetwork,
    _ip,
    _process_table,
    make_network,
)

pytestmark = pytest.mark.redis

PROBE = """
import sys, redis
url, port = sys.argv[1], sys.argv[2]
ok = redis.Redis.from_url(url, socket_connect_timeout=5).ping()
try:
    redis.Redis(host="127.0.0.1", port=int(port), socket_connect_timeout=5).ping()
    local = "reachable"
except redis.ConnectionError:
    local = "unreachable"
print(ok, local)
"""


@pytest.fixture
def netns_network(network):
    if not isinstance(network, NetnsNetwork):
        pytest.skip("network namespaces are not available here")
    return network


def start_rq_worker(host, url: str, queue: str, log_dir) -> subprocess.Popen:
    log = open(log_dir / f"rq-{host.name}.log", "wb")
    with log:
        return host.popen([venv_script("rq"), "worker", "--url", url, "--name", f"rq-{host.name}", queue],
                          env=host_env(host.name), stdout=log, stderr=subprocess.STDOUT)


def test_a_host_reaches_redis_over_its_link_and_has_its_own_loopback(netns_network, cluster_redis, cluster_url):
    # Given a host in its own namespace and Redis on the bridge
    host = netns_network.add_host("a")
    # When a process on the host pings Redis at the gateway and at its own 127.0.0.1
    probe = host.popen([sys.executable, "-c", PROBE, cluster_url, str(cluster_redis.port)],
                       stdout=subprocess.PIPE, text=True)
    out, _ = probe.communicate(timeout=30)
    # Then the gateway answers and its loopback, another machine's, does not
    assert probe.returncode == 0
    assert out.split() == ["True", "unreachable"]


def test_rq_workers_on_three_hosts_share_a_queue_and_a_killed_host_takes_only_its_own_job(
        netns_network, cluster_url, tmp_path):
    # Given an RQ worker on each of three hosts, all on one queue, and three gated jobs
    url, key, queue = cluster_url, f"gate-{uuid.uuid4().hex}", "cluster"
    hosts = [netns_network.add_host(name) for name in ("a", "b", "c")]
    for host in hosts:
        start_rq_worker(host, url, queue, tmp_path)
    client = redis.Redis.from_url(url, socket_timeout=10)
    q = rq.Queue(queue, connection=client)
    first = [q.enqueue(jobs.gated_host_job, url, key, i) for i in range(3)]
    # When each host has started one of them (a worker takes one job at a time)
    wait_until(lambda: client.hgetall(f"{key}:started") == {b"a": b"1", b"b": b"1", b"c": b"1"},
               "one started job on each host")
    # And host b dies: link down, every process in its namespace SIGKILLed
    victim = hosts[1]
    victim.kill()
    assert victim.pids() == []
    client.set(f"{key}:gate", 1)
    # Then the jobs of a and c finish, and b's job is left "started": recovering it is the
    # supervisor's work (tests/test_cluster.py), not plain RQ's
    wait_until(lambda: sum(job.get_status() == "finished" for job in first) == 2, "the jobs of a and c")
    assert sorted(job.return_value()[0] for job in first if job.get_status() == "finished") == ["a", "c"]
    assert [job.get_status() for job in first if job.get_status() != "finished"] == ["started"]
    # And new jobs are all run by the two hosts left
    more = [q.enqueue(jobs.gated_host_job, url, key, i) for i in range(10)]
    wait_until(lambda: all(job.get_status() == "finished" for job in more), "ten more jobs")
    assert {job.return_value()[0] for job in more} <= {"a", "c"}
    client.close()


def test_closing_a_network_removes_its_namespaces_and_links_even_with_processes_running():
    # Given a network with a host running a process
    net, reason = make_network()
    if reason:
        net.close()
        pytest.skip(reason)
    host = net.add_host("x")
    sleeper = host.popen([sys.executable, "-c", "import time; time.sleep(600)"])
    # When it is closed, twice
    net.close()
    net.close()
    # Then the process is dead and reaped, and no namespace or link of it is left
    assert sleeper.returncode is not None
    assert host.netns not in _ip("netns", "list")
    links = _ip("-o", "link")
    assert net.bridge not in links and host.link not in links
    assert f"{NAME_PREFIX}{net.tag}-" not in _ip("netns", "list")


def test_a_host_cannot_reach_an_address_outside_its_network(netns_network):
    # Given a host whose only route is its /24 on the bridge
    host = netns_network.add_host("a")
    # When it lists its routes
    routes = host.popen(["ip", "-4", "route"], stdout=subprocess.PIPE, text=True).communicate(timeout=10)[0]
    # Then there is no default route: traffic can't leave the test network
    assert "default" not in routes
    assert routes.split()[0] == f"{netns_network.subnet}.0/24"


TREE = """
import os, subprocess, sys, time
# A child in its own session (as RQ's work horse), which a process-group kill would miss.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def test_killing_a_local_host_kills_its_whole_process_tree():
    # Given the local fallback, and a host whose process started a child in another session
    with LocalNetwork() as net:
        host = net.add_host("x")
        parent = host.popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
        child_pid = int(parent.stdout.readline())
        assert sorted(host.pids()) == sorted([parent.pid, child_pid])
        # When the host is killed
        host.kill()
        # Then neither is left
        assert host.pids() == []
        assert parent.returncode == -9
        assert child_pid not in _process_table()  # gone, or a zombie until init reaps it
        parent.stdout.close()


def test_under_ci_the_harness_refuses_to_fall_back_to_local_processes(monkeypatch):
    # Given CI set and a machine that (we pretend) cannot make namespaces
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv(FORCE_LOCAL_ENV, "local")
    # When a network is asked for, then it fails instead of quietly testing less
    with pytest.raises(NamespacesUnavailable, match="CI is set"):
        make_network()
