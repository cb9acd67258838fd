"""Job functions of the cluster example, importable by every worker as ``examples.cluster_jobs``.

A Redis worker imports a job's function by its dotted name, so the function must live in a
module that the producer and every worker host can import (the image puts ``/app`` on the path).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time

#: Set it to name a host when hostnames say nothing (network namespaces share one hostname).
HOST_ID_ENV = "JOBFLEET_HOST_ID"


def host_id() -> str:
    """The name of the host running this code: ``$JOBFLEET_HOST_ID``, else the hostname.

    In a compose container the hostname is the container id, so each worker container counts
    as its own host.
    """
    return os.environ.get(HOST_ID_ENV) or socket.gethostname()


def crunch(n: int, seconds: float = 0.0) -> tuple[str, str]:
    """Some work: sleeps ``seconds`` (I/O-bound stand-in), then hashes ``n`` 1,000 times.

    Returns ``(host_id(), hex digest)`` so the producer can count which hosts ran its jobs.
    """
    if seconds > 0:
        time.sleep(seconds)
    digest = str(n).encode()
    for _ in range(1000):
        digest = hashlib.sha256(digest).digest()
    return host_id(), digest.hex()[:16]
