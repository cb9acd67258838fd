"""The seed programs run as a user would run them, on every backend, with only their import line
changed from the multiprocessing originals (``JOBFLEET_URL`` picks the backend)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.supervisor_helpers import Supervise, wait_until

ROOT = Path(__file__).resolve().parent.parent

#: What each program prints: the same lines as its multiprocessing original.
EXPECTED = {
    "hello": ["Worker process is running."],
    "squares": ["[1, 4, 9, 16, 25]"],
    "four_numbers": ["Process 1: 1", "Process 2: 2", "Process 3: 3", "Process 4: 4"],
}
#: Lines the program itself prints (the others come from the target, on the worker).
PRINTED_BY_THE_CALLER = {"squares"}
#: Programs whose lines come from processes running at once: in any order, as with multiprocessing.
ANY_ORDER = {"four_numbers"}


def _lines(example: str, stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return sorted(lines) if example in ANY_ORDER else lines


def _run(example: str, url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JOBFLEET_URL"}
    if url:
        env["JOBFLEET_URL"] = url
    return subprocess.run([sys.executable, "-m", f"examples.{example}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def printing_fleet(redis_server):
    """`workers supervise` on its own database, its workers' output unbuffered, so a test reads what
    a job printed in the supervisor's log."""
    url = f"redis://127.0.0.1:{redis_server.port}/3"
    with Supervise(url, "-n", "2", "--log-level", "warning", env={"PYTHONUNBUFFERED": "1"}) as supervisor:
        supervisor.wait_children(2)
        yield url, supervisor


def _original(example: str) -> str:
    """The program with the import line the multiprocessing original has."""
    source = (ROOT / "examples" / f"{example}.py").read_text()
    return re.sub(r"^from jobs import (\w+).*$", r"from multiprocessing import \1", source, flags=re.M)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_each_program_differs_from_its_multiprocessing_original_only_in_the_import(example, tmp_path):
    # Given the program with the jobs import put back to multiprocessing's
    script = tmp_path / f"{example}.py"
    script.write_text(_original(example))
    # When it runs on multiprocessing itself, Then it prints the same lines as on jobfleet
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert all(line in run.stdout for line in EXPECTED[example])  # its children's lines may interleave
    assert _original(example) != (ROOT / "examples" / f"{example}.py").read_text()


@pytest.mark.parametrize("example", sorted(EXPECTED))
@pytest.mark.parametrize("url", [None, "local://2", "fakeredis://"])
def test_each_program_prints_what_the_multiprocessing_version_prints(example, url):
    run = _run(example, url)
    assert run.returncode == 0, run.stderr
    assert _lines(example, run.stdout) == EXPECTED[example]


#: The watch example (jobfleet's own, not a multiprocessing program) prints these lines.
WATCH_EXPECTED = ("long job ended at Progress(done=20, total=20, message='resized image 20')\n"
                  "failed job: ConnectionError: cannot reach http://example.invalid/: connection refused")


@pytest.mark.parametrize("backend", ["local", "fakeredis", "supervised"])
def test_the_watch_example_reports_progress_and_a_failure(request, backend):
    url = {"local": "local://2", "fakeredis": "fakeredis://"}.get(backend) or request.getfixturevalue("supervised_url")
    run = _run("watch", url)
    assert run.returncode == 0, run.stderr
    assert WATCH_EXPECTED in run.stdout


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_each_program_runs_on_redis_with_workers_supervise(example, printing_fleet):
    url, supervisor = printing_fleet
    run = _run(example, url)
    assert run.returncode == 0, run.stderr
    if example in PRINTED_BY_THE_CALLER:
        assert run.stdout.splitlines() == EXPECTED[example]
    else:  # the target ran on a worker: its lines are in the worker's output
        wait_until(lambda: all(line in supervisor.output() for line in EXPECTED[example]), 30,
                   what=f"{EXPECTED[example]} in the workers' output")
