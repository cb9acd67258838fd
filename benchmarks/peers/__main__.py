"""jobfleet against other Python job queues on one Redis: ``python -m benchmarks.peers [--quick]``.

Peers: RQ, Huey, Dramatiq, Celery, saq, taskiq and arq (``pip install -e '.[bench]'``; arq from
its own virtualenv, see docs/benchmarks.md). Each runs 2 worker processes against a redis-server
this script starts on a free port. Workloads, the client enqueuing with the system's batch API
where it has one and reading every result: W1 5,000 no-op jobs (jobs/s), W2 enqueue → result of
single jobs (p50/p99 ms), W3 200 jobs × ``time.sleep(0.01)`` (s), W4 200 ``async def`` jobs
awaiting ``asyncio.sleep(0.01)`` (asyncio peers and jobfleet), cold start (workers launched →
first result). Rounds alternate the systems (rotated each round); medians of 3 rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import DOCS, private_redis, table
from benchmarks.peers.apps.common import URL_ENV
from benchmarks.peers.report import matrix, plot, spread, target_rows
from benchmarks.peers.rounds import FULL, QUICK, RoundFailed, Sample, Sizes, one_round
from benchmarks.peers.systems import BY_KEY, SYSTEMS, System, interpreter, jobfleet_concurrency_options


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one round: about a minute")
    p.add_argument("--only", default="", help=f"comma-separated systems among: {', '.join(BY_KEY)}")
    p.add_argument("--python", action="append", default=[], metavar="SYSTEM=PATH",
                   help="run SYSTEM's client and workers with this interpreter (e.g. arq=.venv-arq/bin/python)")
    p.add_argument("--plot", type=Path, help="where the plot goes (default: docs/benchmarks-peers.png in full "
                                              "mode, the temporary directory with --quick)")
    args = p.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(BY_KEY)
    unknown = sorted(set(chosen) - set(BY_KEY))
    if unknown:
        p.error(f"unknown system(s) {', '.join(unknown)}; choose among {', '.join(BY_KEY)}")
    args.systems = [s for s in SYSTEMS if s.key in chosen]
    bad = [o for o in args.python if "=" not in o or o.split("=", 1)[0] not in BY_KEY]
    if bad:
        p.error(f"--python takes SYSTEM=PATH with SYSTEM among {', '.join(BY_KEY)}, not {bad[0]!r}")
    args.overrides = dict(o.split("=", 1) for o in args.python)
    return args


def _interpreters(systems: list[System], overrides: dict[str, str]) -> tuple[dict[System, str], dict[System, str]]:
    """The Python of each system that can run, and why each other one cannot."""
    pythons: dict[System, str] = {}
    failures: dict[System, str] = {}
    for system in systems:
        python, why = interpreter(system, overrides)
        if python is None:
            failures[system] = why
        else:
            pythons[system] = python
    return pythons, failures


def _rounds(pythons: dict[System, str], sizes: Sizes, failures: dict[System, str], logs: Path) -> dict[System, list[Sample]]:
    """Every system once per round, the order rotated each round; a system that fails is dropped."""
    results: dict[System, list[Sample]] = {s: [] for s in pythons}
    with private_redis() as server:
        print(f"redis-server of this run: port {server.port}", flush=True)
        os.environ[URL_ENV] = server.url  # the workers' app modules read it (harness.child_env copies it)
        for r in range(sizes.rounds):
            shift = r % len(pythons) if pythons else 0
            for system in [*pythons][shift:] + [*pythons][:shift]:
                if system in failures:
                    continue
                client = server.client()
                client.flushall()
                client.close()
                begun = time.monotonic()
                try:
                    sample = one_round(system, pythons[system], server.url, sizes, logs / f"{system.key}.log")
                except RoundFailed as exc:
                    failures[system] = str(exc)
                    print(f"round {r + 1}, {system.key}: FAILED\n{exc}", flush=True)
                    continue
                results[system].append(sample)
                print(f"round {r + 1}, {system.key}: {time.monotonic() - begun:.1f} s "
                      f"(stopping the workers {sample.stop_s:.1f} s)", flush=True)
    return {s: v for s, v in results.items() if v}


def _report(results: dict[System, list[Sample]], failures: dict[System, str], sizes: Sizes, plot_to: Path) -> None:
    threads = jobfleet_concurrency_options()
    labels = {s: s.label + (f" `{' '.join(threads)}`" if s.is_jobfleet and threads else "") for s in SYSTEMS}
    print(f"sizes: W1 {sizes.noop:,} jobs, W2 {sizes.latency} single jobs per round (percentiles pool the "
          f"rounds), W3 and W4 {sizes.sleep} jobs of 10 ms, {sizes.rounds} round(s)\n")
    print(matrix(results, labels, failures))
    for system in results:
        if system.note:
            print(f"- {system.key}: {system.note}")
    print(f"\n{spread(results)}")
    print(table("jobfleet against the fastest peer (issue 15 targets; ratio = jobfleet / reference)",
                target_rows(results)))
    for system, samples in results.items():
        deaths = sum(s.worker_deaths for s in samples)
        if deaths:
            print(f"note: {system.key}: {deaths} worker process(es) had exited before the round ended")
    title = f"2 worker processes each, one Redis, 2 cores; medians of {sizes.rounds} round(s)"
    print(f"plot: {plot(results, plot_to, title)}")


def main() -> int:
    args = _arguments()
    sizes = QUICK if args.quick else FULL
    print(f"command: python -m benchmarks.peers {' '.join(sys.argv[1:])}".rstrip())
    from benchmarks.__main__ import machine

    print(machine(), flush=True)
    pythons, failures = _interpreters(args.systems, args.overrides)
    logs = Path(tempfile.mkdtemp(prefix="jobfleet-peers-"))
    started = time.monotonic()
    results = _rounds(pythons, sizes, failures, logs)
    kept = f"; logs in {logs}" if failures else ""
    if not failures:
        shutil.rmtree(logs, ignore_errors=True)
    print(f"\n{sum(len(v) for v in results.values())} rounds in {time.monotonic() - started:.0f} s; "
          f"load average at the end {_load()}{kept}\n")
    plot_to = args.plot or (Path(tempfile.gettempdir()) / "benchmarks-peers-quick.png" if args.quick
                            else DOCS / "benchmarks-peers.png")
    _report(results, failures, sizes, plot_to)
    return 1 if any(s in failures for s in pythons) else 0


if __name__ == "__main__":
    sys.exit(main())
