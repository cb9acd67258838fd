"""Redis processing of no-op jobs: `workers supervise -n 2` vs `rq worker-pool -n 2` vs two SimpleWorkers.

The jobs are enqueued first (``enqueue_many``, one pipeline), the Redis command counters are
reset, then the workers start in burst mode and the script waits for them to exit. Jobs/s is
counted from the first job's ``started_at`` to the last job's ``ended_at`` as RQ records them,
so process start-up is left out for every side alike (wall time is the fallback when a job hash
is gone). Commands per finished job come from ``INFO commandstats`` deltas over the whole run.
Also measured: jobs/s at 1, 2 and 4 worker processes, and at 1k, 10k and (full mode) 100k jobs;
the plot goes to docs/benchmarks-workers.png.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from benchmarks.harness import (
    DOCS,
    Processes,
    Row,
    alternate,
    at_least,
    at_most,
    command_calls,
    fmt,
    median,
    missing,
    private_redis,
    rq_noop_batch,
    rq_pool_command,
    rq_worker_command,
    script_main,
    supervise_command,
    supervisor_available,
)

QUEUE = "bench"
TARGET_POOL, TARGET_SIMPLE, TARGET_COMMANDS = 10.0, 3.0, 1 / 3


@dataclass
class Side:
    """One way of running workers: a name and the commands that start ``n`` of them in burst mode."""

    name: str
    commands: Callable[[str, int], list[list[str]]]
    seconds_per_job: float  # a generous bound for the timeout, from the reference figures
    samples: dict[tuple[int, int], list["Sample"]] = field(default_factory=dict)


@dataclass
class Sample:
    jobs_per_s: float
    commands_per_job: float
    calls: dict[str, int]
    steady: bool  # True: timed from job timestamps; False: wall time of the worker processes
    wall_jobs_per_s: float  # from starting the workers to their exit: start-up included


def rq_pool(url: str, n: int) -> list[list[str]]:
    return [rq_pool_command(url, QUEUE, n, "--burst")]


def rq_simple(url: str, n: int) -> list[list[str]]:
    return [rq_worker_command(url, QUEUE, "--burst", simple=True) for _ in range(n)]


def jobfleet(url: str, n: int) -> list[list[str]]:
    return [supervise_command(url, n, "--burst", "--queue", QUEUE)]


def _timestamps(client, ids: list[str]) -> tuple[float, float] | None:
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(f"rq:job:{job_id}", "started_at", "ended_at", "status")
        rows = pipe.execute()
    if any(status != b"finished" for _, _, status in rows):
        unfinished = sum(status != b"finished" for _, _, status in rows)
        raise AssertionError(f"{unfinished} of {len(ids)} jobs did not finish")
    if any(s is None or e is None for s, e, _ in rows):
        return None
    parse = lambda raw: datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()  # noqa: E731
    return min(parse(s) for s, _, _ in rows), max(parse(e) for _, e, _ in rows)


def measure(server, side: Side, processes: int, count: int) -> Sample:
    """Enqueue ``count`` no-op jobs, run ``side`` with ``processes`` workers in burst mode until done."""
    client = server.client()
    try:
        client.flushall()
        ids = rq_noop_batch(client, QUEUE, count)
        client.config_resetstat()
        timeout = 30 + count * side.seconds_per_job * 5
        with Processes() as procs:
            start = time.perf_counter()
            started = [procs.start(cmd) for cmd in side.commands(server.url, processes)]
            for process in started:
                code = procs.wait(process, timeout)
                if code != 0:
                    raise RuntimeError(f"{side.name} exited with code {code}")
            wall = time.perf_counter() - start
        calls = command_calls(client)
        span = _timestamps(client, ids)
    finally:
        client.close()
    elapsed = (span[1] - span[0]) if span else wall
    return Sample(count / elapsed, sum(calls.values()) / count, calls, span is not None, count / wall)


def _top_commands(sample: Sample, count: int, most: int = 8) -> str:
    top = sorted(sample.calls.items(), key=lambda kv: -kv[1])[:most]
    return ", ".join(f"{name} {calls / count:.2f}" for name, calls in top)


def _median_rate(samples: list[Sample]) -> float | None:
    return median([s.jobs_per_s for s in samples])


def plot(sides: list[Side], worker_counts: list[int], job_counts: list[int], main_count: int,
         path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_workers, by_jobs) = plt.subplots(1, 2, figsize=(11, 4.5))
    for side in sides:
        xs = [n for n in worker_counts if side.samples.get((n, main_count))]
        if xs:
            by_workers.plot(xs, [_median_rate(side.samples[(n, main_count)]) for n in xs], "o-", label=side.name)
        xs = [c for c in job_counts if side.samples.get((2, c))]
        if xs:
            by_jobs.plot(xs, [_median_rate(side.samples[(2, c)]) for c in xs], "o-", label=side.name)
    by_workers.set(xlabel="worker processes", ylabel="no-op jobs/s", yscale="log", xticks=worker_counts,
                   title=f"{main_count:,} no-op jobs")
    by_jobs.set(xlabel="jobs in the queue", ylabel="no-op jobs/s", xscale="log", yscale="log",
                title="2 worker processes")
    for ax in (by_workers, by_jobs):
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.suptitle("Redis processing throughput (higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(quick: bool) -> list[Row]:
    count, runs = (200, 1) if quick else (5_000, 3)
    worker_counts = [1, 2, 4]
    job_counts = [] if quick else [1_000, 10_000, 100_000]
    have_jf = supervisor_available()
    pool = Side("rq worker-pool", rq_pool, 1 / 155)
    simple = Side("rq SimpleWorker ×n", rq_simple, 1 / 250)
    fleet = Side("workers supervise", jobfleet, 1 / 250)
    sides = [pool, simple] + ([fleet] if have_jf else [])
    with private_redis() as server:
        main = alternate(runs, *[(lambda s=s: measure(server, s, 2, count)) for s in sides])
        for side, samples in zip(sides, main):
            side.samples[(2, count)] = samples
        for n in worker_counts:
            for side in sides:
                if n != 2:
                    side.samples[(n, count)] = [measure(server, side, n, count)]
        for jobs_count in job_counts:
            for side in sides:
                if side is pool and jobs_count > 10_000:
                    continue  # 100k jobs at RQ's ~155 jobs/s would take 11 minutes
                side.samples.setdefault((2, jobs_count), []).append(measure(server, side, 2, jobs_count))

    print(f"Redis commands per job, top 8 (run of {count:,} jobs, 2 processes):")
    for side in sides:
        print(f"  {side.name}: {_top_commands(side.samples[(2, count)][0], count)}")
    walls = ", ".join(f"{side.name} {fmt(median([x.wall_jobs_per_s for x in side.samples[(2, count)]]))}"
                      for side in sides)
    print(f"Wall clock from start of the workers to their exit, start-up included (jobs/s): {walls}")
    if any(not s.steady for side in sides for samples in side.samples.values() for s in samples):
        print("  note: some job hashes were gone, those runs were timed by wall clock")
    out = DOCS / "benchmarks-workers.png" if not quick else Path(tempfile.gettempdir()) / "benchmarks-workers-quick.png"
    out.parent.mkdir(exist_ok=True)
    print(f"plot: {plot(sides, worker_counts, job_counts, count, out)}\n")
    print(scaling_table(sides, [(n, count) for n in worker_counts] + [(2, c) for c in job_counts]))
    return _rows(fleet if have_jf else None, pool, simple, count)


def _rows(fleet: Side | None, pool: Side, simple: Side, count: int) -> list[Row]:
    note = "" if fleet else missing("`workers supervise`")
    jf = _median_rate(fleet.samples[(2, count)]) if fleet else None
    jf_cmds = median([s.commands_per_job for s in fleet.samples[(2, count)]]) if fleet else None
    simple_cmds = median([s.commands_per_job for s in simple.samples[(2, count)]])
    rows = [
        Row(f"`workers supervise -n 2`, {count:,} no-op jobs", "`rq worker-pool -n 2`",
            _median_rate(pool.samples[(2, count)]), jf, "jobs/s", f"≥ {TARGET_POOL:.0f}×", note=note),
        Row(f"`workers supervise -n 2`, {count:,} no-op jobs", "two `rq worker -w SimpleWorker`",
            _median_rate(simple.samples[(2, count)]), jf, "jobs/s", f"≥ {TARGET_SIMPLE:.0f}×", note=note),
        Row("Redis commands per finished job", "the SimpleWorker run", simple_cmds, jf_cmds, "commands",
            "≤ ⅓", note=note),
        Row("(for scale) Redis commands per finished job", "`rq worker-pool -n 2`",
            median([s.commands_per_job for s in pool.samples[(2, count)]]), None, "commands"),
    ]
    rows[0].met = at_least(rows[0].ratio, TARGET_POOL)
    rows[1].met = at_least(rows[1].ratio, TARGET_SIMPLE)
    rows[2].met = at_most(rows[2].ratio, TARGET_COMMANDS)
    return rows


def scaling_table(sides: list[Side], keys: list[tuple[int, int]]) -> str:
    """Jobs/s of every side at each (processes, jobs) point, as a Markdown table."""
    head = "| processes | jobs | " + " | ".join(side.name for side in sides) + " |"
    lines = ["### Scaling (no-op jobs/s, median)", "", head, "| ---: | ---: |" + " ---: |" * len(sides)]
    for n, c in keys:
        rates = [fmt(_median_rate(side.samples.get((n, c), []))) for side in sides]
        lines.append(f"| {n} | {c:,} | " + " | ".join(rates) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    script_main(run, __doc__)
