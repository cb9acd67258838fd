"""Re-run delay of a job whose worker is SIGKILLed mid-job: one child, and a whole supervisor host.

The job (``record_start_then_sleep``) pushes "<pid> <time>" to a Redis list each time it
starts. The script SIGKILLs that pid (child case) or the whole process group of the supervisor
that ran it (host case, with a second supervisor standing for the other host), then waits for
the next start: the delay is from the kill to that start. RQ is measured the same way, with a
cap: its forking worker fails the job when the horse dies, a SimpleWorker's job is never
picked up again, and a dead host's job comes back only through ``Retry`` after RQ's registry
clean-up (every 10 minutes by default).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from benchmarks.harness import (
    Processes,
    Row,
    at_most,
    median,
    missing,
    private_redis,
    process_tree,
    rq_worker_command,
    script_main,
    supervise_command,
    supervisor_available,
    wait_until,
)
from benchmarks.jobs_fns import record_start_then_sleep

QUEUE, KEY = "recover", "bench:starts"
CHILD_P50_S, HOST_BOUND_S = 1.0, 60.0
JOB_SECONDS = 1.0  # long enough to be killed mid-job, short enough that stopping waits little


@dataclass
class Trial:
    delay: float | None  # seconds from the kill to the re-run; None: not within the cap
    status: str  # the job's RQ status at the end


def _next_start(client, timeout: float) -> tuple[int, float] | None:
    popped = client.blpop([KEY], timeout=max(1, round(timeout)))
    if popped is None:
        return None
    pid, at = popped[1].decode().split()
    return int(pid), float(at)


def trial(server, commands: list[list[str]], host_kill: bool, cap: float, retry: bool = False) -> Trial:
    """Start ``commands`` (one per host), run one job, SIGKILL its runner, time the re-run."""
    import redis
    from rq import Queue, Retry

    # BLPOP waits up to ``cap``: the socket must wait longer than that.
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=cap + 30, socket_connect_timeout=5)
    client.flushall()
    with Processes() as procs:
        hosts = [procs.start(cmd) for cmd in commands]
        job = Queue(QUEUE, connection=client).enqueue(
            record_start_then_sleep, server.url, KEY, JOB_SECONDS, job_timeout=600,
            retry=Retry(max=1) if retry else None)
        first = _next_start(client, 30)
        if first is None:
            raise TimeoutError("the job did not start within 30 s")
        pid = first[0]
        killed_at = time.time()
        if host_kill:
            host = next(h for h in hosts if pid in process_tree(h.pid))
            os.killpg(host.pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        again = _next_start(client, cap)
        if again is not None:
            # Let the re-run end before stopping: a stop that lands while a replacement worker is
            # still starting can wait the whole --shutdown-timeout (seen with `workers supervise`).
            wait_until(lambda: job.get_status(refresh=True) == "finished", JOB_SECONDS + 10, "the re-run to end")
        status = job.get_status(refresh=True)
    client.close()
    return Trial(None if again is None else again[1] - killed_at, str(getattr(status, "value", status)))


def _describe(trials: list[Trial], cap: float) -> str:
    if all(t.delay is None for t in trials):
        return f"not re-run within {cap:.0f} s (job {trials[0].status})"
    return f"p50 {median([t.delay for t in trials if t.delay is not None]):.2f} s"


def _kills(trials: list[Trial], how: str) -> str:
    delays = ", ".join("none" if t.delay is None else f"{t.delay:.1f}" for t in trials)
    return f"{len(trials)} kills, {how}: {delays} s"


def run(quick: bool) -> list[Row]:
    # Quick mode shortens --host-timeout to 2 s to exercise the host path; full mode keeps the default.
    trials, rq_cap, host_trials, host_opts = (2, 2.0, 1, ("--host-timeout", "2")) if quick else (7, 10.0, 2, ())
    host_cap = 120.0
    have_jf = supervisor_available()
    with private_redis() as server:
        simple = rq_worker_command(server.url, QUEUE, simple=True)
        fork_child = [trial(server, [rq_worker_command(server.url, QUEUE)], False, rq_cap)]
        simple_child = [trial(server, [simple], False, rq_cap)]
        jf_child = [trial(server, [supervise_command(server.url, 2, "--queue", QUEUE)], False, 30.0)
                    for _ in range(trials)] if have_jf else []
        rq_host = [] if quick else [trial(server, [simple, simple], True, host_cap, retry=True)]
        host_cmd = supervise_command(server.url, 1, "--queue", QUEUE, *host_opts)
        jf_host = [trial(server, [host_cmd, host_cmd], True, host_cap)
                   for _ in range(host_trials)] if have_jf else []
    note = "" if have_jf else missing("`workers supervise`")
    child_delays = [t.delay for t in jf_child if t.delay is not None]
    child = Row("re-run delay after a child is SIGKILLed mid-job",
                f"RQ forking worker: {_describe(fork_child, rq_cap)}; SimpleWorker: {_describe(simple_child, rq_cap)}",
                None, median(child_delays) if len(child_delays) == len(jf_child) else None, "s p50",
                f"p50 ≤ {CHILD_P50_S:.0f} s", note=note or f"{len(jf_child)} kills")
    child.met = at_most(child.jobfleet, CHILD_P50_S) if jf_child else None
    rows = [child]
    if host_trials:
        host_delays = [t.delay for t in jf_host if t.delay is not None]
        rq_text = _describe(rq_host, host_cap) if rq_host else "not run in quick mode"
        host = Row("re-run delay after a whole supervisor host is SIGKILLed",
                   f"two SimpleWorkers, job with `Retry(max=1)`: {rq_text}", None,
                   max(host_delays) if jf_host and len(host_delays) == len(jf_host) else None, "s (max)",
                   f"≤ {HOST_BOUND_S:.0f} s", note=note or _kills(jf_host, ' '.join(host_opts) or 'default --host-timeout 45'))
        host.met = at_most(host.jobfleet, HOST_BOUND_S) if jf_host else None
        rows.append(host)
    return rows


if __name__ == "__main__":
    script_main(run, __doc__)
