"""The Lua scripts the workers run, read from ``scripts/*.lua`` at import, and their typed arguments.

A script's ARGV is positional text; :class:`ClaimArgs` builds it in one place and
:func:`claimed_rows` turns the reply into :class:`ClaimedJob` values, so no caller counts
positions.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rq.utils import now, utcformat

from . import keys


def _load(name: str, *preludes: str) -> str:
    """``scripts/<name>.lua``, after the ``preludes`` (shared Lua functions, ``scripts/_<prelude>.lua``)."""
    folder = resources.files(__package__).joinpath("scripts")
    parts = [folder.joinpath(f"_{p}.lua").read_text(encoding="utf-8") for p in preludes]
    return "\n".join([*parts, folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")])


#: Moves a batch of ids from the queues to the held list, marking each started (one round trip).
DEQUEUE_BATCH = _load("dequeue_batch", "start_job")
#: Marks one id that BLMOVE / BLMPOP already took as held and started.
MARK_STARTED = _load("mark_started", "start_job")
#: Writes a batch's successes (result streams, job hashes, expiries) in one command.
FINISH_JOBS = _load("finish_jobs")
FINISH_JOBS_SHA = hashlib.sha1(FINISH_JOBS.encode()).hexdigest()


@dataclass(frozen=True)
class ClaimArgs:
    """Who claims jobs, and until when their started-registry entries count as alive."""

    worker_name: str
    worker_key: str
    #: seconds a started-registry entry lives without a heartbeat
    entry_ttl_s: float
    #: the worker's queue and job key prefixes
    prefixes: keys.Prefixes = keys.RQ_PREFIXES
    #: the worker's supervisor ("" for none): a claim registers the worker under it
    supervisor_id: str = ""

    def argv(self, first: Any, interleave: bool = False) -> list[Any]:
        """ARGV of either script: ``first`` is the batch size (dequeue) or the job id (mark);
        ``interleave``: the dequeue takes one job per queue per pass (RQ's round_robin, random)."""
        return [first, self.worker_name, utcformat(now()), time.time() + self.entry_ttl_s, self.prefixes.queue,
                keys.STARTED_PREFIX, self.prefixes.job, self.worker_key, "1" if interleave else "0",
                self.supervisor_id, keys.SUPERVISORS, keys.supervisor_workers(self.supervisor_id)]


@dataclass(frozen=True)
class ClaimedJob:
    """One row of a script's reply: the job's queue, id and its hash (empty when it was deleted)."""

    queue_name: str
    job_id: str
    fields: dict[bytes, bytes]


def claimed_rows(reply: list[Any]) -> list[ClaimedJob]:
    return [ClaimedJob(qname.decode(), job_id.decode(), dict(zip(flat[::2], flat[1::2])))
            for qname, job_id, flat in reply if job_id]


def skipped_queues(reply: list[Any], prefixes: keys.Prefixes = keys.RQ_PREFIXES) -> set[str]:
    """The queue keys the dequeue skipped because they are not lists (garbage where a queue should be)."""
    return {prefixes.queue + qname.decode() for qname, job_id, _ in reply if not job_id}
