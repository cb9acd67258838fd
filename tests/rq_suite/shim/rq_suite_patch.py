"""The two things an RQ-suite run changes: where Redis is, and which class ``Worker`` is.

**Redis.** RQ's tests have no setting for their Redis: ``tests/__init__.py`` calls ``Redis()``
(localhost:6379, the first empty database of 4..16), ``test_cli.py`` and ``test_worker.py``
build ``redis://127.0.0.1:6379/<db>`` URLs, and every test flushes its database. On this
machine 6379 is a shared Redis that must not be flushed, so :func:`redirect_redis` patches
redis-py's connection class: a TCP connection to a loopback host on port 6379 goes to
``JOBFLEET_RQ_SUITE_REDIS_PORT`` instead, however it was configured (``Redis()``, ``from_url``,
a pool's kwargs), and one that would still reach 6379 raises. Connection *settings* are left
alone, so a test reading ``connection_kwargs["port"]`` still sees 6379.

**Worker** (``JOBFLEET_RQ_SUITE_MODE``), by :func:`substitute_worker`:

- ``rq``: nothing replaced (RQ's forking ``Worker``);
- ``simple``: ``Worker`` is RQ's ``SimpleWorker``;
- ``batch``: ``Worker`` and ``SimpleWorker`` are :class:`rq_suite_workers.BatchWorkerAsRQ`.

Replaced are the names a user of RQ reaches a worker class by: the attributes of the ``rq`` and
``rq.worker`` modules (what the tests import, and what the CLI's default ``--worker-class
rq.Worker`` or ``-w rq.worker.SimpleWorker`` resolve when a command runs) and ``WorkerPool``'s
default worker class. RQ's own modules are imported first, so their internals and the
subclasses RQ defines (``SpawnWorker``, ``HerokuWorker``, ``RandomWorker``...) keep the real
classes.

Both run in the pytest process (``rq_suite_plugin``, before RQ's test modules are collected, so
their ``from rq import Worker`` binds the substitute) and in every Python subprocess the tests
start (``sitecustomize``: ``rqworker``, ``rq worker``, spawned interpreters); forks inherit them.
"""

from __future__ import annotations

import functools
import os
from typing import Any

PORT_ENV = "JOBFLEET_RQ_SUITE_REDIS_PORT"
MODE_ENV = "JOBFLEET_RQ_SUITE_MODE"
MODES = ("rq", "simple", "batch")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_RQ_DEFAULT_PORT = 6379


def redirect_redis() -> None:
    """Patch :class:`redis.connection.Connection` once; a no-op without the port variable."""
    target = os.environ.get(PORT_ENV)
    if not target:
        return
    from redis import connection

    original = connection.Connection.__init__
    if getattr(original, "rq_suite_redirect", False):
        return
    port = int(target)
    if port == _RQ_DEFAULT_PORT:
        raise RuntimeError(f"{PORT_ENV}=6379 would run RQ's tests (which flush databases) on the shared Redis")

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        host = kwargs.get("host", "localhost")
        if host in _LOOPBACK and int(kwargs.get("port", _RQ_DEFAULT_PORT)) == _RQ_DEFAULT_PORT:
            kwargs["port"] = port
        original(self, *args, **kwargs)
        if self.host in _LOOPBACK and self.port == _RQ_DEFAULT_PORT:
            raise RuntimeError("refusing a connection to the shared Redis on 6379 from RQ's test suite")

    __init__.rq_suite_redirect = True  # type: ignore[attr-defined]
    connection.Connection.__init__ = __init__  # type: ignore[method-assign]


_substitute: list[type | None] = []


def substitute_worker() -> type | None:
    """Rebind RQ's worker names for the mode in the environment (once); returns the substitute, if any."""
    if _substitute:
        return _substitute[0]
    mode = os.environ.get(MODE_ENV, "rq")
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r}: use one of {', '.join(MODES)}")
    if mode == "rq":
        return None
    import rq
    import rq.cli  # noqa: F401 - imported before the swap, so RQ's own references stay real
    import rq.worker
    import rq.worker_pool
    from rq.worker import SimpleWorker, Worker

    if mode == "simple":
        target: type = SimpleWorker
        names: tuple[str, ...] = ("Worker",)
    else:
        from rq_suite_workers import BatchWorkerAsRQ

        target, names = BatchWorkerAsRQ, ("Worker", "SimpleWorker")
    for module in (rq, rq.worker):
        for name in names:
            setattr(module, name, target)
    init = rq.worker_pool.WorkerPool.__init__
    init.__defaults__ = tuple(target if value is Worker else value for value in init.__defaults__ or ())
    _substitute.append(target)
    return target
