"""pytest plugin for running RQ's own tests (``-p rq_suite_plugin``): one JSON line per test.

Loading it applies :mod:`rq_suite_patch` (the Redis redirect and the mode's worker class)
before RQ's test modules are collected. Each line written to ``JOBFLEET_RQ_SUITE_RESULTS``:
``nodeid``, ``outcome`` (``passed``, ``failed`` in the test, ``error`` in setup or teardown,
``skipped``), the first line of the error, ``seconds``, and ``ran_batch_worker``: whether the
test drove ``BatchWorker.run()`` in this process. A ``start`` line precedes each test, so a
test that kills the whole pytest process is known (the runner calls it ``aborted``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

import pytest
import rq_suite_patch

RESULTS_ENV = "JOBFLEET_RQ_SUITE_RESULTS"

rq_suite_patch.redirect_redis()
_TARGET = rq_suite_patch.substitute_worker()


def _runs() -> int:
    return int(getattr(_TARGET, "runs", 0))


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    return (text.splitlines() or [""])[0][:300]


class _Recorder:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole session
        self._current: dict[str, Any] = {}
        self._runs_before = 0

    def _write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._write({"nodeid": nodeid, "start": True})
        self._current = {"nodeid": nodeid, "outcome": "passed", "message": "", "seconds": 0.0}
        self._runs_before = _runs()

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        current = self._current
        current["seconds"] = round(current["seconds"] + report.duration, 3)
        if report.failed and current["outcome"] not in ("failed", "error"):
            current["outcome"] = "failed" if report.when == "call" else "error"
            current["message"] = _first_line(report)
        elif report.skipped and current["outcome"] == "passed":
            current["outcome"] = "skipped"
            current["message"] = _first_line(report)

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._current["ran_batch_worker"] = _runs() > self._runs_before
        self._write(self._current)

    @pytest.hookimpl
    def pytest_unconfigure(self) -> None:
        self._file.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Kill, by PID, processes RQ's tests forked and left running (a worker whose shutdown the
    test did not wait for): multiprocessing joins them at exit, which would hang this run."""
    import psutil

    leftovers = psutil.Process().children(recursive=True)
    for child in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(leftovers, timeout=10)
    if leftovers:
        print(f"rq-suite: killed {len(leftovers)} processes the tests left running", file=sys.stderr)


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path:
        config.pluginmanager.register(_Recorder(path), "rq_suite_recorder")
