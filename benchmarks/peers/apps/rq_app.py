"""RQ: ``enqueue_many`` in one pipeline, each result read with ``latest_result`` (a blocking XREAD)."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job

from benchmarks.peers.apps.common import QUEUE, TIMEOUT_S, check
from benchmarks.peers.apps.plain import FUNCS

PACKAGE = "rq"


def _value(job: Job) -> Any:
    result = job.latest_result(timeout=int(TIMEOUT_S))  # RQ's XREAD takes whole seconds
    if result is None or result.type != result.Type.SUCCESSFUL:
        raise RuntimeError(f"RQ job {job.id} did not succeed within {TIMEOUT_S:.0f} s")
    return result.return_value


class Client:
    def __init__(self, url: str) -> None:
        self.connection = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S + 5)
        self.queue = Queue(QUEUE, connection=self.connection)

    def one(self, i: int) -> Any:
        return _value(self.queue.enqueue(FUNCS["noop"], i))

    def batch(self, kind: str, n: int) -> list[Any]:
        check(kind)
        data = [Queue.prepare_data(FUNCS[kind], (i,)) for i in range(n)]
        with self.connection.pipeline() as pipe:
            enqueued = self.queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()
        return [_value(job) for job in enqueued]

    def close(self) -> None:
        self.connection.close()
