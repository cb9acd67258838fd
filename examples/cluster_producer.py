"""Enqueue jobs into a jobfleet cluster, wait for them, and say which hosts ran them.

    python -m examples.cluster_producer --url redis://localhost:6379/0 --jobs 500
    docker compose run --rm producer --jobs 500          # inside the compose network

Prints a progress line at every tenth of the jobs and then a summary::

    500 jobs in 4.2 s (119.0 jobs/s) on 3 hosts
      3f2a1c9e0b7d  168
      8b1e...       166
      ...

Exit codes: 0 all jobs done, 1 a job failed or the wait ran out, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import jobs
from examples.cluster_jobs import crunch

DEFAULT_URL = "redis://localhost:6379/0"


@dataclass(frozen=True)
class Summary:
    """What a run did: how many jobs, how long it took, and how many each host ran."""

    jobs: int
    seconds: float
    per_host: Counter[str]

    def __str__(self) -> str:
        rate = self.jobs / self.seconds if self.seconds > 0 else float("inf")
        hosts = f"{len(self.per_host)} host{'' if len(self.per_host) == 1 else 's'}"
        lines = [f"{self.jobs} jobs in {self.seconds:.1f} s ({rate:.1f} jobs/s) on {hosts}"]
        width = max((len(host) for host in self.per_host), default=0)
        lines += [f"  {host:<{width}}  {count}" for host, count in sorted(self.per_host.items())]
        return "\n".join(lines)


def collect(handles: Sequence[Any], timeout_s: float, progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """Wait for every job's result within ``timeout_s`` seconds in all, in enqueue order.

    Raises what ``Job.result()`` raises: :class:`jobs.ResultTimeout` once the time is up (the
    jobs go on), :class:`jobs.JobFailed` for a job that raised or was lost.  ``progress(done,
    total)`` is called each time another tenth of the jobs is done, and at the end.
    """
    deadline = time.monotonic() + timeout_s
    total = len(handles)
    step = max(1, total // 10)
    results = []
    for done, handle in enumerate(handles, start=1):
        results.append(handle.result(timeout=max(0.0, deadline - time.monotonic())))
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)
    return results


def count_hosts(results: Iterable[tuple[str, Any]]) -> Counter[str]:
    """How many of the ``(host, value)`` results each host produced."""
    return Counter(host for host, _ in results)


def run(url: str, n_jobs: int, queue: str = "default", work_seconds: float = 0.0, timeout_s: float = 600.0,
        out: TextIO | None = None) -> Summary:
    """Enqueue ``n_jobs`` :func:`~examples.cluster_jobs.crunch` jobs, wait, and summarize.

    Progress goes to ``out`` (default: standard output).
    """
    out = out or sys.stdout

    def progress(done: int, total: int) -> None:
        print(f"  {done}/{total} done", file=out, flush=True)

    started = time.monotonic()
    with jobs.Queue(url, name=queue) as q:
        handles = [q.enqueue(crunch, i, work_seconds) for i in range(n_jobs)]
        print(f"enqueued {n_jobs} jobs on {jobs.redact(url)} queue {queue!r}; waiting", file=out, flush=True)
        results = collect(handles, timeout_s, progress)
    return Summary(jobs=n_jobs, seconds=time.monotonic() - started, per_host=count_hosts(results))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cluster_producer", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("JOBFLEET_URL") or DEFAULT_URL,
                        help="Redis URL (default: $JOBFLEET_URL or %(default)s)")
    parser.add_argument("--jobs", type=int, default=200, help="how many jobs to enqueue (default: %(default)s)")
    parser.add_argument("--queue", default=os.environ.get("JOBFLEET_QUEUE") or "default",
                        help="queue name (default: $JOBFLEET_QUEUE or %(default)s)")
    parser.add_argument("--work-seconds", type=float, default=0.0,
                        help="seconds each job sleeps, to make jobs I/O-bound (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for all results (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args.url, args.jobs, args.queue, args.work_seconds, args.timeout)
    except jobs.JobsError as exc:
        print(f"cluster_producer: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
