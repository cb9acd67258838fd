"""Functions that must travel to another process: check and ship them.

A Redis worker finds a job's function by its dotted name, so the function must be importable
there: defined at the top level of a module, not in ``__main__``, not a lambda or a closure.
A ``local://`` worker is a fork of this process, so it also takes functions defined anywhere:
those are shipped by value with cloudpickle.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import sys
from collections.abc import Callable
from typing import Any

import cloudpickle

from .errors import ConfigError, SerializationError

__all__ = ["check_callable", "importable_name", "dumps_function"]


def check_callable(func: object) -> None:
    if not callable(func):
        raise ConfigError(f"the job function must be callable, not {type(func).__name__} {func!r:.60}")


def _label(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def importable_name(func: Callable[..., Any]) -> str | None:
    """The dotted name a worker will import ``func`` by, or :class:`SerializationError`.

    Returns None for callables RQ carries by value (bound methods, callable instances): RQ
    pickles their instance with the job.
    """
    check_callable(func)
    if inspect.ismethod(func) or not (inspect.isfunction(func) or inspect.isbuiltin(func) or inspect.isclass(func)):
        return None  # a class (``int``, ``str``) goes by name, as a function does
    module = getattr(func, "__module__", None)
    qualname = _label(func)
    hint = "move it to a module (e.g. tasks.py) at top level and import it from there"
    if func.__name__ == "<lambda>":
        raise SerializationError(f"a lambda cannot run on a Redis worker, which imports jobs by name: {hint}")
    if "<locals>" in qualname:
        raise SerializationError(f"{qualname} is defined inside another function, so a Redis worker cannot import it: {hint}")
    if module in ("__main__", "__mp_main__") and (name := _main_module_name(func, qualname)):
        return name
    if module in (None, "__main__", "__mp_main__"):
        raise SerializationError(f"{qualname} is defined in __main__ (the script you ran), so a Redis worker cannot import it: {hint}")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise SerializationError(f"{module}.{qualname} cannot be imported back ({exc}): {hint}") from exc
    if found is not func and getattr(found, "__wrapped__", None) is not func:
        raise SerializationError(f"{module}.{qualname} imports as a different object (shadowed or decorated?): {hint}")
    return f"{module}.{qualname}"


def _main_module_name(func: Callable[..., Any], qualname: str) -> str | None:
    """``python -m examples.hello`` runs the module as ``__main__``; a worker imports it as
    ``examples.hello`` (without running its ``if __name__ == "__main__"`` block), as
    ``multiprocessing``'s spawn does. A script run by path has no such name: None."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if not name or name == "__main__" or getattr(main, qualname, None) is not func:
        return None
    return f"{name}.{qualname}"


def dumps_function(func: Callable[..., Any]) -> bytes:
    """Bytes a forked ``local://`` worker turns back into ``func``.

    Importable functions go by reference (cheap, and the worker imports the module); anything
    else — ``__main__`` functions, lambdas, closures — by value through cloudpickle.
    """
    check_callable(func)
    module = getattr(func, "__module__", None)
    if module not in (None, "__main__", "__mp_main__") and "<" not in _label(func):
        try:
            return pickle.dumps(func, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            pass
    try:
        return cloudpickle.dumps(func, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # cloudpickle raises many types for what it cannot carry
        raise SerializationError(f"the job function {_label(func)} cannot be sent to a worker process: {exc}") from exc
