"""Memory of the whole worker process tree with 4 processes: `workers supervise -n 4` vs `rq worker-pool -n 4`.

Each side starts on an empty queue, runs 200 no-op jobs (so every worker has imported and run
something), then idles for a second before RSS and PSS are summed over the tree from
/proc/PID/smaps_rollup. RSS counts pages a fork shares once per process; PSS shares them out.
"""

from __future__ import annotations

import time

from benchmarks.harness import (
    Processes,
    Row,
    alternate,
    at_most,
    median,
    missing,
    private_redis,
    rq_noop_batch,
    rq_pool_command,
    script_main,
    supervise_command,
    supervisor_available,
    tree_memory,
    wait_until,
)

PROCESSES, JOBS, TARGET = 4, 200, 1.0
QUEUE = "mem"
MiB = 1024 * 1024


def _all_finished(client, ids: list[str]) -> bool:
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id}", "status")
        return all(status == b"finished" for status in pipe.execute())


def measure(server, command: list[str]) -> tuple[int, int, int]:
    """Start ``command``, run the warm-up jobs, record (RSS, PSS, processes) of its tree."""
    client = server.client()
    try:
        client.flushall()
        with Processes() as procs:
            process = procs.start(command)
            ids = rq_noop_batch(client, QUEUE, JOBS)
            wait_until(lambda: _all_finished(client, ids), 60, f"{JOBS} jobs to finish", interval=0.1)
            time.sleep(1.0)
            if process.poll() is not None:
                raise RuntimeError(f"{command[2:4]} exited with code {process.returncode}")
            return tree_memory(process.pid)
    finally:
        client.close()


def run(quick: bool) -> list[Row]:
    runs = 1 if quick else 3
    have_jf = supervisor_available()
    with private_redis() as server:
        pool, fleet = alternate(
            runs,
            lambda: measure(server, rq_pool_command(server.url, QUEUE, PROCESSES)),
            (lambda: measure(server, supervise_command(server.url, PROCESSES, "--queue", QUEUE))) if have_jf else None,
        )
    note = "" if have_jf else missing("`workers supervise`")
    rss = Row(f"process-tree RSS, {PROCESSES} worker processes", f"`rq worker-pool -n {PROCESSES}`",
              median([m[0] / MiB for m in pool]), median([m[0] / MiB for m in fleet]), "MiB",
              f"≤ {TARGET}×", note=note)
    rss.met = at_most(rss.ratio, TARGET)
    pss = Row(f"(for scale) process-tree PSS, {PROCESSES} worker processes", f"`rq worker-pool -n {PROCESSES}`",
              median([m[1] / MiB for m in pool]), median([m[1] / MiB for m in fleet]), "MiB", note=note)
    print(f"processes in the tree: worker-pool {pool[0][2]}" + (f", supervise {fleet[0][2]}" if fleet else ""))
    return [rss, pss]


if __name__ == "__main__":
    script_main(run, __doc__)
