"""Enqueueing a job that waits for others on Redis (see :mod:`jobs.workflows`).

A job whose arguments hold jobs runs :func:`jobs.workflows.call_with_parents` with the user's
function name and arguments (placeholders in place of the jobs); its description is the user's
call, so ``rq info`` shows ``tasks.add(<job 1f3...>, 2)``. A job that only waits
(``depends_on=``) runs the user's function itself. The records are RQ's own
(:mod:`jobs.rq_format.dependencies`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rq.utils import get_call_string

from ..errors import SerializationError
from ..functions import importable_name
from ..options import JobOptions
from ..rq_format import dependencies
from ..workflows import call_with_parents, parent_ids_in
from .redis_errors import translated

if TYPE_CHECKING:
    from .redis import RedisBackend


def submit_dependent(backend: RedisBackend, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: JobOptions) -> tuple[str, Any]:
    """Write one job that waits for ``options.parents``; its id (nothing is written when it raises)."""
    func_name = importable_name(func)
    value_ids = parent_ids_in((args, kwargs))
    target: Callable[..., Any] = func
    if value_ids:
        if func_name is None:
            raise SerializationError("a job that takes other jobs' results needs a module-level function on Redis "
                                     "(not a method or callable object)")
        description = options.description or get_call_string(func_name, args, kwargs, max_length=200)
        options = dataclasses.replace(options, description=description)
        target, args, kwargs = call_with_parents, (func_name, args, kwargs), {}
    job = backend._create_job(target, args, kwargs, options)
    with translated(backend._server):
        dependencies.enqueue_dependent(backend.rq_queue, job, options.parents, value_ids, options.allow_failure,
                                       backend._server)
        backend._confirm_replicated(f"job {job.id}")
    return job.id, None


def same_server(a: Any, b: Any) -> bool:
    """Whether two redis-py clients talk to the same database of the same server."""
    ka, kb = a.connection_pool.connection_kwargs, b.connection_pool.connection_kwargs
    return all(ka.get(k) == kb.get(k) for k in ("host", "port", "path", "db"))
