"""Schedules under real `workers supervise` processes and a real Redis: once per tick, whatever dies.

Each run of ``tests.jobs.record_tick`` pushes the tick it was enqueued for (from its job's
meta) to a Redis list, so the test sees exactly which ticks ran and how often.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import redis

import jobs
from tests.jobs import record_tick
from tests.supervisor_helpers import ROOT, Supervise, wait_until

pytestmark = pytest.mark.redis
RUNS = "ticks"


def _runs(client: redis.Redis) -> list[dict]:
    return [json.loads(raw) for raw in client.lrange(RUNS, 0, -1)]


def _ticks(client: redis.Redis) -> list[float]:
    return sorted(run["tick"] for run in _runs(client))


def _enqueued(client: redis.Redis) -> set[str]:
    """The ids of the jobs the schedule enqueued (their RQ job hashes)."""
    return {key.decode().removeprefix("rq:job:") for key in client.scan_iter("rq:job:schedule-*")}


def _supervise(url: str) -> Supervise:
    return Supervise(url, "-n", "1", "--host-timeout", "2", "--shutdown-timeout", "5")


@pytest.mark.slow
def test_a_schedule_fires_each_tick_once_while_supervisors_are_killed_and_started(redis_url, client):
    # Given three supervisors and a schedule of every second
    fleet = [_supervise(redis_url) for _ in range(3)]
    try:
        with jobs.Queue(redis_url) as q:
            q.schedule("every-second", record_tick, [redis_url, RUNS], every=1, overlap=True)
        # When, over 15 s, two of them are SIGKILLed at random moments and new ones start
        rng = random.Random()
        deadline = time.monotonic() + 15
        for _ in range(2):
            time.sleep(rng.uniform(2.0, 5.0))
            victim = fleet.pop(rng.randrange(len(fleet)))
            victim.kill_host()
            victim.close()
            fleet.append(_supervise(redis_url))
        time.sleep(max(0.0, deadline - time.monotonic()))
        with jobs.Queue(redis_url) as q:
            q.unschedule("every-second")
        # and every tick's job has run (one a killed host held re-runs after --host-timeout)
        wait_until(lambda: _enqueued(client) <= {run["id"] for run in _runs(client)}, 30, what="every tick's job ran")
    finally:
        for supervisor in fleet:
            supervisor.close()
    # Then no tick ran twice, and no more than two ticks in a row were missed
    ticks = _ticks(client)
    assert len(ticks) == len(set(ticks)), ticks
    gaps = [round(b - a, 3) for a, b in zip(ticks, ticks[1:])]
    assert gaps and max(gaps) <= 3.0, gaps
    print(f"{len(ticks)} ticks, gaps {gaps}")
    assert len(ticks) >= 10, ticks


def test_ticks_missed_while_no_supervisor_ran_fire_once_when_one_comes_back(redis_url, client):
    # Given a schedule of every second, fired by one supervisor
    with jobs.Queue(redis_url) as q:
        q.schedule("every-second", record_tick, [redis_url, RUNS], every=1)
    with _supervise(redis_url) as supervisor:
        wait_until(lambda: client.llen(RUNS) >= 2, 20, what="two runs")
        supervisor.signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0
    # When no supervisor runs for 5 s, then one comes back
    stopped_at = time.time()
    time.sleep(5)
    restarted_at = time.time()
    with _supervise(redis_url):
        wait_until(lambda: any(r["tick"] > restarted_at + 1 for r in _runs(client)), 20, what="a run after the restart")
    # Then the five missed ticks made at most one catch-up run, for the latest of them, not five
    ticks = _ticks(client)
    last_before = max(t for t in ticks if t < stopped_at)
    first_after = min(t for t in ticks if t > last_before)
    assert len([t for t in ticks if last_before < t < restarted_at]) <= 1, ticks
    assert first_after - last_before >= 4, ticks
    assert len(ticks) == len(set(ticks))


def test_a_slow_job_on_an_every_second_schedule_never_overlaps_itself(redis_url, client):
    # Given three workers and a 3-second job scheduled every second (overlap=False, the default)
    with jobs.Queue(redis_url) as q:
        q.schedule("slow", record_tick, [redis_url, RUNS, 3], every=1)
    with Supervise(redis_url, "-n", "3") as supervisor:
        # When it runs for three runs' time
        wait_until(lambda: client.llen(RUNS) >= 2, 30, what="two runs")
        with jobs.Queue(redis_url) as q:
            q.unschedule("slow")
        output = supervisor.output()
    # Then each run started after the previous one ended, and the skipped ticks were logged
    runs = sorted(_runs(client), key=lambda r: r["start"])
    assert all(later["start"] >= earlier["end"] for earlier, later in zip(runs, runs[1:])), runs
    assert "skipped: its previous run" in output


def test_workers_status_lists_schedules_with_their_next_run(redis_url):
    # Given a cron schedule on Redis
    with jobs.Queue(redis_url, "reports") as q:
        q.schedule("nightly", record_tick, [redis_url, RUNS], cron="0 3 * * *")
    # When `workers status` runs, Then it lists the schedule, its rule and its next run
    result = subprocess.run([sys.executable, "-m", "workers", "status", "--url", redis_url], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if "reports/nightly" in line]
    assert "cron 0 3 * * *" in line and "tests.jobs.record_tick" in line and "next=" in line and "last=never" in line
