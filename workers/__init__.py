"""jobfleet workers: ``workers supervise`` runs RQ workers that lose no job.

- :mod:`workers.supervisor` starts, watches, restarts and stops the children;
- :mod:`workers.worker` is the child's RQ worker (in-process, batched);
- :mod:`workers.recovery` puts held jobs back after a crash or a lost host;
- :mod:`workers.status` reports supervisors, workers and queues;
- :mod:`workers.hooks` is the way in for code around every job;
- :mod:`workers.cli` is the ``workers`` command.
"""

from __future__ import annotations

__all__ = ["Supervisor", "SupervisorConfig", "BatchWorker", "Hook", "JobOutcome", "ExitCode"]

from .exit_codes import ExitCode
from .hooks import Hook, JobOutcome
from .supervisor import Supervisor, SupervisorConfig
from .worker import BatchWorker
