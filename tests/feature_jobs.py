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


class HoldingWorker(BatchWorker):
    """Keeps the jobs behind a long one in its batch (no give-back), so a test can reach them there."""

    release_after_s = 120.0
    batch_max = 8

    def _batch_size(self) -> int:  # always a whole batch, however long the jobs run
        return self.batch_max


def in_batch_loop():
    """True when the batched loop (``BatchWorker._run_batch``) runs this job, not RQ's one-job loop."""
    import inspect

    return any(frame.function == "_run_batch" for frame in inspect.stack())


def sleep_unless_stopped(path, seconds):
    """Write ``begun`` to ``path``, sleep ``seconds``, then write ``ended``: a stopped run never writes it."""
    import time

    with open(path, "a") as fh:
        fh.write("begun\n")
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write("ended\n")
    return "ended"


class LongWaitWorker(BatchWorker):
    """Idles in waits of a minute, so a test sees whether a stop ends the wait or waits it out."""

    block_timeout_s = 60
