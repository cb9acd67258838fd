"""Run a chunk of a Redis ``map`` as one RQ job: ``q.map(f, items, chunksize=100)``.

A chunk job calls ``jobs.chunks.run_chunk``, so the worker needs jobfleet installed (a
``workers supervise`` always has it; a plain ``rq worker`` needs ``pip install jobfleet``).
When an item raises, the chunk records which one in the job's meta (a typed
:class:`~jobs.rq_format.markers.Failure`, written by the job itself so it works under any RQ
worker), and the client raises :class:`jobs.JobFailed` naming the item's index in the map.
"""

from __future__ import annotations

from typing import Any

from rq.job import get_current_job
from rq.utils import import_attribute

from .errors import JobFailed
from .rq_format import markers


class ChunkItemFailed(Exception):
    """Raised in the worker: item ``index`` of the chunk raised ``error`` (the chained cause)."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"item {index} of the chunk: {type(error).__name__}: {error}")
        self.index = index
        self.error = error


def run_chunk(func_name: str, items: list[Any], star: bool = False) -> list[Any]:
    """``[func(item) ...]`` for one chunk; a failing item is reported with its index."""
    func = import_attribute(func_name)
    results = []
    for index, item in enumerate(items):
        try:
            results.append(func(*item) if star else func(item))
        except Exception as exc:
            _record(markers.chunk_item(index, exc))
            raise ChunkItemFailed(index, exc) from exc
    return results


def _record(marker: markers.Failure) -> None:
    job = get_current_job()
    if job is None:  # called outside a worker (a test calling run_chunk directly)
        return
    job.meta[markers.FAILURE] = marker.to_meta()
    job.save_meta()


def failed_item(error: JobFailed, first_index: int) -> JobFailed:
    """The map-level error for a failed chunk: names the failing item's index in the whole map."""
    if error.index is None:  # the chunk as a whole failed (lost, timed out): its first item
        return error.at_index(first_index)
    index = first_index + error.index
    return JobFailed(f"item {index}: {error}", job_id=error.job_id, exc_type=error.exc_type,
                     remote_traceback=error.remote_traceback, index=index, exception=error.exception)
