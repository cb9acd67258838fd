"""Enqueue many RQ jobs in a few round trips.

RQ's ``enqueue_many`` builds a full :class:`rq.job.Job` per item. Here RQ builds one job, and
its own ``to_dict()`` gives the hash every job of the batch shares; each item then only needs
its id, its call data and its description. The hashes and one ``RPUSH`` of all ids go in a
MULTI/EXEC, so the queue holds exactly what RQ itself would have written, and a connection lost
mid-way (Redis restarting) leaves each batch of :data:`BATCH` jobs whole or absent, never a job
hash without its queue entry.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import rq
from rq.utils import get_call_string, now, utcformat

from ..serializers import check_dumps

#: Jobs per pipeline round trip.
BATCH = 1000


def prepare_calls(serializer: Any, func_name: str, calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
                  first_index: int = 0) -> list[bytes]:
    """Each call's compressed RQ ``data`` field; :class:`SerializationError` names the bad item."""
    dumps = serializer.dumps
    blobs = []
    for offset, (args, kwargs) in enumerate(calls):
        try:
            data = dumps((func_name, None, args, kwargs))
        except Exception:  # noqa: BLE001 - redo through check_dumps for the message
            data = check_dumps(serializer, (args, kwargs), f"item {first_index + offset} of the map")
        blobs.append(zlib.compress(data))
    return blobs


def enqueue_prepared(queue: rq.Queue, template_job: rq.job.Job, func_name: str,
                     calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]], blobs: Sequence[bytes],
                     describe: bool = True) -> list[str]:
    """Write one RQ job per call (data already prepared) and push them all on ``queue``."""
    stamp = utcformat(now())
    template = template_job.to_dict()
    template["created_at"] = template["enqueued_at"] = stamp
    template["status"] = rq.job.JobStatus.QUEUED.value
    key_for = queue.job_class.key_for
    ids: list[str] = []
    connection = queue.connection
    for start in range(0, len(blobs), BATCH):
        pipe = connection.pipeline(transaction=True)
        pipe.sadd(queue.redis_queues_keys, queue.key)
        batch_ids = []
        for offset in range(start, min(start + BATCH, len(blobs))):
            job_id = uuid.uuid4().hex
            mapping = dict(template)
            mapping["data"] = blobs[offset]
            if describe:
                args, kwargs = calls[offset]
                mapping["description"] = get_call_string(func_name, args, kwargs, max_length=75) or ""
            pipe.hset(key_for(job_id), mapping=mapping)
            batch_ids.append(job_id)
        pipe.rpush(queue.key, *batch_ids)
        pipe.execute()
        ids += batch_ids
    return ids
