"""The README's examples run as a user would run them, on every backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "squares": "[1, 4, 9, 16, 25]",
    "four_numbers": "results: [0, 1, 2, 3]",
    "hello": "the worker answered: hello bob",
    "watch": "long job ended at Progress(done=20, total=20, message='resized image 20')\n"
             "failed job: ConnectionError: cannot reach http://example.invalid/: connection refused",
}


def _run(example: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JOBFLEET_URL"}
    return subprocess.run([sys.executable, "-m", f"examples.{example}", "--url", url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("example", sorted(EXPECTED))
@pytest.mark.parametrize("backend", ["local", "fakeredis", "supervised"])
def test_each_example_prints_what_the_multiprocessing_version_prints(request, example, backend):
    url = {"local": "local://2", "fakeredis": "fakeredis://"}.get(backend) or request.getfixturevalue("supervised_url")
    run = _run(example, url)
    assert run.returncode == 0, run.stderr
    assert EXPECTED[example] in run.stdout


def test_the_default_url_is_local_and_needs_no_server():
    run = subprocess.run([sys.executable, "-m", "examples.squares"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={k: v for k, v in os.environ.items() if k != "JOBFLEET_URL"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[1, 4, 9, 16, 25]"
