"""Names jobfleet keeps in an RQ job's ``meta``: the contract between client and workers.

RQ stores ``meta`` with the job, so anything here is visible to ``rq info`` users and survives
a restart of either side.

- ``jobfleet_losses`` (int): how many times a worker died (SIGKILL, OOM, segfault, a host that
  vanished) while it held this job. Each loss puts the job back on its queue.
- ``jobfleet_max_losses`` (int, optional): the job's own bound on losses; when absent the
  supervisor's ``--max-losses`` applies.
- ``jobfleet_lost`` (str): set when the job was given up after too many losses, holding the
  reason (``"lost 3 times: worker died by signal 9"``). The job is then in RQ's failed
  registry with status ``failed``, and ``Job.result()`` raises :class:`jobs.JobLost`.
"""

from __future__ import annotations

LOSSES = "jobfleet_losses"
MAX_LOSSES = "jobfleet_max_losses"
LOST = "jobfleet_lost"
#: The default bound on losses, for the supervisor and the local backend alike.
DEFAULT_MAX_LOSSES = 3
#: The prefix of the ``exc_string`` a given-up job's failed result carries.
LOST_EXC_PREFIX = "jobs.errors.JobLost: "
