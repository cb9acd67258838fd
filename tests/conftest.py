"""Shared fixtures: a private Redis per test session, a clean database per test.

Real-Redis tests skip on a laptop without ``redis-server`` and fail in CI (``CI`` set), as
Dramatiq's ``check_redis`` does.
"""

from __future__ import annotations

import os

import pytest

from tests.redis_server import RedisServer, redis_server_path, start_redis


def _no_redis(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but a Redis server could not be started: {reason}", pytrace=False)
    pytest.skip(f"real-Redis test skipped: {reason} (apt-get install -y redis-server to run it)")


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of our own on a free port, stopped by PID at the end of the session."""
    if redis_server_path() is None:
        _no_redis("redis-server is not installed")
    try:
        server = start_redis()
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
        _no_redis(str(exc))
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a freshly flushed database on the private server, with no client of an earlier
    test still waiting on it (see :func:`_end_leftover_waits`)."""
    client = redis_server.client()
    _end_leftover_waits(client)
    client.flushall()
    client.close()
    return redis_server.url


def _end_leftover_waits(client) -> None:
    """Close connections still blocked in a pop or move on database 0 when a test begins.

    A test's processes are gone by then (each is stopped by PID), so such a connection is one
    whose end Redis never heard of; left open, its pending BLMOVE takes the next test's first job
    onto a dead worker's held list, whose supervisor the flush just forgot, and that job never
    runs. Each one closed is reported on the real stderr (the CI log) with its owner (a pid, when a
    process on this machine still has the socket), so a test that leaks one can be found."""
    import sys

    import psutil

    for row in client.client_list():
        if row.get("db") != "0" or "b" not in row.get("flags", "") or row.get("cmd") not in _BLOCKING:
            continue
        owners = [c.pid for c in psutil.net_connections("tcp") if c.laddr and f"{c.laddr.ip}:{c.laddr.port}" == row["addr"]]
        print(f"conftest: closing a connection left waiting in {row['cmd']} on db 0 from {row['addr']} "
              f"(name {row.get('name') or '-'}, owner pid {owners or 'none'})", file=sys.__stderr__)
        client.client_kill_filter(_id=row["id"])


#: The waits that take a job off a queue when it comes (RQ's BLPOP, jobfleet's BLMOVE).
_BLOCKING = {"blmove", "blpop", "brpop", "brpoplpush", "blmpop"}


@pytest.fixture
def client(redis_url: str):
    """A redis-py client of the freshly flushed private database."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def rq_worker_url(redis_server: RedisServer):
    """The private Redis with a plain RQ SimpleWorker listening on 'default' (db 1).

    A plain ``rq worker`` (not ours) proves that jobfleet writes ordinary RQ jobs.
    """
    import subprocess
    import sys

    url = f"redis://127.0.0.1:{redis_server.port}/1"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "--with-scheduler",
         "--url", url, "-q", "default"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    yield url
    worker.kill()
    worker.wait(timeout=10)


@pytest.fixture(scope="session")
def supervised_url(redis_server: RedisServer):
    """The private Redis (db 2) served by `workers supervise -n 2` on the 'default' queue."""
    from tests.supervisor_helpers import Supervise

    url = f"redis://127.0.0.1:{redis_server.port}/2"
    with Supervise(url, "-n", "2", "--log-level", "warning") as supervisor:
        supervisor.wait_children(2)
        yield url
