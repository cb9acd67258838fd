"""Run the real rq-dashboard (``pip install rq-dashboard six``) against a Redis, for tests and the screenshot.

Started as ``python -m rq_dashboard`` on a free loopback port, stopped by its PID.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from tests.redis_server import free_port
from tests.supervisor_helpers import terminate, wait_until


def dashboard_missing() -> str | None:
    """Why rq-dashboard cannot run here (None: it can). Its 0.9.0 imports six without depending on it."""
    for module, package in (("rq_dashboard", "rq-dashboard"), ("six", "six")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install rq-dashboard six)"
    return None


class Dashboard:
    """``rq-dashboard -u URL`` on 127.0.0.1; a context manager."""

    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="rq-dashboard-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rq_dashboard", "--bind", "127.0.0.1", "--port", str(self.port),
             "--redis-url", redis_url, "--poll-interval", "1000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 30, 0.1, "rq-dashboard answering")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"rq-dashboard exited: {Path(self.log.name).read_text(errors='replace')[-2000:]}")
        try:
            self.get("/0/data/queues.json")
        except OSError:
            return False
        return True

    def close(self) -> None:
        terminate(self.process)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
