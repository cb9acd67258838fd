"""rq-dashboard is jobfleet's dashboard: the real one, served against a Redis where `workers supervise` ran jobs."""

from __future__ import annotations

import json
import os

import pytest

import jobs
from examples.tasks import fetch_page, resize_images, square
from tests.dashboard_helpers import Dashboard, dashboard_missing
from tests.supervisor_helpers import Supervise, wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def dashboard_installed():
    missing = dashboard_missing()
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI is set but {missing}", pytrace=False)
    if missing:
        pytest.skip(missing)


def test_rq_dashboard_lists_our_queue_workers_a_failed_job_and_a_job_s_progress(redis_url, dashboard_installed):
    # Given a supervisor that ran a map, a job that failed and a job that reported progress
    with Supervise(redis_url, "-n", "2", "--log-level", "warning") as sup, jobs.Queue(redis_url) as q:
        assert q.map(square, range(20), timeout=60) == [x * x for x in range(20)]
        failed = q.enqueue(fetch_page, "http://example.invalid/")
        with pytest.raises(jobs.JobFailed):
            failed.result(timeout=30)
        reporting = q.enqueue(resize_images, 3, 0.01)
        assert reporting.result(timeout=30) == 3
        sup.wait_children(2)
        # When rq-dashboard is served against that Redis
        with Dashboard(redis_url) as dashboard:
            # Then its JSON API lists our queue with its failed job
            queues = {queue["name"]: queue for queue in dashboard.get("/0/data/queues.json")["queues"]}
            assert "default" in queues and queues["default"]["failed_job_registry_count"] == 1
            listed = dashboard.get("/0/data/jobs/default/failed/8/asc/1.json")["jobs"]
            assert [job["id"] for job in listed] == [failed.id]
            # And our supervisor's two workers
            workers = wait_until(lambda: _ours(dashboard.get("/0/data/workers.json")["workers"], sup.pid), what="workers")
            assert len(workers) == 2 and all(w["queues"] == ["default"] for w in workers)
            # And the failed job's error and the reporting job's progress, in its meta
            failed_info = dashboard.get(f"/0/data/job/{failed.id}.json")
            assert failed_info["status"] == "failed" and "ConnectionError: cannot reach" in failed_info["exc_info"]
            meta = json.loads(dashboard.get(f"/0/data/job/{reporting.id}.json")["metadata"])
            assert meta["jobfleet_progress"] == {"done": 3, "total": 3, "message": "resized image 3"}


def _ours(workers: list[dict], supervisor_pid: int) -> list[dict]:
    return [w for w in workers if f"-{supervisor_pid}-" in w["name"]]


def test_the_compose_file_s_dashboard_image_is_the_release_these_tests_run(dashboard_installed):
    # Given the rq-dashboard this suite serves, and the image docker-compose.yml runs
    from importlib.metadata import version

    from tests.test_compose import COMPOSE_FILE, YAML

    image = YAML(typ="safe").load(COMPOSE_FILE.read_text())["services"]["dashboard"]["image"]
    # Then they are the same release, pinned
    assert image == f"cjlapao/rq-dashboard:{version('rq-dashboard')}"
