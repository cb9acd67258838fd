"""What every benchmark script shares: rows and tables, alternating runs, child processes, /proc.

A script module defines ``run(quick: bool) -> list[Row]`` and ends with
``if __name__ == "__main__": script_main(run, __doc__)``. Every process a script starts goes
through :class:`Processes`, which stops it by PID (its own process group) on the way out, so
nothing is left running even when a benchmark raises.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
T = TypeVar("T")


@dataclass
class Row:
    """One line of a result table: a jobfleet figure next to its reference, same run."""

    figure: str
    reference: str
    ref: float | None
    jobfleet: float | None
    unit: str
    target: str = "(report ratio)"
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ref is None or self.jobfleet is None or self.ref == 0:
            return None
        return self.jobfleet / self.ref


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1_000_000:
        return f"{value / 1e6:.2f} M"
    if abs(value) >= 100_000:
        return f"{value / 1000:,.0f} k"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(title: str, rows: Sequence[Row]) -> str:
    """A Markdown table, so the printed output pastes into docs/benchmarks.md as it is."""
    lines = [f"### {title}", "",
             "| figure | reference | reference value | jobfleet | unit | ratio | target | met |",
             "| --- | --- | ---: | ---: | --- | ---: | --- | --- |"]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}×"
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        figure = f"{r.figure} ({r.note})" if r.note else r.figure
        lines.append(f"| {figure} | {r.reference} | {fmt(r.ref)} | {fmt(r.jobfleet)} | {r.unit} "
                     f"| {ratio} | {r.target} | {met} |")
    return "\n".join(lines) + "\n"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0-100) of a non-empty sample."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def alternate(runs: int, *measures: Callable[[], T] | None) -> list[list[T]]:
    """Run each measure once per round, in turn, for ``runs`` rounds; a ``None`` measure is skipped.

    Alternating spreads slow phases of the machine (another process, a thermal dip) over both
    sides instead of charging them to one.
    """
    samples: list[list[T]] = [[] for _ in measures]
    for _ in range(runs):
        for sample, measure in zip(samples, measures):
            if measure is not None:
                sample.append(measure())
    return samples


def at_least(ratio: float | None, bound: float) -> bool | None:
    return None if ratio is None else ratio >= bound


def at_most(value: float | None, bound: float) -> bool | None:
    return None if value is None else value <= bound


# --- what of jobfleet exists yet ------------------------------------------------------------

def jobfleet_queue_api():
    """The ``jobs`` module when it offers ``jobs.Queue``, else ``None`` (the client API is not merged yet)."""
    try:
        import jobs
    except ImportError:
        return None
    return jobs if hasattr(jobs, "Queue") else None


def jobfleet_redis_api():
    """The ``jobs`` module when ``jobs.Queue`` can use Redis (``jobs.backends.redis`` exists), else ``None``."""
    jobs = jobfleet_queue_api()
    return jobs if jobs and importlib.util.find_spec("jobs.backends.redis") is not None else None


def supervisor_available() -> bool:
    return importlib.util.find_spec("workers") is not None and \
        importlib.util.find_spec("workers.cli") is not None


def missing(what: str) -> str:
    return f"{what} not merged into this branch yet"


# --- child processes -------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    """The environment for workers: ``benchmarks.jobs_fns`` and ``jobs`` importable, no output buffering."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def rq_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rq.cli", *args]


def rq_worker_command(url: str, queue: str, *extra: str, simple: bool = False) -> list[str]:
    """``rq worker`` (forks a work horse per job) or, with ``simple``, RQ's SimpleWorker (no fork)."""
    worker_class = ("-w", "rq.worker.SimpleWorker") if simple else ()
    return rq_command("worker", *worker_class, "-q", "-u", url, *extra, queue)


def rq_pool_command(url: str, queue: str, processes: int, *extra: str) -> list[str]:
    """``rq worker-pool -n N``: RQ's own supervisor, with its default (forking) workers."""
    return rq_command("worker-pool", "-n", str(processes), "-q", "-u", url, *extra, queue)


def supervise_command(url: str, processes: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workers", "supervise", "--url", url, "-n", str(processes), *extra]


class Processes:
    """Start child processes, each in its own session, and always stop them by PID.

    ``stop`` sends SIGTERM to the child, waits, then SIGKILLs the child's process group (the
    workers it forked, if any are left): only groups this object created are ever signalled.
    """

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self._started:
            self.stop(process)

    def start(self, command: Sequence[str], log: Path | None = None) -> subprocess.Popen:
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            process = subprocess.Popen(list(command), env=child_env(), cwd=ROOT, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if log:
                out.close()
        self._started.append(process)
        return process

    @staticmethod
    def wait(process: subprocess.Popen, timeout: float) -> int:
        """Wait for a child to exit; raise ``TimeoutError`` naming its command if it does not."""
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{' '.join(process.args[2:5])} still running after {timeout:.0f} s") from None

    @staticmethod
    def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM to the child (a supervisor stops its own workers), then SIGKILL of what is left of its group."""
        pgid = process.pid  # start_new_session: the child leads its own group
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # workers the leader forked and left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting {timeout:.0f} s for {what}")
        time.sleep(interval)


# --- /proc -----------------------------------------------------------------------------------

def _ppid_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ")".
        parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    parents = _ppid_map()
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def tree_memory(root: int) -> tuple[int, int, int]:
    """(RSS bytes, PSS bytes, process count) summed over the tree of ``root``.

    RSS counts a page shared by a forked parent and child twice; PSS splits it between them,
    so it is the fair figure for forking pools. Both come from /proc/PID/smaps_rollup.
    """
    rss = pss = count = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line and not line[0].isdigit())
        except OSError:
            continue
        rss += int(fields["Rss"].split()[0]) * 1024
        pss += int(fields["Pss"].split()[0]) * 1024
        count += 1
    return rss, pss, count


# --- Redis -----------------------------------------------------------------------------------

@contextlib.contextmanager
def private_redis() -> Iterator:
    """A redis-server of our own on a free port, stopped by PID at the end."""
    from tests.redis_server import start_redis

    server = start_redis()
    try:
        yield server
    finally:
        server.close()


def command_calls(client) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``, without our own INFO/CONFIG."""
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    for own in ("info", "config|resetstat", "config"):
        calls.pop(own, None)
    return calls


def rq_noop_batch(connection, queue_name: str, count: int, func=None) -> list[str]:
    """Enqueue ``count`` no-op RQ jobs with ``enqueue_many`` in one pipeline; their ids."""
    from rq import Queue

    from benchmarks.jobs_fns import noop

    queue = Queue(queue_name, connection=connection)
    data = [Queue.prepare_data(func or noop, (i,)) for i in range(count)]
    with connection.pipeline() as pipe:
        jobs = queue.enqueue_many(data, pipeline=pipe)
        pipe.execute()
    return [job.id for job in jobs]


# --- command line ----------------------------------------------------------------------------

def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one or two rounds: under a minute")
    return p


def script_main(run: Callable[[bool], list[Row]], doc: str | None) -> None:
    args = parser(doc).parse_args()
    title = (doc or "").strip().splitlines()[0]
    print(table(title, run(args.quick)), flush=True)
