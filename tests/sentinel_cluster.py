"""A Redis primary, one replica and three sentinels of our own, for failover tests.

Every process runs on a free port in a temporary directory and is stopped by its PID. The
sentinels decide quickly (``down-after-milliseconds 1000``), so a SIGKILLed primary is
replaced within a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import redis

from tests.redis_server import RedisServer, _wait_ready, free_port, redis_server_path, start_redis

SERVICE = "jobfleet"


@dataclass
class SentinelCluster:
    primary: RedisServer
    replica: RedisServer
    sentinels: list[subprocess.Popen] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    directory: str = ""

    def url(self, query: str = "") -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0" + (f"?{query}" if query else "")

    def sentinel_client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.sentinel_ports[0], socket_timeout=5)

    def primary_port(self) -> int:
        client = self.sentinel_client()
        try:
            return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])
        finally:
            client.close()

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.primary_port()
            except redis.RedisError:
                port = old_port
            if port != old_port:
                return port
            time.sleep(0.1)
        raise AssertionError(f"the sentinels did not promote a replica within {timeout} s")

    def close(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        self.replica.close()
        self.primary.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _start_sentinel(directory: str, port: int, primary_port: int) -> subprocess.Popen:
    conf = os.path.join(directory, f"sentinel-{port}.conf")
    with open(conf, "w") as fh:
        fh.write(f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                 f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
                 f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                 f"sentinel failover-timeout {SERVICE} 5000\n"
                 f"sentinel parallel-syncs {SERVICE} 1\n")
    log = os.path.join(directory, f"sentinel-{port}.log")
    return subprocess.Popen([redis_server_path() or "redis-server", conf, "--sentinel", "--logfile", log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_sentinel_cluster() -> SentinelCluster:
    """Primary, replica (in sync), three sentinels that agree on the primary."""
    primary = start_redis()
    replica = start_redis(["--replicaof", "127.0.0.1", str(primary.port)])
    cluster = SentinelCluster(primary, replica, directory=tempfile.mkdtemp(prefix="jobfleet-sentinel-"))
    try:
        deadline = time.monotonic() + 20
        while replica.client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica did not sync with the primary"
            time.sleep(0.05)
        for _ in range(3):
            port = free_port()
            cluster.sentinel_ports.append(port)
            cluster.sentinels.append(_start_sentinel(cluster.directory, port, primary.port))
            _wait_ready("127.0.0.1", port, cluster.sentinels[-1])
        deadline = time.monotonic() + 20
        while True:  # every sentinel knows the replica and the other sentinels
            infos = [redis.Redis(port=p, socket_timeout=5).sentinel_master(SERVICE) for p in cluster.sentinel_ports]
            if all(int(i["num-slaves"]) >= 1 and int(i["num-other-sentinels"]) >= 2 for i in infos):
                return cluster
            assert time.monotonic() < deadline, f"the sentinels did not discover each other: {infos}"
            time.sleep(0.1)
    except BaseException:
        cluster.close()
        raise
