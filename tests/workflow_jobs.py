"""Job functions for the workflow tests (importable, as a Redis worker needs them)."""

from __future__ import annotations

import os
import time


def wait_for_file(path, value=None, timeout_s=60.0):
    """Return ``value`` once ``path`` exists: a gate the test opens, so nothing depends on timing."""
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the test never opened the gate {path}")
        time.sleep(0.01)
    return value


def describe(value):
    """What a dependent received: a failed parent's value arrives as its jobs.JobFailed."""
    from jobs import JobFailed

    if isinstance(value, JobFailed):
        return ["JobFailed", value.exc_type, value.job_id]
    return ["value", value]


def nested_sum(data):
    """Sum every number inside lists, tuples and dicts."""
    if isinstance(data, dict):
        return sum(nested_sum(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return sum(nested_sum(v) for v in data)
    return data
