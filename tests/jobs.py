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


def record_slowly(url, key, value, seconds=0.05):
    """Like :func:`record` but takes a while, so a test can catch it running."""
    time.sleep(seconds)
    return record(url, key, value)


def sleep_and_record(url, key, value, seconds):
    """Sleeps, then records its completion: shows a job ran to its end (drain tests)."""
    time.sleep(seconds)
    return record(url, key, value)


def inverse(x):
    return 1 / x


def fail_once(marker_path):
    """Raises the first time it runs (creating ``marker_path``), then succeeds."""
    if not os.path.exists(marker_path):
        with open(marker_path, "w") as fh:
            fh.write("failed once\n")
        raise RuntimeError("first attempt fails")
    return "ok"
