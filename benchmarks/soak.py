"""Soak: 1,000,000 no-op jobs through ``workers supervise -n 2``: memory, and what is left over.

Not a test: ``python -m benchmarks.soak [--jobs N] [--result-ttl S]`` (about 5 minutes for a
million on two cores). A producer keeps the queue fed (never more than ``BACKLOG`` waiting) with
jobs whose results expire after ``--result-ttl`` seconds. At every 100,000 jobs done it prints
the RSS of the supervisor and of each child (from /proc) and Redis ``used_memory``. At the end,
once the queue and the held lists are empty and the results expired, it runs RQ's registry
clean-up (what RQ's maintenance does every ``maintenance_interval``, 10 minutes by default) and
counts every key left over by kind: job hashes, result streams, registries' members, held lists,
worker and supervisor keys. A stale one is any that belongs to no live job or worker.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from benchmarks.harness import Processes, process_tree, supervise_command
from benchmarks.jobs_fns import noop

BACKLOG = 50_000
CHUNK = 10_000
REPORT_EVERY = 100_000
QUEUE = "soak"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def enqueue_chunk(queue, template, count: int) -> None:
    from jobs.rq_format.batch import enqueue_prepared, prepare_calls

    calls = [((i,), {}) for i in range(count)]
    blobs = prepare_calls(queue.serializer, "benchmarks.jobs_fns.noop", calls)
    enqueue_prepared(queue, template, "benchmarks.jobs_fns.noop", calls, blobs, describe=False)


def key_kinds(client) -> Counter:
    """Every key by kind (prefix up to the id), with the members of RQ's registries counted too."""
    kinds: Counter = Counter()
    for key in client.scan_iter(count=10_000):
        name = key.decode()
        parts = name.split(":")
        kind = ":".join(parts[:2]) if parts[0] in ("rq", "jobfleet") else name
        kinds[kind] += 1
        if kind in ("rq:finished", "rq:failed", "rq:wip", "rq:scheduled", "rq:deferred", "rq:canceled"):
            kinds[f"{kind} members"] += client.zcard(name)
        elif kind in ("rq:queue", "jobfleet:held"):
            kinds[f"{kind} entries"] += client.llen(name)
    return kinds


def done_count(client, enqueued: int) -> int:
    from jobs.rq_format import keys

    waiting = client.llen(keys.queue(QUEUE))
    held = sum(client.llen(k) for k in client.scan_iter(match=keys.held("*"), count=1000))
    return enqueued - waiting - held


def report(sup_pid: int, client, done: int, started: float) -> str:
    tree = process_tree(sup_pid)
    children = [rss_kib(p) // 1024 for p in tree[1:]]
    used = client.info("memory")["used_memory"] / 2**20
    return (f"{done:>9,} done  {time.monotonic() - started:6.0f} s  supervisor RSS {rss_kib(sup_pid) // 1024} MiB"
            f"  children RSS {children} MiB  Redis used_memory {used:.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--jobs", type=int, default=1_000_000)
    p.add_argument("--result-ttl", type=int, default=10)
    args = p.parse_args()
    import redis
    import rq

    from tests.redis_server import start_redis

    server = start_redis()
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=30)
    try:
        start_memory = client.info("memory")["used_memory"] / 2**20
        print(f"load {os.getloadavg()[0]:.2f}; Redis used_memory at start {start_memory:.1f} MiB", flush=True)
        queue = rq.Queue(QUEUE, connection=client)
        template = queue.create_job(noop, args=(0,), result_ttl=args.result_ttl)
        template.origin = QUEUE
        with Processes() as procs:
            sup = procs.start(supervise_command(server.url, 2, "--queue", QUEUE, "--log-level", "warning"))
            started, enqueued, next_report = time.monotonic(), 0, REPORT_EVERY
            while True:
                done = done_count(client, enqueued)
                if enqueued < args.jobs and enqueued - done < BACKLOG:
                    count = min(CHUNK, args.jobs - enqueued)
                    enqueue_chunk(queue, template, count)
                    enqueued += count
                    continue
                if done >= next_report:
                    print(report(sup.pid, client, done, started), flush=True)
                    next_report += REPORT_EVERY
                if done >= args.jobs:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            print(f"{args.jobs:,} jobs in {elapsed:.0f} s ({args.jobs / elapsed:,.0f} jobs/s incl. enqueue)", flush=True)
            time.sleep(args.result_ttl + 2)
            print("after the results expired:", report(sup.pid, client, args.jobs, started), flush=True)
            print_leftovers(client, queue, start_memory)
            procs.stop(sup)
    finally:
        client.close()
        server.close()


def print_leftovers(client, queue, start_memory: float) -> None:
    from rq.registry import clean_registries

    kinds = key_kinds(client)
    print("keys left, before RQ's registry clean-up:", dict(sorted(kinds.items())), flush=True)
    clean_registries(queue)
    kinds = key_kinds(client)
    used = client.info("memory")["used_memory"] / 2**20
    print("keys left, after RQ's registry clean-up:", dict(sorted(kinds.items())), flush=True)
    print(f"Redis used_memory {used:.1f} MiB (start {start_memory:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
