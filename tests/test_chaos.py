"""Chaos, all at once: three supervisor hosts, children SIGKILLed every 300 ms, a whole host
SIGKILLed, and a graceful Redis restart, during one run of 3,000 jobs.

The hosts are network namespaces (tests/netns.py; plain local processes where namespaces can't
be made, and the test says so). Each job counts its runs in Redis as it begins, so a run that
died counts too. Every job must finish; no job may run more often than 1 + the kills that
happened before it ended; and the losses the jobs carry must be the losses the supervisors
logged.
"""

from __future__ import annotations

import random
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import redis
import rq

import jobs
from jobs.rq_format import keys
from jobs.rq_format import markers as meta
from tests import jobs as test_jobs
from tests.cluster_fixtures import host_env, network  # noqa: F401
from tests.conftest import _no_redis
from tests.redis_server import redis_server_path, start_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

JOBS = 3_000
KILL_EVERY_S = 0.3
HOST_TIMEOUT_S = "2"
CHARGED = re.compile(r"re-queued from worker \S+ \(losses: [1-9]\d*\)|given up after")


@pytest.fixture
def aof_cluster_redis(network, request):  # noqa: F811 - the network fixture, imported above
    """A private redis-server on the network's gateway, with a password and AOF on."""
    if redis_server_path() is None:
        _no_redis("redis-server is not installed")
    password = secrets.token_hex(16)
    server = start_redis(["--requirepass", password, "--appendonly", "yes"], host=network.gateway)
    request.addfinalizer(server.close)
    return server, f"redis://:{password}@{server.host}:{server.port}/0"


class Chaos:
    """In a thread: a random child SIGKILLed every 300 ms; host b SIGKILLed at 1 s; Redis
    restarted gracefully at 3 s. ``kills`` holds the time of each kill that can hit a job."""

    def __init__(self, hosts, supervisors, server) -> None:
        self.hosts, self.supervisors, self.server = hosts, supervisors, server
        self.kills: list[float] = []
        self.restarted = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[int]:
        return [pid for name, host in self.hosts.items() if name in self.supervisors
                for pid in host.pids() if pid != self.supervisors[name].pid]

    def _run(self) -> None:
        began, rng = time.monotonic(), random.Random(14)
        while not self.stop.wait(KILL_EVERY_S):
            elapsed = time.monotonic() - began
            if "b" in self.supervisors and elapsed > 1.0:
                self.kills.append(time.time())
                self.hosts["b"].kill()
                del self.supervisors["b"]
            elif not self.restarted and elapsed > 3.0:
                self.server.restart()  # SIGTERM: Redis writes its AOF and exits; the same port again
                self.restarted = True
            children = self._children()
            if children:
                self.kills.append(time.time())
                subprocess.run(["kill", "-9", str(rng.choice(children))], stderr=subprocess.DEVNULL, timeout=10)


def _ended_at(client, job_id: str) -> float:
    raw = client.hget(keys.job(job_id), "ended_at").decode()
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def test_every_job_survives_child_kills_a_host_kill_and_a_redis_restart_at_once(network, aof_cluster_redis, tmp_path):  # noqa: F811
    server, url = aof_cluster_redis
    hosts = {name: network.add_host(name) for name in ("a", "b", "c")}
    supervisors, logs = {}, []
    for name, host in hosts.items():
        logs.append(tmp_path / f"supervisor-{name}.log")
        with open(logs[-1], "wb") as log:
            supervisors[name] = host.popen(
                [sys.executable, "-m", "workers", "supervise", "--url", url, "--queue", "chaos", "-n", "2",
                 "--host-timeout", HOST_TIMEOUT_S, "--max-losses", "20", "--log-level", "info"],
                env=host_env(name), stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(url, socket_timeout=10)
    key = f"runs-{uuid.uuid4().hex}"
    chaos = Chaos(hosts, supervisors, server)
    with jobs.Queue(url, name="chaos") as q:
        # Given 3,000 jobs that count their runs, enqueued on three hosts' supervisors
        # When children die every 300 ms, host b dies whole and Redis restarts, all during the run
        chaos.thread.start()
        try:
            values = q.starmap(test_jobs.count_run, [(url, key, i, 0.01) for i in range(JOBS)], timeout=110)
        finally:
            chaos.stop.set()
            chaos.thread.join(30)
        ids = [job_id.decode() for job_id in client.zrange(keys.finished_registry("chaos"), 0, -1)]
    # Then every job finished with its own value, after all three faults struck
    assert values == list(range(JOBS))
    assert chaos.restarted and "b" not in supervisors and len(chaos.kills) > 5
    runs = {int(field): int(count) for field, count in client.hgetall(key).items()}
    assert sorted(runs) == list(range(JOBS))
    # And no job ran more often than 1 + the kills before it ended
    rq_jobs = rq.job.Job.fetch_many(ids, connection=client)
    for job in rq_jobs:
        index = job.args[2]
        assert runs[index] <= 1 + sum(t <= _ended_at(client, job.id) + 1 for t in chaos.kills), (index, runs[index])
    # And the losses the jobs carry are the losses the supervisors logged (a killed run may die
    # before it counts itself: runs and losses need not add up, but each loss is one the
    # supervisors saw and logged)
    losses = {job.args[2]: job.meta.get(meta.LOSSES, 0) for job in rq_jobs}
    logged = sum(len(CHARGED.findall(path.read_text(errors="replace"))) for path in logs)
    assert sum(losses.values()) == logged > 0
    client.close()
