"""The systems compared, how each starts its 2 worker processes, and with which interpreter.

Every worker command reads the Redis URL from ``PEERS_REDIS_URL`` (the app modules do) or takes
it on the command line. Concurrency is each system's documented one for 2 processes: Dramatiq
``-p 2 -t 8`` (its default 8 threads), Celery prefork ``-c 2``, Huey ``-k process -w 2``,
saq ``--workers 2`` (10 jobs at once each, its default), taskiq ``--workers 2`` (thread pool for
plain functions, 100 async tasks each), arq 2 processes (10 jobs each), RQ two SimpleWorkers.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchmarks.harness import ROOT, child_env, supervise_command
from benchmarks.peers.apps.common import QUEUE

APPS = "benchmarks.peers.apps"
# jobfleet's rounds run with `workers supervise --threads N --max-async M` when this checkout has
# them (W3 and W4 are the figures they are for; the same workers serve every workload of a round).
JOBFLEET_THREADS = int(os.environ.get("JOBFLEET_PEERS_THREADS", "8"))  # 1: the one-thread workers
JOBFLEET_MAX_ASYNC = int(os.environ.get("JOBFLEET_PEERS_MAX_ASYNC", "100"))  # 0: async jobs one at a time


@dataclass(frozen=True)
class System:
    key: str
    label: str
    app: str  # module under benchmarks.peers.apps
    package: str  # the distribution whose version is printed
    module: str  # what must be importable for the system to run
    workers: Callable[[str, str], list[list[str]]]  # (python, url) -> commands
    async_jobs: bool = False  # W4 is run (or, for jobfleet, tried)
    is_jobfleet: bool = False
    note: str = ""  # how it was run, where that departs from its defaults or from the others


@functools.lru_cache(maxsize=None)
def jobfleet_concurrency_options() -> tuple[str, ...]:
    """``--threads N --max-async M`` as far as this checkout's ``workers supervise`` has them and they are asked for."""
    done = subprocess.run([sys.executable, "-m", "workers", "supervise", "--help"], capture_output=True,
                          text=True, timeout=60, env=child_env(), cwd=ROOT)
    options: tuple[str, ...] = ()
    if "--threads" in done.stdout and JOBFLEET_THREADS > 1:
        options += ("--threads", str(JOBFLEET_THREADS))
    if "--max-async" in done.stdout and JOBFLEET_MAX_ASYNC > 0:
        options += ("--max-async", str(JOBFLEET_MAX_ASYNC))
    return options


def _jobfleet(python: str, url: str) -> list[list[str]]:
    return [[python, *supervise_command(url, 2, "--queue", QUEUE, *jobfleet_concurrency_options())[1:]]]


def _rq(python: str, url: str) -> list[list[str]]:
    one = [python, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "-q", "-u", url, QUEUE]
    return [one, list(one)]


def _huey(python: str, url: str) -> list[list[str]]:
    return [[python, "-m", "huey.bin.huey_consumer", f"{APPS}.huey_app.huey", "-w", "2", "-k", "process", "-q"]]


def _dramatiq(python: str, url: str) -> list[list[str]]:
    return [[python, "-m", "dramatiq", f"{APPS}.dramatiq_app", "-p", "2", "-t", "8", "-Q", QUEUE]]


def _celery(python: str, url: str) -> list[list[str]]:
    return [[python, "-m", "celery", "-A", f"{APPS}.celery_app", "worker", "-P", "prefork", "-c", "2", "-Q", QUEUE,
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]]


def _saq(python: str, url: str) -> list[list[str]]:
    return [[python, "-m", "saq", f"{APPS}.saq_app.settings", "--workers", "2"]]


def _taskiq(python: str, url: str) -> list[list[str]]:
    return [[python, "-m", "taskiq", "worker", f"{APPS}.taskiq_app:broker", "--workers", "2"]]


def _arq(python: str, url: str) -> list[list[str]]:
    one = [python, "-m", "arq", f"{APPS}.arq_app.WorkerSettings"]
    return [one, list(one)]


SYSTEMS = [
    System("jobfleet", "jobfleet (`map`, `workers supervise -n 2`)", "jobfleet_app", "jobfleet", "jobs", _jobfleet,
           async_jobs=True, is_jobfleet=True,
           note="its workers' options are in its label: `--threads N` (`JOBFLEET_PEERS_THREADS`, default 8, 1: "
                "off) and `--max-async M` (`JOBFLEET_PEERS_MAX_ASYNC`, default 100, 0: off) serve every workload "
                "of a round, W1 and W2 too; with `--max-async`, `async def` jobs await on each process's one "
                "event loop (W4)"),
    System("rq", "RQ (two SimpleWorkers)", "rq_app", "rq", "rq", _rq,
           note="results read one by one with `latest_result` (blocking XREAD); W4 not run"),
    System("huey", "Huey (RedisHuey, 2 processes, `notify_result`)", "huey_app", "huey", "huey", _huey,
           note="`notify_result=True`: a result wait is a BLPOP; Huey's default poll starts at 50 ms"),
    System("dramatiq", "Dramatiq (2 processes × 8 threads)", "dramatiq_app", "dramatiq", "dramatiq", _dramatiq),
    System("celery", "Celery (prefork -c 2)", "celery_app", "celery", "celery", _celery),
    System("saq", "saq (2 processes × 10)", "saq_app", "saq", "saq", _saq, async_jobs=True,
           note="`Queue.map`/`apply` poll job state: 1 ms for one job, 10 ms in a batch (default 0.5 s); "
                "plain functions run in its thread pool"),
    System("taskiq", "taskiq (taskiq-redis, 2 processes)", "taskiq_app", "taskiq", "taskiq_redis", _taskiq,
           async_jobs=True, note="no batch enqueue: `kiq` 100 at a time with gather; `wait_result` polls "
                                 "1 ms / 10 ms (default 0.2 s)"),
    System("arq", "arq (2 processes × 10, 10 ms poll)", "arq_app", "arq", "arq", _arq, async_jobs=True,
           note="worker `poll_delay` 10 ms (default 0.5 s); no batch enqueue (gather, 100 at a time); "
                "coroutines only: the `time.sleep` job goes through `run_in_executor`"),
]
BY_KEY = {s.key: s for s in SYSTEMS}
SEPARATE_VENV = {"arq": ROOT / ".venv-arq" / "bin" / "python"}


def _importable(python: str, module: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec(module) is not None
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", code], timeout=60, capture_output=True).returncode == 0


def interpreter(system: System, overrides: dict[str, str]) -> tuple[str | None, str]:
    """The Python to run ``system`` with, or ``None`` and the reason (with the install line)."""
    if system.key in overrides:
        python = overrides[system.key]
        return (python, "") if _importable(python, system.module) else (
            None, f"{system.package} is not importable by {python}")
    if _importable(sys.executable, system.module):
        return sys.executable, ""
    other = SEPARATE_VENV.get(system.key)
    if other is not None and Path(other).exists() and _importable(str(other), system.module):
        return str(other), ""
    hint = ("python3 -m venv .venv-arq && .venv-arq/bin/pip install -e '.[bench-arq]'" if system.key == "arq"
            else "pip install -e '.[bench]'")
    return None, f"{system.package} is not installed ({hint})"
