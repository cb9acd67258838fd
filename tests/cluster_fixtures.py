"""Fixtures for multi-host tests: a network of hosts (namespaces, see tests/netns.py) and a
Redis bound to the network's gateway, where every host reaches it as compose's ``redis``.

Import them into a test module: ``from tests.cluster_fixtures import network, cluster_redis``.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.netns import LocalNetwork, NetnsNetwork, make_network
from tests.redis_server import RedisServer, redis_server_path, start_redis

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Every wait in these tests ends by this many seconds at the latest.
WAIT_TIMEOUT_S = 120.0


@pytest.fixture
def network(request: pytest.FixtureRequest):
    """A fresh network; its hosts, namespaces and links are removed even if the test fails."""
    net, fallback_reason = make_network()
    request.addfinalizer(net.close)
    if fallback_reason:
        print(f"no network namespaces ({fallback_reason}): hosts are plain local processes")
    return net


@pytest.fixture
def cluster_redis(network: NetnsNetwork | LocalNetwork, request: pytest.FixtureRequest) -> RedisServer:
    """A private redis-server on the network's gateway address, with a password as
    docs/cluster.md asks of a Redis that other machines reach (see :func:`cluster_url`)."""
    if redis_server_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but redis-server is not installed", pytrace=False)
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    password = secrets.token_hex(16)
    server = start_redis(["--requirepass", password], host=network.gateway)
    server.password = password  # type: ignore[attr-defined]
    request.addfinalizer(server.close)
    return server


@pytest.fixture
def cluster_url(cluster_redis: RedisServer) -> str:
    """The URL every host uses: password, gateway address, db 0."""
    return f"redis://:{cluster_redis.password}@{cluster_redis.host}:{cluster_redis.port}/0"  # type: ignore[attr-defined]


def host_env(host_name: str) -> dict[str, str]:
    """The environment of a process on a test host: this checkout importable, a host id set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["JOBFLEET_HOST_ID"] = host_name
    return env


def venv_script(name: str) -> str:
    """A console script installed beside this Python (``rq``, ``workers``)."""
    return str(Path(sys.executable).parent / name)


def wait_until(predicate: Callable[[], object], what: str, timeout_s: float = WAIT_TIMEOUT_S) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}", pytrace=False)
        time.sleep(0.05)
