"""Job functions and callbacks that use RQ's per-job features (tests/test_rq_features.py)."""

from __future__ import annotations

from rq import Retry, get_current_job
from rq.job import Job

from workers.worker import BatchWorker


def retry_once(value):
    """Return ``rq.Retry`` on the first run, ``value`` on the second."""
    job = get_current_job()
    if not job.number_of_retries:
        return Retry(max=1)
    return value


def broken_failure_callback(job, connection, exc_type, exc_value, traceback):
    raise RuntimeError("the failure callback broke")



class CustomPrefixJob(Job):
    """A job class with its own key prefix, as RQ allows."""

    redis_job_namespace_prefix = "custom:job:"


class CustomPrefixWorker(BatchWorker):
    job_class = CustomPrefixJob
