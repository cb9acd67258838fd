"""jobfleet: a job queue as easy as ``multiprocessing.Pool``, as dependable as Redis queues.

::

    import jobs

    with jobs.Queue("local://4") as q:          # or "redis://localhost:6379/0", "fakeredis://"
        job = q.enqueue(square, 7)
        job.result(timeout=10)                  # 49
        q.map(square, [1, 2, 3, 4, 5])          # [1, 4, 9, 16, 25]

    from jobs import Pool                       # instead of: from multiprocessing import Pool
    from jobs import Executor                   # instead of: ...futures import ProcessPoolExecutor
"""

from .errors import (
    BackendUnavailable,
    ConfigError,
    JobCanceled,
    JobFailed,
    JobLost,
    JobNotFound,
    JobsError,
    ResultTimeout,
    SerializationError,
)
from .executor import Executor
from .job import Job
from .options import JobOptions
from .pool import AsyncResult, Pool
from .process import Process
from .progress import Progress, report_progress
from .queue import Queue
from .remote_errors import RemoteTraceback
from .schedules import Schedule
from .status import JobStatus
from .urls import redact

__version__ = "0.1.0"

__all__ = [
    "Queue",
    "Job",
    "JobOptions",
    "JobStatus",
    "Progress",
    "report_progress",
    "Schedule",
    "Pool",
    "AsyncResult",
    "Process",
    "Executor",
    "RemoteTraceback",
    "redact",
    "JobsError",
    "ConfigError",
    "BackendUnavailable",
    "SerializationError",
    "JobFailed",
    "JobLost",
    "JobCanceled",
    "JobNotFound",
    "ResultTimeout",
]
