"""Run `workers supervise` as a real process in tests, and always stop what was started.

Everything is stopped by PID (the supervisor and the children it forked, read from /proc),
never by name. Every wait has a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.02, what: str = "") -> object:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def job_status(client, job_id: str) -> str:
    """A job's RQ status, read afresh."""
    from rq.job import Job

    return Job.fetch(job_id, connection=client).get_status()


def running_count(client, key: str) -> int:
    """How many jobs of ``key`` run now, by their own count (tests/thread_jobs.py, tests/async_jobs.py)."""
    return int(client.get(f"{key}:running") or 0)


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM a process we started, SIGKILL it after 10 s, and always reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc), empty when it is gone."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _proc_state(pid: int) -> str:
    """A process's state and the kernel function it waits in (Linux /proc), for failure output."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().split(") ")[-1].split()[0]
        with open(f"/proc/{pid}/wchan") as fh:
            return f"state {state}, waiting in {fh.read() or '-'}"
    except OSError as exc:
        return f"gone ({exc.strerror})"


class Supervise:
    """A ``python -m workers supervise`` process; use as a context manager."""

    def __init__(self, url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="supervise-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "workers", "supervise", "--url", url, *args]
        self.process = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, start_new_session=True)
        self.known_children: set[int] = set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        pids = child_pids(self.pid)
        self.known_children.update(pids)
        return pids

    def wait_children(self, n: int, timeout: float = 20.0) -> list[int]:
        return wait_until(lambda: len(self.children()) >= n and self.children(), timeout, what=f"{n} children")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def kill_host(self) -> None:
        """SIGKILL the supervisor and all its children at once, like a host that vanished."""
        children = self.children()
        os.kill(self.pid, signal.SIGKILL)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)

    def close(self) -> None:
        self.children()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.known_children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not any(alive(p) for p in self.known_children), 10, what="children gone")
        os.unlink(self.log.name)

    def __enter__(self) -> "Supervise":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # the test failed inside: its captured output shows what we did
            print(f"--- workers supervise (pid {self.pid}) log, last 200 lines ---")
            print("\n".join(self.output().splitlines()[-200:]))
            for pid in self.children():  # what each live worker process is blocked in, if anything
                print(f"worker pid {pid}: {_proc_state(pid)}")
        self.close()
