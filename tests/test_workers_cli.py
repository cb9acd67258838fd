"""The `workers` command line: help, usage errors and the URL from the environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.supervisor_helpers import ROOT


def workers(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "JOBFLEET_URL"}
    return subprocess.run([sys.executable, "-m", "workers", *args], capture_output=True, text=True, timeout=30,
                          cwd=ROOT, env={**environ, **(env or {})})


def test_help_lists_the_commands_and_every_supervise_option():
    # When a user asks for help
    top, sub = workers("--help"), workers("supervise", "--help")
    # Then both read well and name every option of the issue
    assert top.returncode == 0 and "supervise" in top.stdout and "status" in top.stdout
    for option in ("--url", "--queue", "--processes", "--burst", "--max-jobs-per-child", "--max-losses",
                   "--shutdown-timeout", "--host-timeout", "--timeout-grace", "--worker-class", "--hook", "--log-level",
                   "--serializer", "--metrics-port", "--metrics-host", "JOBFLEET_URL"):
        assert option in sub.stdout


def test_a_bad_url_is_one_line_and_exit_code_2_without_the_password():
    # When the URL has an unsupported scheme and a password
    result = workers("supervise", "--url", "http://user:s3cret@host/0")
    # Then the error is one line on stderr, with no password
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("workers: error: ")
    assert "s3cret" not in result.stderr


@pytest.mark.redis
def test_status_takes_the_url_from_jobfleet_url(redis_url):
    # Given JOBFLEET_URL and no --url
    result = workers("status", env={"JOBFLEET_URL": redis_url})
    # Then status reads that Redis
    assert result.returncode == 0, result.stderr
    assert "Supervisors:" in result.stdout and "Queues:" in result.stdout
