"""The client package is type-checked: its public API carries hints users can rely on."""

from __future__ import annotations

import os
import subprocess
import sys


def test_mypy_finds_no_error_in_the_jobs_package():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
