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
    """The URL of a freshly flushed database on the private server."""
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


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
