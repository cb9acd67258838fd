"""Workflows: a :class:`jobs.Job` passed where a value is expected stands for that job's result.

As in Ray and Dask, the shape is a future in an argument: ``q.enqueue(add, a, b)`` with ``a``
and ``b`` jobs runs ``add`` once both finished, with their values. At enqueue every ``Job``
found in the arguments (inside lists, tuples and dicts, at any depth) is replaced by a small
:class:`ParentResult` placeholder carrying its id; the backend records the dependency (on Redis
in RQ's own format, so ``rq info`` shows the job ``deferred`` and a plain ``rq worker`` runs it)
and, when the job runs, the placeholders are swapped for the parents' results.

On Redis the swap happens inside the job itself: the enqueued function is :func:`call_with_parents`,
which reads the parents' results through RQ's public API and calls the user's function. That
works under any RQ worker (a worker-side hook would not run under a plain ``rq worker``); the
job's description still shows the user's call, so ``rq info`` reads ``tasks.add(<job a>, <job b>)``.

Failure never hangs a workflow: every job jobfleet enqueues on Redis carries RQ's ``on_failure``
callback :func:`propagate_failure`, which fails (or, for a canceled parent, cancels) the waiting
dependents at once, down the chain (see :mod:`jobs.rq_format.dependencies`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, JobFailed, ResultTimeout
from .job import Job

if TYPE_CHECKING:
    from .backends.base import Backend, MapCall

logger = logging.getLogger(__name__)

__all__ = ["ParentResult", "extract_parents", "resolve", "parent_ids_in", "call_with_parents", "propagate_failure"]

#: The one key of a placeholder dict: a dict survives both serializers (pickle and JSON).
PARENT_KEY = "__jobfleet_parent__"


class ParentResult(dict):  # a dict, so the JSON serializer carries it too
    """Stands for the result of job ``id`` until the job runs; shown as ``<job id>`` by ``rq info``."""

    def __init__(self, job_id: str) -> None:
        super().__init__({PARENT_KEY: job_id})

    def __repr__(self) -> str:
        return f"<job {self[PARENT_KEY]}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ParentResult, (self[PARENT_KEY],))


def _parent_id(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(PARENT_KEY), str):
        return value[PARENT_KEY]
    return None


def _walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` rebuilt with ``leaf`` applied to every item that is not a list, tuple or dict."""
    replaced = leaf(value)
    if replaced is not value:
        return replaced
    if isinstance(value, list):
        return [_walk(v, leaf) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_walk(v, leaf) for v in value)
    if isinstance(value, dict) and type(value) in (dict, ParentResult):
        return {k: _walk(v, leaf) for k, v in value.items()}
    return value


def extract_parents(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], list[Job]]:
    """The call with every :class:`Job` replaced by a placeholder, and those jobs (first-seen order)."""
    found: dict[str, Job] = {}

    def leaf(value: Any) -> Any:
        if isinstance(value, Job):
            found.setdefault(value.id, value)
            return ParentResult(value.id)
        return value

    new_args = tuple(_walk(a, leaf) for a in args)
    new_kwargs = {k: _walk(v, leaf) for k, v in kwargs.items()}
    return new_args, new_kwargs, list(found.values())


#: Types that never hold a Job: a container of only these is skipped without a Python-level walk.
_ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None)})


def has_jobs(value: Any) -> bool:
    """Whether ``value`` holds a :class:`Job` at any depth (in the containers :func:`_walk` enters).

    On every ``enqueue`` and ``map``: a list of 100,000 numbers costs one C-level pass over the
    item types, not a walk (a ``map`` of tiny items must stay as fast as ``Pool.map``).
    """
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Job):
            return True
        if isinstance(v, list) or (isinstance(v, tuple) and not hasattr(v, "_fields")):
            items: Any = v
        elif isinstance(v, dict) and type(v) in (dict, ParentResult):
            items = v.values()
        else:
            continue
        if set(map(type, items)) <= _ATOMS:
            continue
        stack.extend(x for x in items if type(x) not in _ATOMS)
    return False


def parent_ids_in(value: Any) -> list[str]:
    """The ids of the placeholders in ``value``, first-seen order."""
    ids: dict[str, None] = {}

    def leaf(v: Any) -> Any:
        job_id = _parent_id(v)
        if job_id is not None:
            ids[job_id] = None
        return v

    _walk(value, leaf)
    return list(ids)


def resolve(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with every placeholder replaced by ``values[its id]``."""
    def leaf(v: Any) -> Any:
        job_id = _parent_id(v)
        return values[job_id] if job_id is not None else v

    return _walk(value, leaf)


def check_parents(backend: Backend, parents: list[Any]) -> list[str]:
    """The ids of ``depends_on`` / argument parents, checked to live on ``backend``'s store."""
    ids: list[str] = []
    for parent in parents:
        if isinstance(parent, Job):
            if not backend.holds(parent):
                raise ConfigError(f"job {parent.id} lives on another backend ({parent._backend!r}); a job can only "
                                  f"wait for jobs of the same Redis (or the same local:// queue)")
            ids.append(parent.id)
        elif isinstance(parent, str):
            ids.append(parent)
        else:
            raise ConfigError(f"depends_on takes jobs or job ids, not {type(parent).__name__} {parent!r:.60}")
    return list(dict.fromkeys(ids))


def depends_on_list(depends_on: Any) -> list[Any]:
    if depends_on is None:
        return []
    if isinstance(depends_on, (list, tuple)):
        return list(depends_on)
    return [depends_on]


# -- Redis: what runs on the worker -----------------------------------------------------------

def call_with_parents(func_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``func_name(*args, **kwargs)`` with the placeholders replaced by the parents' results.

    Runs inside an RQ job (any RQ worker); a failed parent's value is its :class:`jobs.JobFailed`
    (the job was enqueued with ``allow_failure=True``, or it would not run).
    """
    from rq import get_current_job
    from rq.utils import import_attribute

    from .rq_format import dependencies

    job = get_current_job()
    if job is None:
        raise RuntimeError("call_with_parents runs inside an RQ job")
    ids = parent_ids_in((args, kwargs))
    values = dependencies.parent_values(job.connection, job.serializer, ids)
    func = import_attribute(func_name)
    rerun = False
    try:
        return func(*resolve(args, values), **resolve(kwargs, values))
    except BaseException:
        rerun = job.should_retry  # a retry reads the parents again: keep them
        raise
    finally:
        if not rerun:  # (a job lost mid-run reads them again, or recovery lets them go)
            dependencies.done_reading(job.connection, ids)


def propagate_failure(job: Any, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """RQ ``on_failure`` callback: fail the jobs waiting on ``job`` at once, down the chain.

    A job with retries left is not failed yet: nothing happens until its last try fails.
    """
    from .rq_format import dependencies

    if job.should_retry:
        return
    try:
        dependencies.propagate(connection, job.serializer, job.id, exc_type=exc_type.__name__, failures_only=True)
    except Exception:  # noqa: BLE001 - RQ would record a raising callback as the job's own failure
        logger.exception("job %s: could not fail the jobs waiting on it; the worker's release will", job.id)


# -- map over items that hold jobs ------------------------------------------------------------

def map_with_parents(backend: Backend, call: MapCall, ordered: bool) -> Iterator[Any]:
    """A map whose items hold jobs: one dependent job per item, results as ``map`` gives them."""
    from .options import JobOptions

    deadline = None if call.timeout is None else time.monotonic() + call.timeout
    handles = []
    for item in call.items:
        args = tuple(item) if call.star else (item,)
        new_args, new_kwargs, parents = extract_parents(args, {})
        ids = check_parents(backend, parents)
        job_id, keep = backend.submit(call.func, new_args, new_kwargs, JobOptions(parents=tuple(ids)))
        handles.append(Job(backend, job_id, keep))
    return _results(handles, deadline, ordered)


def _results(handles: list[Job], deadline: float | None, ordered: bool) -> Iterator[Any]:
    """Each job's value in item order (a valid order for ``imap_unordered`` too)."""
    for index, job in enumerate(handles):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            yield job.result(timeout=remaining)
        except ResultTimeout:
            raise ResultTimeout("the map did not finish within its timeout; its jobs go on") from None
        except JobFailed as exc:
            raise exc.at_index(index) from None
