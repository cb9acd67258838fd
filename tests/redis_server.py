"""Start and stop a private ``redis-server`` for tests and benchmarks.

Each server runs on a free port with no persistence, in a temporary directory, and is stopped
by its PID: never by name, so the machine's own Redis on 6379 is left alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A running redis-server of our own; ``url`` points at db 0."""

    port: int
    process: subprocess.Popen
    directory: str
    extra_args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_timeout=5, socket_connect_timeout=5)

    def stop(self) -> None:
        """SIGKILL-free stop: SIGTERM, then SIGKILL after 5 s, always reaped."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port (data is lost: no persistence)."""
        self.stop()
        self.process = _spawn(self.port, self.directory, self.extra_args, self.host)
        _wait_ready(self.host, self.port, self.process)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


def _spawn(port: int, directory: str, extra_args: list[str], host: str) -> subprocess.Popen:
    exe = redis_server_path()
    if exe is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install -y redis-server)")
    args = [exe, "--port", str(port), "--bind", host, "--save", "", "--appendonly", "no",
            "--dir", directory, "--daemonize", "no", "--loglevel", "warning",
            "--logfile", os.path.join(directory, "redis.log"), *extra_args]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(host: str, port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with code {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    process.kill()
    process.wait(timeout=5)
    raise RuntimeError(f"redis-server on port {port} did not answer within {timeout} s")


def start_redis(extra_args: list[str] | None = None, port: int | None = None, host: str = "127.0.0.1") -> RedisServer:
    """Start a redis-server on a free port and wait until it accepts connections."""
    directory = tempfile.mkdtemp(prefix="jobfleet-redis-")
    port = port or free_port()
    extra = list(extra_args or [])
    process = _spawn(port, directory, extra, host)
    try:
        _wait_ready(host, port, process)
    except Exception:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return RedisServer(port=port, process=process, directory=directory, extra_args=extra, host=host)
