"""Run RQ's own test suite against RQ's workers and against ``workers.worker.BatchWorker``.

::

    python -m tests.rq_suite.run                        # all three modes
    python -m tests.rq_suite.run --worker batch -k retry # one mode, pytest's -k

Exit status: 0, or 1 when a test passes with SimpleWorker, fails with BatchWorker and is not
listed in ``exceptions.txt``; 2 when RQ's tests or a redis-server cannot be had.

RQ's tests are the contract ``workers supervise`` promises to keep (issue 17). Nothing of them is
vendored: the sdist of the *installed* ``rq`` version is fetched by pip into ``.cache/rq-suite/``
(``pip download --no-deps --no-binary :all: rq==<version>``; GitHub has no 3.0.0 tag) and only
its ``tests/`` is extracted. Each mode runs pytest in its own process on its own redis-server
(a free port, stopped by PID); RQ's tests hard-code ``localhost:6379`` and flush databases, so
``shim/rq_suite_patch.py`` sends those connections to that server; it also names the modes
(which class ``Worker`` is). ``shim/rq_suite_plugin.py`` records each test; the summary (per test, the outcome in each mode) goes to
``.cache/rq-suite/summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.redis_server import redis_server_path, start_redis

ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "shim"
CACHE = ROOT / ".cache" / "rq-suite"
MODES = ("rq", "simple", "batch")
OUTCOMES = ("passed", "failed", "error", "aborted", "skipped")
#: Seconds one of RQ's tests may take before pytest-timeout fails it (a worker that never stops).
TEST_TIMEOUT_S = 30
#: Seconds a whole mode may take (RQ's suite takes about 3 minutes per mode here).
MODE_TIMEOUT_S = 1200
_PYTEST_INI = "[pytest]\naddopts = --strict-markers\nmarkers =\n    slow\n    ssl_test\n"


#: Tests that pass with SimpleWorker and fail with BatchWorker on purpose or for now, with why.
EXCEPTIONS = Path(__file__).resolve().parent / "exceptions.txt"
#: "timing": a timing-based test that passes or fails with BatchWorker by the machine's load, so
#: it is not called stale when it passes.
EXCEPTION_KINDS = ("to fix", "by design", "timing")


def load_exceptions(path: Path = EXCEPTIONS) -> dict[str, tuple[str, str]]:
    """``{test id: (kind, reason)}`` from lines ``<test id> | to fix|by design|timing | <reason>``."""
    listed: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3 or parts[1] not in EXCEPTION_KINDS or not parts[2]:
            raise ValueError(f"{path.name}:{number}: write '<test id> | to fix|by design|timing | <reason>', "
                             f"not {line!r}")
        listed[parts[0]] = (parts[1], parts[2])
    return listed


class SuiteUnavailable(RuntimeError):
    """RQ's tests or a redis-server could not be had (no network to PyPI, nothing installed)."""


@dataclass
class ModeRun:
    """One mode's pytest run: per test id, its recorded row (outcome, message, ...)."""

    mode: str
    seconds: float
    returncode: int
    tests: dict[str, dict] = field(default_factory=dict)
    log: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.tests.values() if row["outcome"] == outcome)


def rq_version() -> str:
    return importlib.metadata.version("rq")


def fetch_tests(version: str | None = None, cache: Path = CACHE) -> Path:
    """The directory holding RQ's ``tests/`` for ``version`` (default: installed), fetched once.

    Raises :class:`SuiteUnavailable` when pip cannot download the sdist.
    """
    version = version or rq_version()
    root = cache / f"rq-{version}"
    if (root / "pytest.ini").exists():  # written last: the extraction is complete
        return root
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"rq-{version}.tar.gz"
    if not sdist.exists():
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                   f"rq=={version}", "-d", str(cache)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not sdist.exists():
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or [done.stderr.strip()]
            raise SuiteUnavailable(f"pip could not download the sdist of rq=={version}: {errors[-1][:300]}")
    prefix = f"rq-{version}/tests/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        if not members:
            raise SuiteUnavailable(f"{sdist.name} holds no tests/ directory")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse links and paths out of the cache
            archive.extractall(cache, members=members, filter="data")
        else:
            archive.extractall(cache, members=members)
    (root / "pytest.ini").write_text(_PYTEST_INI)
    return root


def run_mode(mode: str, root: Path, tests: list[str] | None = None, select: str | None = None,
             timeout_s: float = MODE_TIMEOUT_S, tag: str = "") -> ModeRun:
    """Run RQ's tests under ``root`` (all, the node ids ``tests``, or pytest's ``-k select``) in
    ``mode`` on a redis-server of their own; its rows and pytest's output go to
    ``.cache/rq-suite/{results,pytest}-<mode>[-<tag>]``.

    A test that kills the pytest process itself (e.g. a "kill the work horse" test with an
    in-process worker, whose horse is pytest) or runs past ``TEST_TIMEOUT_S`` (pytest-timeout
    then ends the process) is recorded as ``aborted`` and pytest runs again on the tests not
    yet run.
    """
    if redis_server_path() is None:
        raise SuiteUnavailable("redis-server is not installed (apt-get install -y redis-server)")
    if tests is not None and not tests:
        return ModeRun(mode, 0.0, 5)  # pytest's "no tests ran": without node ids it would run them all
    name = f"{mode}-{tag}" if tag else mode
    results, log = CACHE / f"results-{name}.jsonl", CACHE / f"pytest-{name}.log"
    results.unlink(missing_ok=True)
    log.unlink(missing_ok=True)
    base = [sys.executable, "-m", "pytest", "-c", str(root / "pytest.ini"), "--rootdir", str(root),
            "-p", "rq_suite_plugin", "-p", "no:cacheprovider", "-q", "-rN", f"--timeout={TEST_TIMEOUT_S}",
            # the thread method: the signal one shares SIGALRM with RQ's death penalty, which
            # re-arms it for every job, so a hanging worker would never be timed out
            "--timeout-method=thread",
            *(["-k", select] if select else []), *(tests if tests is not None else ["tests"])]
    started = time.monotonic()
    run = ModeRun(mode, 0.0, 0, log=str(log))
    server = start_redis()
    try:
        env = _environment(mode, root, results, server.port)
        deselected: list[str] = []
        while True:
            remaining_s = timeout_s - (time.monotonic() - started)
            with open(log, "a", encoding="utf-8") as out:
                run.returncode = _run_in_own_group(base + deselected, root, env, out, remaining_s)
            run.tests, aborted = _read_results(results)
            if aborted is None or remaining_s <= 0:
                break
            how = "timed out" if run.returncode == 1 else f"pytest died (exit {run.returncode})"
            run.tests[aborted] = {"outcome": "aborted", "message": how,
                                  "seconds": 0.0, "ran_batch_worker": False}
            with open(results, "a", encoding="utf-8") as out:
                out.write(json.dumps({"nodeid": aborted, **run.tests[aborted]}) + "\n")
            deselected = [arg for t in run.tests for arg in ("--deselect", t)]
    finally:
        server.close()
    run.seconds = round(time.monotonic() - started, 1)
    return run


def _environment(mode: str, root: Path, results: Path, port: int) -> dict[str, str]:
    env = dict(os.environ, JOBFLEET_RQ_SUITE_MODE=mode, JOBFLEET_RQ_SUITE_RESULTS=str(results),
               JOBFLEET_RQ_SUITE_REDIS_PORT=str(port), PYTHONPATH=os.pathsep.join([str(SHIM), str(root)]),
               # RQ's subprocess tests run its console scripts (rqworker) from this interpreter's bin
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("RUN_SLOW_TESTS_TOO", None)  # RQ's own switches: its slow and TLS tests stay off
    env.pop("RUN_SSL_TESTS", None)
    return env


def _read_results(results: Path) -> tuple[dict[str, dict], str | None]:
    """The finished tests' rows, and the test that started but never finished (if any)."""
    rows: dict[str, dict] = {}
    unfinished = None
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            nodeid = row.pop("nodeid")
            if row.get("start"):
                unfinished = nodeid
            else:
                rows[nodeid] = row
                unfinished = None if unfinished == nodeid else unfinished
    return rows, unfinished


def _run_in_own_group(command: list[str], cwd: Path, env: dict, out: Any, timeout_s: float) -> int:
    """Run pytest as the leader of a new process group, and SIGKILL that group afterwards, so a
    worker a test forked and left behind (or the whole run, past ``timeout_s``) does not outlive it."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        print(f"rq-suite: {' '.join(command[-2:])} ran past {timeout_s} s; killed", file=sys.stderr)
        return -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def regressions(simple: ModeRun, batch: ModeRun) -> list[str]:
    """Tests that pass with RQ's SimpleWorker but not with BatchWorker (aborted counts as not passed)."""
    return sorted(t for t, row in simple.tests.items()
                  if row["outcome"] == "passed" and batch.tests.get(t, {}).get("outcome") != "passed")


def summary(runs: dict[str, ModeRun]) -> dict:
    everything = sorted(set().union(*(run.tests for run in runs.values())))
    data: dict = {
        "rq_version": rq_version(),
        "modes": {mode: {"seconds": run.seconds, "returncode": run.returncode, "log": run.log,
                         **{o: run.count(o) for o in OUTCOMES},
                         "ran_batch_worker": sum(1 for r in run.tests.values() if r.get("ran_batch_worker"))}
                  for mode, run in runs.items()},
        "tests": {t: {mode: run.tests.get(t, {}).get("outcome", "not run") for mode, run in runs.items()}
                  for t in everything},
    }
    if "simple" in runs and "batch" in runs:
        listed = load_exceptions()
        data["simple_pass_batch_fail"] = {
            t: {"message": runs["batch"].tests.get(t, {}).get("message", "not run"),
                "listed": listed.get(t, ("not listed", ""))[0]}
            for t in regressions(runs["simple"], runs["batch"])}
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run RQ's own tests with RQ's workers and with BatchWorker.")
    parser.add_argument("--worker", action="append", choices=MODES,
                        help="mode to run (repeatable; default: all three)")
    parser.add_argument("--out", type=Path, default=CACHE / "summary.json", help="where the JSON summary goes")
    parser.add_argument("-k", help="pytest -k expression (a subset of RQ's tests)")
    args = parser.parse_args(argv)
    try:
        root = fetch_tests()
        runs = {}
        for mode in args.worker or MODES:
            print(f"rq-suite: running RQ {rq_version()}'s tests with worker={mode} ...", flush=True)
            runs[mode] = run_mode(mode, root, select=args.k)
    except SuiteUnavailable as exc:
        print(f"rq-suite: {exc}", file=sys.stderr)
        return 2
    data = summary(runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True))
    for mode, figures in data["modes"].items():
        print(f"{mode:>6}: " + ", ".join(f"{figures[o]} {o}" for o in OUTCOMES)
              + f"; {figures['ran_batch_worker']} ran BatchWorker.run(); "
              f"{figures['seconds']} s (log: {figures['log']})")
    failing = data.get("simple_pass_batch_fail", {})
    if failing:
        print(f"{len(failing)} tests pass with SimpleWorker and fail with BatchWorker:")
        for test, row in failing.items():
            print(f"  [{row['listed']}] {test}: {row['message']}")
    print(f"summary: {args.out}")
    unlisted = [test for test, row in failing.items() if row["listed"] == "not listed"]
    if unlisted:
        print(f"rq-suite: {len(unlisted)} of them are not in {EXCEPTIONS}", file=sys.stderr)
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
