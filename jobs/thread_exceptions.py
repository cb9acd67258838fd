"""Raise an exception in another thread: how a job running on a thread is timed out or stopped.

Only the main thread receives signals, so SIGALRM (RQ's death penalty, ``local://``'s timeout)
cannot stop a job on a worker thread. A watchdog instead asks the interpreter to raise the
exception in the job's thread (``PyThreadState_SetAsyncExc``, what ``threading``'s own tests and
Dramatiq's ``TimeLimit`` middleware use). It lands when that thread next runs Python code: a
job blocked in one C call (``time.sleep``, a socket read) sees it only when the call returns,
which is why each user of this also kills the worker process of a job stuck well past its
timeout.
"""

from __future__ import annotations

import ctypes

__all__ = ["raise_in_thread", "cancel_pending"]


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in thread ``thread_id`` the next time it runs Python code."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


def cancel_pending(thread_id: int) -> None:
    """Withdraw an exception :func:`raise_in_thread` sent that has not landed yet."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.c_void_p(0))
