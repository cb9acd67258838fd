"""Redis key and member formats: RQ's (as RQ 3 names them) and jobfleet's own.

RQ's names are taken from RQ's classes, not spelled out, so a key prefix RQ changes follows.
jobfleet's keys only say *who holds what*, so that a job whose process or host died is found:

- ``jobfleet:held:<worker>`` (list): ids the worker took off its queues and has not yet
  settled, in the order it runs them. The first one is running (or just finished, its result
  not yet written); the rest are prefetched.
- ``jobfleet:supervisors`` (set) of supervisor ids; ``jobfleet:supervisor:<id>`` (hash with a
  TTL): that supervisor's heartbeat. A member whose hash expired is a lost host.
- ``jobfleet:supervisor:<id>:workers`` (set): worker names that may still hold jobs.
- ``jobfleet:claim:<worker>`` (string, NX with a TTL): taken by the one supervisor that
  re-queues a dead worker's held jobs, so each job is re-queued exactly once.

Recurring jobs (:mod:`.schedules`):

- ``jobfleet:schedule-queues`` (set): the queue names that have schedules.
- ``jobfleet:schedule-due:<queue>`` (sorted set): schedule name -> its next run (Unix seconds).
- ``jobfleet:schedule:<queue>|<name>`` (hash): the rule, the call, the next run and the last
  run. ``|`` is in neither a queue nor a schedule name, so no two pairs share a key. Whoever
  fires a tick changes this hash under WATCH, so a tick fires once whoever else tries.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq.job import Job
from rq.queue import Queue
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result

#: RQ's key prefixes (``rq:job:``, ``rq:queue:``, ``rq:wip:``), as the Lua scripts need them.
JOB_PREFIX = Job.redis_job_namespace_prefix
QUEUE_PREFIX = Queue.redis_queue_namespace_prefix
STARTED_PREFIX = StartedJobRegistry.key_template.format("")
#: RQ's set of every queue key.
ALL_QUEUES = Queue.redis_queues_keys


@dataclass(frozen=True)
class Prefixes:
    """The key prefixes of a worker's ``queue_class`` and ``job_class`` (RQ's by default; a
    subclass may set its own ``redis_queue_namespace_prefix`` / ``redis_job_namespace_prefix``)."""

    queue: str = QUEUE_PREFIX
    job: str = JOB_PREFIX

    @classmethod
    def of(cls, queue_class: type[Queue], job_class: type[Job]) -> Prefixes:
        return cls(queue_class.redis_queue_namespace_prefix, job_class.redis_job_namespace_prefix)

    @property
    def default(self) -> bool:
        return self == RQ_PREFIXES


#: RQ's own prefixes.
RQ_PREFIXES = Prefixes()


def job(job_id: str) -> str:
    """The job's hash."""
    return Job.key_for(job_id)


def queue(name: str) -> str:
    """The queue's list of waiting job ids."""
    return QUEUE_PREFIX + name


def started_registry(queue_name: str) -> str:
    return StartedJobRegistry.key_template.format(queue_name)


def finished_registry(queue_name: str) -> str:
    return FinishedJobRegistry.key_template.format(queue_name)


def failed_registry(queue_name: str) -> str:
    return FailedJobRegistry.key_template.format(queue_name)


def scheduled_registry(queue_name: str) -> str:
    return ScheduledJobRegistry.key_template.format(queue_name)


def deferred_registry(queue_name: str) -> str:
    return DeferredJobRegistry.key_template.format(queue_name)


def started_member(job_id: str, worker_name: str) -> str:
    """RQ 3's started-registry member: which worker runs which job."""
    return f"{job_id}:{worker_name}"


def result_stream(job_id: str) -> str:
    """The stream RQ appends each run's :class:`rq.results.Result` to."""
    return Result.get_key(job_id)


def job_id_of_stream(stream_key: str) -> str:
    return stream_key[len(result_stream("")):]


PREFIX = "jobfleet:"
SUPERVISORS = PREFIX + "supervisors"


def held(worker_name: str) -> str:
    return f"{PREFIX}held:{worker_name}"


def supervisor(supervisor_id: str) -> str:
    return f"{PREFIX}supervisor:{supervisor_id}"


def supervisor_workers(supervisor_id: str) -> str:
    return f"{PREFIX}supervisor:{supervisor_id}:workers"


def claim(worker_name: str) -> str:
    return f"{PREFIX}claim:{worker_name}"


def wake_channel(worker_name: str) -> str:
    """The pub/sub channel that wakes an idle worker waiting on several queues (a stop command came)."""
    return f"{PREFIX}wake:{worker_name}"


SCHEDULE_QUEUES = PREFIX + "schedule-queues"


def schedule_due(queue_name: str) -> str:
    return f"{PREFIX}schedule-due:{queue_name}"


def schedule(queue_name: str, name: str) -> str:
    return f"{PREFIX}schedule:{queue_name}|{name}"
