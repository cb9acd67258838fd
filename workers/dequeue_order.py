"""RQ's dequeue strategies for a batch: in which order one claim visits the worker's queues.

- ``default``: the queues' priority order; each is emptied (up to the batch size) before the next.
- ``round_robin``: one job from each queue in turn; the next claim starts after the queue the
  last job came from, as RQ's worker moves that queue to the back after each job.
- ``random``: one job from each queue in turn, the queues shuffled for every claim (RQ shuffles
  them before each job).

The claim itself stays one atomic script call (``jobs/rq_format/scripts/dequeue_batch.lua``);
only the order of its keys and its interleave flag change.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from rq.worker import DequeueStrategy

from jobs.errors import ConfigError

STRATEGIES = tuple(s.value for s in DequeueStrategy)


def strategy_of(value: DequeueStrategy | str) -> DequeueStrategy:
    """``value`` as RQ's enum; a clear error naming the choices otherwise."""
    try:
        return DequeueStrategy(value)
    except ValueError:
        raise ConfigError(f"dequeue strategy {value!r} is not one of {', '.join(STRATEGIES)}") from None


class QueueOrder:
    """The order of the queue keys for the next claim, and whether it takes one job per queue per pass."""

    def __init__(self, queue_keys: Sequence[str], strategy: DequeueStrategy | str = DequeueStrategy.DEFAULT) -> None:
        self._keys = list(queue_keys)
        self.strategy = strategy_of(strategy)
        self._start = 0

    @property
    def interleave(self) -> bool:
        return self.strategy is not DequeueStrategy.DEFAULT

    def keys(self) -> list[str]:
        if self.strategy is DequeueStrategy.RANDOM:
            return random.sample(self._keys, len(self._keys))
        if self.strategy is DequeueStrategy.ROUND_ROBIN:
            return self._keys[self._start:] + self._keys[:self._start]
        return list(self._keys)

    def took_last_from(self, queue_key: str) -> None:
        """Round robin: the next claim starts at the queue after ``queue_key``."""
        if self.strategy is DequeueStrategy.ROUND_ROBIN and queue_key in self._keys:
            self._start = (self._keys.index(queue_key) + 1) % len(self._keys)
