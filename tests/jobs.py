"""Job functions for the tests: in an importable module, as a Redis worker needs them."""

from __future__ import annotations

import os
import signal
import time


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def echo_kwargs(**kwargs):
    return kwargs


def noop():
    return None


def fail(message="boom"):
    raise ValueError(message)


def divide(a, b):
    return a / b


def sleep_then(seconds, value=None):
    time.sleep(seconds)
    return value


def getpid(_=None):
    return os.getpid()


def kill_own_process():
    """A poison job: SIGKILLs the process that runs it."""
    os.kill(os.getpid(), signal.SIGKILL)


def kill_once(marker_path):
    """SIGKILLs its process the first time it runs (creating ``marker_path``), then succeeds."""
    if not os.path.exists(marker_path):
        with open(marker_path, "w") as fh:
            fh.write("killed once\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


def unpicklable_result():
    import threading

    return threading.Lock()


def record(url, key, value):
    """Records its completion in Redis (for chaos tests): INCR a counter per value."""
    import redis

    client = redis.Redis.from_url(url)
    client.hincrby(key, str(value), 1)
    return value


def inverse(x):
    return 1 / x


def fail_once(marker_path):
    """Raises the first time it runs (creating ``marker_path``), then succeeds."""
    if not os.path.exists(marker_path):
        with open(marker_path, "w") as fh:
            fh.write("failed once\n")
        raise RuntimeError("first attempt fails")
    return "ok"


def record_slowly(url, key, value, seconds=0.05):
    """Like :func:`record` but takes a while, so a test can catch it running."""
    time.sleep(seconds)
    return record(url, key, value)


def sleep_and_record(url, key, value, seconds):
    """Records that it began (in ``key:begun``), sleeps, then records its completion (drain tests)."""
    record(url, key + ":begun", value)
    time.sleep(seconds)
    return record(url, key, value)


def gated_host_job(url, key, x, timeout_s=120.0):
    """For multi-host tests: note the host that started it, wait for the gate, return (host, x).

    Adds the host to the hash ``key:started`` (HINCRBY), then polls until ``key:gate`` exists,
    so a test can kill a host while it certainly holds jobs.  Raises TimeoutError after
    ``timeout_s`` seconds with the gate still shut.
    """
    import redis

    from examples.cluster_jobs import host_id

    client = redis.Redis.from_url(url, socket_timeout=10)
    host = host_id()
    client.hincrby(f"{key}:started", host, 1)
    deadline = time.monotonic() + timeout_s
    while not client.exists(f"{key}:gate"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {key}:gate still shut after {timeout_s} s")
        time.sleep(0.05)
    return host, x


def ignore_timeout(seconds):
    """Blocks SIGALRM (like C code that never returns to Python), so RQ's timeout cannot stop it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
    return "should not finish"


def fail_on_three(x):
    """Raises for the item 3 only (map tests that fail part-way)."""
    if x == 3:
        raise ValueError("item three")
    return x


def report_then_wait(gate_path, done, total, message, timeout_s=60.0):
    """Reports progress, waits until ``gate_path`` exists (TimeoutError after ``timeout_s``), reports
    the end; returns what the first report returned."""
    import jobs

    sent = jobs.report_progress(done, total, message)
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(gate_path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate_path} still missing after {timeout_s} s")
        time.sleep(0.02)
    jobs.report_progress(total, total, "done")
    return sent


def report_in_a_tight_loop(n):
    """Reports progress ``n`` times as fast as it can (the rate limit must hold the writes back)."""
    import jobs

    for i in range(1, n + 1):
        jobs.report_progress(i, n)
    return n


def gate_or_mark(task):
    """For the prefetch tests, one function for both kinds of item (a map runs one function).

    ``("mark", directory, name)`` leaves a marker file and returns ``name``;
    ``("gate", directory, count, timeout_s)`` waits until ``count`` markers exist and returns
    ``"opened"``, or ``"shut: N of count"`` when they did not all appear within ``timeout_s``
    (so a job stuck behind the gate shows as a wrong answer, not as a hang).
    """
    kind, directory = task[0], task[1]
    if kind == "mark":
        with open(os.path.join(directory, f"{task[2]}.done"), "w"):
            pass
        return task[2]
    count, timeout_s = task[2], task[3]
    deadline = time.monotonic() + timeout_s
    while True:
        found = sum(name.endswith(".done") for name in os.listdir(directory))
        if found >= count:
            return "opened"
        if time.monotonic() > deadline:
            return f"shut: {found} of {count}"
        time.sleep(0.01)


def append_run(path, value, seconds=0.0):
    """Sleep ``seconds``, then append ``value`` as one line to ``path`` (O_APPEND: runs never interleave)."""
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write(f"{value}\n")
    return value


_count_clients: dict = {}


def count_run(url, key, index, seconds=0.0):
    """Add one to ``key``'s field ``index`` (HINCRBY) as the job begins, sleep, return ``index``.

    The count survives the job's worker being killed, so a test sees every run, including the
    ones that died. A Redis restart while it counts is ridden out (up to 30 s), not a failure.
    """
    import redis

    client = _count_clients.get(url)
    if client is None:
        client = _count_clients[url] = redis.Redis.from_url(url, socket_timeout=10)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.hincrby(key, str(index), 1)
            break
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    time.sleep(seconds)
    return index


def wait_for_key(url, key, timeout_s=60.0):
    """Wait until ``key`` exists in Redis (a gate a test opens); TimeoutError after ``timeout_s``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    deadline = time.monotonic() + timeout_s
    while not client.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} still missing after {timeout_s} s")
        time.sleep(0.01)
    return "opened"


def push_run(url, key, value):
    """Append ``value`` to the Redis list ``key``: the order jobs ran in."""
    import redis

    redis.Redis.from_url(url, socket_timeout=10).rpush(key, value)
    return value


def wait_until_finished(url, job_ids, timeout_s=30.0):
    """Wait (while running) until every job of ``job_ids`` is ``finished`` in Redis: ``"seen"``,
    or ``"not seen"`` after ``timeout_s`` (a result held back behind this job shows as a wrong answer)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = [client.hget(f"rq:job:{job_id}", "status") for job_id in job_ids]
        if all(s == b"finished" for s in statuses):
            return "seen"
        time.sleep(0.01)
    return "not seen"
def clock():
    """When it ran (wall-clock Unix seconds), for tests of when later jobs run."""
    return time.time()


def record_tick(url, key, seconds=0):
    """A scheduled job that records its run: RPUSH key JSON {tick, start, end, id}, after ``seconds``."""
    import json

    import redis
    import rq

    from jobs.rq_format.markers import TICK

    job = rq.get_current_job()
    start = time.time()
    time.sleep(seconds)
    record = {"tick": job.meta[TICK], "start": start, "end": time.time(), "id": job.id}
    redis.Redis.from_url(url).rpush(key, json.dumps(record))
    return record["tick"]


def raise_unloadable():
    """Raises an exception whose class names a module nobody can import, so it cannot be rebuilt."""
    raise type("NotImportableHere", (Exception,), {"__module__": "no_such_module_anywhere"})("gone")


def raise_unpicklable():
    import threading

    error = ValueError("holds a lock")
    error.lock = threading.Lock()
    raise error


def raise_with_args(*args):
    raise KeyError(*args)


def exit_with(code):
    raise SystemExit(code)


_initialized_with = []


def remember_init(value):
    """A pool initializer: records ``value`` in this worker process."""
    _initialized_with.append(value)


def initialized_values(_=None):
    """What :func:`remember_init` recorded in this worker process (and the process id)."""
    return os.getpid(), list(_initialized_with)


async def async_square(x):
    """An ``async def`` job: it awaits, then returns."""
    import asyncio

    await asyncio.sleep(0.001)
    return x * x


async def async_fail(message="async boom"):
    import asyncio

    await asyncio.sleep(0)
    raise ValueError(message)
