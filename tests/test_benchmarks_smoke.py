"""The benchmark scripts run end to end at their quick sizes: behaviour only, never speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_benchmarks(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_local_scripts_print_a_table_with_both_sides():
    # Given the local benchmarks at quick sizes
    # When they run through `python -m benchmarks --quick --only ...`
    out = run_benchmarks("--only", "local_map,local_submit,dropin")
    # Then the summary names each figure with its reference, and no process is left behind
    assert "### Summary" in out
    assert "`Pool(2).map` default chunksize" in out
    assert "`ProcessPoolExecutor(2).submit`" in out
    assert "`multiprocessing.Pool(2).map`" in out and "`jobs.Executor` submit + result" in out


@pytest.mark.redis
def test_the_redis_scripts_start_their_own_server_and_report(redis_server):
    # Given redis-server is installed (the fixture skips otherwise)
    # When the Redis benchmarks run at quick sizes
    out = run_benchmarks("--only", "redis_enqueue,latency,memory")
    # Then each printed its reference figures
    assert "RQ `enqueue_many` in a pipeline" in out
    assert "`rq worker -w SimpleWorker`" in out
    assert "`rq worker-pool -n 4`" in out


def test_an_unknown_script_name_is_refused_with_the_valid_names():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "local_map" in done.stderr
