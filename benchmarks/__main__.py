"""Run every benchmark: ``python -m benchmarks [--quick] [--only local_map,latency]``.

Prints the machine, each script's table, then every row again in one summary table.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
import time
import traceback

from benchmarks.harness import Row, parser, table

SCRIPTS = ["local_map", "local_submit", "local_io", "dropin", "redis_enqueue", "redis_workers", "latency", "recovery", "memory",
           "workflows"]


def machine() -> str:
    import redis
    import rq

    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=10).stdout
    version = next((w.split("=")[1] for w in server.split() if w.startswith("v=")), "?")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, RQ {rq.__version__}, "
            f"redis-py {redis.__version__}, redis-server {version}, {platform.system()} {platform.release()}, "
            f"load average at start {load}")


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--only", default="", help=f"comma-separated scripts among: {', '.join(SCRIPTS)}")
    args = p.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or SCRIPTS
    unknown = sorted(set(chosen) - set(SCRIPTS))
    if unknown:
        p.error(f"unknown script(s) {', '.join(unknown)}; choose among {', '.join(SCRIPTS)}")
    print(f"command: python -m benchmarks {' '.join(sys.argv[1:])}".rstrip())
    print(machine(), "\n", flush=True)
    rows: list[Row] = []
    failed = []
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        start = time.monotonic()
        try:
            found = module.run(args.quick)
        except Exception:  # noqa: BLE001 - one broken script must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        print(table(f"{name}: {module.__doc__.strip().splitlines()[0]}", found))
        print(f"({name} took {time.monotonic() - start:.0f} s)\n", flush=True)
        rows += found
    print(table("Summary", rows))
    if failed:
        print(f"FAILED: {', '.join(failed)} (tracebacks above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
