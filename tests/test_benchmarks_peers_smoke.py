"""`python -m benchmarks.peers` runs end to end at its quick size: behaviour only, never speed.

jobfleet and RQ are the two systems every install has (RQ is a dependency); the other peers
need the `bench` extra and are left to the benchmark itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def peers(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.peers", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def command_lines_naming(text: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.isdigit() and text in line:
            found.append(line)
    return found


@pytest.mark.redis
def test_the_peers_benchmark_measures_jobfleet_and_rq_and_leaves_nothing_running(redis_server, tmp_path):
    # Given redis-server is installed (the fixture skips on a laptop without it, fails in CI)
    # When the peers benchmark runs at its quick size on jobfleet and RQ
    plot = tmp_path / "peers.png"
    done = peers("--quick", "--only", "jobfleet,rq", "--plot", str(plot))
    # Then it succeeds with a row of figures for each, its targets table and its plot
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    jobfleet = next(row for label, row in rows.items() if label.startswith("jobfleet (`map`, `workers supervise -n 2`)"))
    assert re.search(r"\| [\d,.]+ \(", jobfleet)
    assert re.search(r"\| [\d,.]+ \(", rows["RQ (two SimpleWorkers)"])
    assert "W1 no-op jobs/s" in rows and "fastest peer: rq" in rows["W1 no-op jobs/s"]
    assert plot.stat().st_size > 0
    # And no worker, client or redis-server of the run is left
    port = re.search(r"redis-server of this run: port (\d+)", done.stdout).group(1)
    assert command_lines_naming(f"127.0.0.1:{port}") == []


def test_an_unknown_peer_name_is_refused_with_the_valid_names():
    done = peers("--only", "nope")
    assert done.returncode == 2
    assert "huey" in done.stderr and "jobfleet" in done.stderr
