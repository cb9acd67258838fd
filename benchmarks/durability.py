"""What a SIGKILL of Redis loses: AOF ``appendfsync everysec`` vs ``always``, and a Sentinel
failover with and without ``?wait_replicas=1``.

Not part of ``python -m benchmarks``: ``python -m benchmarks.durability [--rounds N]``. Each
round: `workers supervise -n 2` runs no-op jobs that a producer enqueues one at a time (each
enqueue acknowledged); after ``RUN_S`` seconds the script reads which jobs are finished (also
acknowledged: a client saw them), SIGKILLs the Redis that holds them (AOF case: the only
server, restarted from its AOF; failover case: the primary, after which the sentinels promote
the replica), and counts, on the Redis that serves afterwards, acknowledged enqueues whose job
is gone and acknowledged finished jobs that are no longer finished.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import jobs
from benchmarks.harness import Processes, supervise_command
from benchmarks.jobs_fns import noop

RUN_S = 3.0


def produce(url: str, acked: list[str], stop: threading.Event) -> None:
    with jobs.Queue(url) as q:
        while not stop.is_set():
            try:
                acked.append(q.enqueue(noop).id)
            except jobs.JobsError:
                return


def round_trip(url: str, killed_client, kill, survivor_client, prepare=None, recover=None) -> tuple[int, int, int, int]:
    """(acked enqueues, of them gone; finished seen, of them no longer finished).

    ``prepare()`` runs just before the finished jobs are read and ``kill()`` strikes,
    ``recover()`` after the acknowledged enqueues are counted."""
    acked: list[str] = []
    stop = threading.Event()
    with Processes() as procs:
        procs.start(supervise_command(url, 2, "--log-level", "error"))
        producer = threading.Thread(target=produce, args=(url, acked, stop), daemon=True)
        producer.start()
        time.sleep(RUN_S)
        if prepare:
            prepare()
        finished = [m.decode() for m in killed_client.zrange("rq:finished:default", 0, -1)]
        kill()
        sent = list(acked)  # the enqueues acknowledged before the kill
        if recover:
            recover()
        stop.set()
        producer.join(30)
    client = survivor_client()
    pipe = client.pipeline(transaction=False)
    for job_id in sent + finished:
        pipe.hget(f"rq:job:{job_id}", "status")
    statuses = pipe.execute()
    gone = sum(s is None for s in statuses[:len(sent)])
    reverted = sum(s != b"finished" for s in statuses[len(sent):])
    client.close()
    return len(sent), gone, len(finished), reverted


def aof(mode: str) -> tuple[int, int, int, int]:
    from tests.redis_server import start_redis

    server = start_redis(["--appendonly", "yes", "--appendfsync", mode])
    try:
        return round_trip(server.url, server.client(), server.kill, server.client, recover=server.restart)
    finally:
        server.close()


def failover(query: str, lag_s: float = 0.0) -> tuple[int, int, int, int]:
    """``lag_s``: the replica falls that far behind before the primary dies (as over a slow or
    broken link): it is frozen (SIGSTOP) and its link dropped by the primary (CLIENT KILL TYPE
    replica), so what the primary takes in meanwhile reaches only the primary."""
    import signal

    from tests.sentinel_cluster import start_sentinel_cluster

    cluster = start_sentinel_cluster()
    old = cluster.primary.port
    try:
        def prepare() -> None:
            if lag_s:
                cluster.replica.process.send_signal(signal.SIGSTOP)
                primary = cluster.primary.client()
                primary.client_kill_filter(_type="replica")
                primary.close()
                time.sleep(lag_s)

        def recover() -> None:
            if lag_s:
                cluster.replica.process.send_signal(signal.SIGCONT)
            cluster.wait_for_failover(old)
        return round_trip(cluster.url(query), cluster.primary.client(), cluster.primary.kill, cluster.replica.client,
                          prepare, recover)
    finally:
        cluster.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="run only the cases whose name holds this text")
    args = p.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}; {RUN_S:.0f} s of enqueue + run per round, {args.rounds} rounds", flush=True)
    cases = [("SIGKILL, appendfsync everysec", lambda: aof("everysec")),
             ("SIGKILL, appendfsync always", lambda: aof("always")),
             ("failover (primary SIGKILLed)", lambda: failover("")),
             ("failover, ?wait_replicas=1", lambda: failover("wait_replicas=1&wait_timeout=2")),
             ("failover, replica 0.5 s behind", lambda: failover("", 0.5)),
             ("failover, replica 0.5 s behind, ?wait_replicas=1", lambda: failover("wait_replicas=1&wait_timeout=2", 0.5))]
    print("| case | acknowledged enqueues | lost | finished jobs seen | no longer finished |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, case in cases:
        if args.only not in name:
            continue
        totals = [0, 0, 0, 0]
        for _ in range(args.rounds):
            totals = [a + b for a, b in zip(totals, case())]
        print(f"| {name} | {totals[0]:,} | {totals[1]} | {totals[2]:,} | {totals[3]} |", flush=True)


if __name__ == "__main__":
    main()
