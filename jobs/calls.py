"""Job functions that ``jobs.Pool`` and ``jobs.Executor`` wrap around the user's, run by the worker.

They live in an importable module so a Redis worker finds them by name (it needs jobfleet
installed, as for a chunked ``map``). The user's functions travel as references made by
:func:`ref`: a dotted name where one exists (so a function of ``python -m pkg.mod``'s
``__main__`` reaches a Redis worker as ``pkg.mod.f``), else the object itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rq.utils import import_attribute

from .errors import SerializationError
from .functions import importable_name

__all__ = ["ref", "load", "call", "run_initialized", "run_star_chunk"]

#: Tokens of the pools whose initializer already ran in this worker process.
_initialized: set[str] = set()


def ref(func: Callable[..., Any], *, by_value_ok: bool) -> Any:
    """What travels for ``func``: its importable dotted name, or (``by_value_ok``: a forked
    ``local://`` worker) the object when it has none. Raises :class:`jobs.SerializationError`
    for a Redis worker that could not import it."""
    try:
        return importable_name(func) or func
    except SerializationError:
        if by_value_ok:
            return func
        raise


def load(reference: Any) -> Any:
    return import_attribute(reference) if isinstance(reference, str) else reference


def run_initialized(token: str, initializer: Any, initargs: tuple[Any, ...], func: Any, *args: Any, **kwargs: Any) -> Any:
    """In the worker: the pool's ``initializer(*initargs)`` once per process (per pool ``token``),
    then ``func(*args, **kwargs)``. An initializer that raises fails this task and runs again
    before the next one."""
    if token not in _initialized:
        load(initializer)(*initargs)
        _initialized.add(token)
    return load(func)(*args, **kwargs)


def call(func: Any, *args: Any) -> Any:
    """``func(*args)``: a Redis ``map`` over a callable that has no importable name (a class such
    as ``int``, a bound method), which travels by value as the first argument."""
    return load(func)(*args)


def run_star_chunk(func: Any, chunk: Iterable[tuple[Any, ...]]) -> list[Any]:
    """``[func(*args) for args in chunk]``: one job for ``Executor.map(..., chunksize=N)``."""
    function = load(func)
    return [function(*args) for args in chunk]
