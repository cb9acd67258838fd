"""``workers status --json``: the fleet for programs, valid against docs/status.schema.json."""

from __future__ import annotations

import json

import jsonschema
import pytest

import jobs
from tests import jobs as job_functions
from tests.supervisor_helpers import ROOT, Supervise, wait_until
from tests.test_workers_cli import workers

pytestmark = pytest.mark.redis
SCHEMA = json.loads((ROOT / "docs" / "status.schema.json").read_text())


def test_status_json_matches_its_schema_and_shows_the_supervisor_its_workers_and_the_lost_job(redis_url):
    # Given a supervisor that gave up a poison job and ran an ordinary one
    with Supervise(redis_url, "-n", "2", "--max-losses", "1", "--log-level", "warning") as sup, \
            jobs.Queue(redis_url) as q:
        with pytest.raises(jobs.JobLost):
            q.enqueue(job_functions.kill_own_process).result(timeout=60)
        assert q.enqueue(job_functions.square, 2).result(timeout=30) == 4
        wait_until(lambda: len(json.loads(workers("status", "--url", redis_url, "--json").stdout)["workers"]) == 2,
                   what="both workers registered")
        # When `workers status --json` runs
        result = workers("status", "--url", redis_url, "--json")
    # Then it prints one JSON document valid against the documented schema
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    # And it holds this supervisor (alive), its two workers, and the queue's failed and lost job
    (supervisor,) = report["supervisors"]
    assert f"-{sup.pid}-" in supervisor["id"] and supervisor["alive"] is True
    assert {w["name"].rsplit(".", 2)[0] for w in report["workers"]} == {supervisor["id"]}
    assert sum(w["ok"] for w in report["workers"]) == 1
    (queue,) = report["queues"]
    assert queue == {"name": "default", "queued": 0, "started": 0, "failed": 1, "lost": 1}


def test_status_json_on_an_empty_redis_is_valid_and_empty(redis_url):
    result = workers("status", "--url", redis_url, "--json")
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert (report["supervisors"], report["workers"], report["queues"], report["schedules"]) == ([], [], [], [])


def test_status_json_lists_the_schedules_with_their_next_run(redis_url):
    # Given a recurring job on a queue
    with jobs.Queue(redis_url) as q:
        made = q.schedule("nightly", job_functions.square, [3], every=60)
    # When `workers status --json` runs
    result = workers("status", "--url", redis_url, "--json")
    # Then the schedule is there, valid against the schema, its next run as Unix time
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    (listed,) = report["schedules"]
    assert (listed["queue"], listed["name"], listed["rule"], listed["last_run"]) == ("default", "nightly", made.rule, None)
    assert listed["next_run"] == made.next_run.timestamp()
