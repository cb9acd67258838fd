"""Work to finish at interpreter exit, before ``local://`` stops its worker processes.

``multiprocessing`` joins non-daemon processes at exit and ``concurrent.futures`` waits for an
executor's pending work; ``jobs.Process`` and ``jobs.Executor`` do the same. ``atexit`` runs the
last-registered handler first, and ``local://`` registers its own (which stops the workers) when
its first queue starts: so a hook is registered here only after a queue exists.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable

__all__ = ["at_exit"]

_lock = threading.Lock()
_registered: set[Callable[[], None]] = set()


def at_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` at exit (once, however often this is called), before queues stop their workers.

    Call it after the queue the hook needs was created.
    """
    with _lock:
        if hook not in _registered:
            _registered.add(hook)
            atexit.register(hook)
