"""Run a chunk of a Redis ``map`` as one RQ job: ``q.map(f, items, chunksize=100)``.

A chunk job calls ``jobs.chunks.run_chunk``, so the worker needs jobfleet installed (a
``workers supervise`` always has it; a plain ``rq worker`` needs ``pip install jobfleet``).
"""

from __future__ import annotations

from typing import Any

from rq.utils import import_attribute

from .errors import JobFailed


class ChunkItemFailed(Exception):
    """Raised in the worker: item ``index`` of the chunk raised; the text keeps its traceback."""


def run_chunk(func_name: str, items: list[Any], star: bool = False) -> list[Any]:
    """``[func(item) ...]`` for one chunk; a failing item is reported with its index."""
    import traceback

    func = import_attribute(func_name)
    results = []
    for index, item in enumerate(items):
        try:
            results.append(func(*item) if star else func(item))
        except Exception as exc:
            raise ChunkItemFailed(f"{index}|{type(exc).__name__}|{exc}\n{traceback.format_exc()}") from exc
    return results


def failed_item(error: JobFailed, first_index: int) -> JobFailed:
    """The map-level error for a failed chunk: names the failing item's index in the whole map."""
    text = error.remote_traceback
    marker = "ChunkItemFailed: "
    at = text.rfind(marker)
    if at < 0:
        return error.at_index(first_index)
    index_text, exc_type, message = (text[at + len(marker):].split("\n", 1)[0].split("|", 2) + ["", ""])[:3]
    index = first_index + int(index_text) if index_text.isdigit() else first_index
    return JobFailed(f"item {index}: {exc_type}: {message}", job_id=error.job_id, exc_type=exc_type,
                     remote_traceback=text, index=index)
