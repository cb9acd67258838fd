"""`workers supervise --path DIR` imports job functions from DIR, as `rq worker --path` does."""

from __future__ import annotations

import sys

import jobs
from tests.supervisor_helpers import Supervise


def test_a_job_function_in_a_directory_given_by_path_runs(redis_url, tmp_path, monkeypatch):
    # Given a module of the user's own, importable only from their project directory
    (tmp_path / "userproject_tasks.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import userproject_tasks

    with jobs.Queue(redis_url) as q:
        job = q.enqueue(userproject_tasks.triple, 5)
        # When a burst supervisor runs from elsewhere with --path pointing there
        with Supervise(redis_url, "-n", "1", "--burst", "--path", str(tmp_path)) as supervisor:
            assert supervisor.wait(timeout=60) == 0, supervisor.output()
        # Then it imported the module and ran the job
        assert job.result(timeout=10) == 15
    sys.modules.pop("userproject_tasks", None)
