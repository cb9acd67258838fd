"""Job functions for the --threads tests (tests/test_threads.py)."""

from __future__ import annotations

import time

import redis

_RUNNING = """
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n
"""


def overlap(url, key, seconds, gate_key=None):
    """Count the jobs of ``key`` running at once (``key:max``), and sleep ``seconds`` (or until ``gate_key`` exists)."""
    client = redis.Redis.from_url(url, socket_timeout=10)
    client.eval(_RUNNING, 2, f"{key}:running", f"{key}:max")
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (gate_key and client.exists(gate_key)):
            time.sleep(0.01)
    finally:
        client.decr(f"{key}:running")
        client.close()
    return key


def spin(seconds):
    """Pure Python for ``seconds``: a thread that can be interrupted between any two bytecodes."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return n


def sleep_in_c(seconds):
    """One blocking call (time.sleep): an exception sent to its thread lands only when it returns."""
    time.sleep(seconds)
    return "slept"


def note_success(job, connection, result, *args, **kwargs):
    """An on_success callback: it records that it ran, and for which result."""
    connection.set(f"callback:{job.id}", repr(result))


def note_failure(job, connection, exc_type, exc_value, traceback):
    """An on_failure callback: it records the error it was given."""
    connection.set(f"callback:{job.id}", f"{exc_type.__name__}: {exc_value}")


def take_sigalrm():
    """A job that sets SIGALRM for its own use (and leaves its handler behind)."""
    import signal

    signal.signal(signal.SIGALRM, lambda signum, frame: None)
    return "mine"
