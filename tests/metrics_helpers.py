"""Scrape a supervisor's ``/metrics`` and run a real Prometheus server, for the metrics tests.

Prometheus is Debian's package (``apt-get install -y prometheus``; ``.ci/run`` installs it),
started on a free port with its data in a temporary directory and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.redis_server import free_port
from tests.supervisor_helpers import terminate


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, parsed by prometheus_client's own parser: (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def jobs_total(port: int, status: str, queue: str = "default") -> float | None:
    return sample(scrape(port), "jobfleet_jobs_total", queue=queue, status=status)


def listening(pid: int) -> set[tuple[str, int]]:
    """The (IPv4 address, port) pairs process ``pid`` listens on, from /proc (Linux)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = set()
    with open("/proc/net/tcp") as table:
        for row in list(table)[1:]:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.add((socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16)))
    return found


def prometheus_path() -> str | None:
    return shutil.which("prometheus")


class Prometheus:
    """A Prometheus server scraping ``targets`` (host:port) every second; a context manager."""

    def __init__(self, targets: list[str]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="prometheus-"))
        self.port = free_port()
        config = self.directory / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "jobfleet", "static_configs": [{"targets": targets}]}],
        }))
        self.log = open(self.directory / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [prometheus_path() or "prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, promql: str) -> list[dict]:
        """The instant query's result vector ([] when Prometheus is not answering yet)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
        except OSError:
            return []
        return body["data"]["result"] if body.get("status") == "success" else []

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def close(self) -> None:
        terminate(self.process)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
