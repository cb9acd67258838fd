"""The worker RQ's tests get in the ``batch`` mode: ``BatchWorker`` itself, with a count of its runs.

RQ's tests call ``worker.work(burst=True, ...)``; :meth:`BatchWorker.work`
(:mod:`workers.rq_entry`) takes RQ's arguments and runs the batched loop, as ``rq worker -w
workers.worker.BatchWorker`` does. ``runs`` lets the harness tell how many tests drove it.
"""

from __future__ import annotations

from typing import Any

from workers.worker import BatchWorker


class BatchWorkerAsRQ(BatchWorker):
    """``BatchWorker``; ``runs`` counts ``run()`` calls in this process."""

    runs = 0

    def run(self, *args: Any, **kwargs: Any) -> int:
        BatchWorkerAsRQ.runs += 1
        return super().run(*args, **kwargs)
