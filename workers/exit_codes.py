"""Exit codes of the ``workers`` command and of its worker processes, in one table.

The supervisor reads a child's code to decide what its death means; scripts and process
managers read the command's. Named as Dramatiq names its ``RET_*`` codes.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    #: stopped on request, or ``--burst`` found the queues empty
    OK = 0
    #: the command failed (a one-line error on stderr says why)
    ERROR = 1
    #: bad command line or URL (click's own usage code)
    USAGE = 2
    #: a worker process could not start (bad ``--worker-class``, hook, serializer...); the
    #: supervisor gives up after repeated start failures with this code too
    START_FAILED = 3
    #: a worker ran ``--max-jobs-per-child`` jobs and wants a fresh process (not a crash)
    RECYCLE = 4
