"""The client side of one round, run in its own process with the peer's interpreter.

``python -m benchmarks.peers.driver APP URL --latency M --noop N --sleep K [--async K]``
imports ``APP`` (a module of ``benchmarks.peers.apps``), connects, prints ``ready`` and reads one
line from stdin: the ``time.monotonic()`` at which the workers were launched (the clock is the
machine's, shared by processes). It then times, in order: the first job's result (cold start),
``M`` single jobs (latency), a batch of ``N`` no-op jobs, ``K`` sleeping jobs and, when asked,
``K`` ``async def`` jobs, checks every result, and prints one JSON line. A failure prints
``{"error": ...}`` and exits 1. It imports nothing of the other peers, so each system keeps its
own global state (Dramatiq's broker, Celery's app) and arq can run from its own virtualenv.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
import time
import traceback
from typing import Any

from benchmarks.peers.apps.common import URL_ENV


def _timed_batch(client: Any, kind: str, n: int) -> float:
    start = time.perf_counter()
    results = client.batch(kind, n)
    elapsed = time.perf_counter() - start
    if sorted(results) != list(range(n)):
        raise AssertionError(f"{kind} batch of {n}: wrong results, first few {list(results)[:5]!r}")
    return elapsed


def _probe_async(client: Any) -> str | None:
    """Why ``async def`` jobs cannot run (the first error line), or ``None`` when two run right."""
    try:
        results = client.batch("async", 2)
    except Exception as exc:  # noqa: BLE001 - the reason is the figure's note
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:200]
    if sorted(results) != [0, 1]:
        return f"async def jobs returned {results!r}, not their values"
    return None


def measure(client: Any, launched: float, args: argparse.Namespace) -> dict[str, Any]:
    first = client.one(0)
    cold_s = time.monotonic() - launched
    if first != 0:
        raise AssertionError(f"the first job returned {first!r}, not 0")
    latencies = []
    for i in range(args.latency):
        start = time.perf_counter()
        value = client.one(i)
        latencies.append((time.perf_counter() - start) * 1000)
        if value != i:
            raise AssertionError(f"job {i} returned {value!r}")
    out: dict[str, Any] = {"cold_s": cold_s, "latency_ms": latencies,
                           "noop_jobs_per_s": args.noop / _timed_batch(client, "noop", args.noop),
                           "sleep_s": _timed_batch(client, "sleep", args.sleep)}
    if args.async_jobs:
        out["async_error"] = _probe_async(client)
        if out["async_error"] is None:
            out["async_s"] = _timed_batch(client, "async", args.async_jobs)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description="One benchmark round's client (started by benchmarks.peers).")
    p.add_argument("app", help="module under benchmarks.peers.apps, e.g. huey_app")
    p.add_argument("url")
    p.add_argument("--latency", type=int, default=200)
    p.add_argument("--noop", type=int, default=5000)
    p.add_argument("--sleep", type=int, default=200)
    p.add_argument("--async", dest="async_jobs", type=int, default=0)
    args = p.parse_args()
    os.environ[URL_ENV] = args.url
    try:
        module = importlib.import_module(f"benchmarks.peers.apps.{args.app}")
        client = module.Client(args.url)
        print("ready", flush=True)
        launched = float(sys.stdin.readline())
        try:
            out = measure(client, launched, args)
        finally:
            client.close()
        out["version"] = importlib.metadata.version(module.PACKAGE)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}), flush=True)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
