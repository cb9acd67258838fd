"""JSON end to end, values JSON cannot carry, and stored jobs nobody can read.

A value the queue's serializer cannot carry is refused at enqueue, before anything is written.
A job whose stored payload cannot be decoded (garbage, truncated, another serializer) or whose
record cannot be loaded fails alone, with a reason in RQ's failed registry; the workers and the
supervisor go on with the other jobs. A plain RQ ``SimpleWorker`` is the baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import pytest
import redis
import rq
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

import jobs
from tests import jobs as job_functions
from tests.supervisor_helpers import ROOT

pytestmark = pytest.mark.redis


def supervise_burst(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workers", "supervise", "--url", url, "-n", "1", "--burst", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def unreadable_jobs(client: redis.Redis, *, record: bool = True) -> dict[str, str]:
    """Enqueue (with plain RQ, pickle) one job per way of being unreadable; {kind: job id}."""
    pickled = rq.Queue("default", connection=client)
    found = {}
    job = pickled.enqueue(job_functions.square, 3)
    client.hset(job.key, "data", b"not a payload at all")
    found["garbage"] = job.id
    job = pickled.enqueue(job_functions.square, 4)
    data = zlib.decompress(client.hget(job.key, "data"))
    client.hset(job.key, "data", zlib.compress(data[: len(data) // 2]))
    found["truncated"] = job.id
    found["json for pickle"] = rq.Queue("default", connection=client, serializer=JSONSerializer).enqueue(
        job_functions.square, 5).id
    if record:
        job = pickled.enqueue(job_functions.square, 6)
        client.hset(job.key, "timeout", b"soon")  # RQ cannot load this hash at all
        found["record"] = job.id
    return found


def test_a_json_queue_refuses_a_value_json_cannot_carry_before_writing_anything(redis_url, client):
    # Given a JSON queue on a real Redis with one job already queued
    with jobs.Queue(redis_url, serializer="json") as queue:
        queue.enqueue(job_functions.square, 2)
        before_keys, before_length = client.dbsize(), queue.backend.rq_queue.count
        # When a set, bytes or an object is enqueued, or mapped
        for call in (lambda: queue.enqueue(job_functions.square, {1, 2}),
                     lambda: queue.enqueue_call(job_functions.echo_kwargs, [], {"when": b"now"}),
                     lambda: queue.enqueue(job_functions.square, object()),
                     lambda: queue.map(job_functions.square, [1, 2, {3}])):
            # Then it is a SerializationError
            with pytest.raises(jobs.SerializationError, match="JSON serializable"):
                call()
        # And nothing was written: same queue length, same number of keys
        assert (client.dbsize(), queue.backend.rq_queue.count) == (before_keys, before_length)


def test_json_jobs_run_under_a_json_supervisor_and_carry_only_json(redis_url):
    # Given JSON jobs: a dict with a tuple in, a result JSON cannot carry
    with jobs.Queue(redis_url, serializer="json") as queue:
        echoed = queue.enqueue(job_functions.echo_kwargs, pair=(1, 2), text="é")
        squares = queue.imap(job_functions.square, [1, 2, 3])
        bad_result = queue.enqueue(job_functions.unpicklable_result)
        # When `workers supervise --serializer json --burst` runs them
        result = supervise_burst(redis_url, "--serializer", "json")
        assert result.returncode == 0, result.stderr
        # Then arguments and results went as JSON (the tuple came back a list)
        assert echoed.result(timeout=30) == {"pair": [1, 2], "text": "é"}
        assert list(squares) == [1, 4, 9]
        # And a result JSON cannot carry is a SerializationError (RQ stored only a placeholder)
        with pytest.raises(jobs.SerializationError, match="its result cannot be serialized with json"):
            bad_result.result(timeout=30)


def test_a_plain_rq_simple_worker_fails_undecodable_payloads_and_goes_on(redis_url, client):
    # Given undecodable payloads between two good jobs (the baseline: RQ's own worker)
    good = rq.Queue("default", connection=client).enqueue(job_functions.square, 2)
    bad = unreadable_jobs(client, record=False)  # a record RQ cannot load crashes this worker
    last = rq.Queue("default", connection=client).enqueue(job_functions.square, 7)
    # When a plain `rq worker -w SimpleWorker --burst` runs the queue
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "rq.cli", "worker", "-w", "rq.worker.SimpleWorker", "--url", redis_url,
                    "--burst"], env=env, cwd=ROOT, capture_output=True, timeout=120, check=True)
    # Then each bad job is in the failed registry with RQ's DeserializationError, the good ones ran
    failed = FailedJobRegistry("default", connection=client).get_job_ids()
    assert sorted(failed) == sorted(bad.values())
    for job_id in bad.values():
        assert "DeserializationError" in RQJob.fetch(job_id, connection=client).latest_result().exc_string
    assert (good.return_value(), last.return_value()) == (4, 49)


def test_the_supervisor_fails_each_unreadable_job_with_a_reason_and_runs_the_rest(redis_url, client):
    # Given undecodable payloads and an unloadable record between good jobs
    with jobs.Queue(redis_url) as queue:
        first = queue.enqueue(job_functions.square, 2)
        bad = unreadable_jobs(client)
        last = queue.enqueue(job_functions.square, 7)
        # When `workers supervise --burst` runs the queue
        result = supervise_burst(redis_url)
        # Then the supervisor and its one worker process finished normally (no death, no
        # restart), and the good jobs ran
        assert result.returncode == 0, result.stderr
        assert result.stderr.count(" started (pid ") == 1, result.stderr
        assert "died by signal" not in result.stderr and "exited with code" not in result.stderr
        assert (first.result(timeout=30), last.result(timeout=30)) == (4, 49)
        # And each bad job failed alone, in the failed registry, with a reason the client reads
        assert sorted(FailedJobRegistry("default", connection=client).get_job_ids()) == sorted(bad.values())
        reasons = {}
        for kind, job_id in bad.items():
            with pytest.raises(jobs.JobFailed) as caught:
                queue.job(job_id).result(timeout=30)
            assert caught.value.exc_type == "SerializationError"
            reasons[kind] = str(caught.value)
    for kind in ("garbage", "truncated", "json for pickle"):
        assert "its payload cannot be decoded with the pickle serializer" in reasons[kind]
        assert "--serializer pickle" in reasons[kind]
    assert "its record in Redis cannot be read" in reasons["record"]


def test_a_json_supervisor_fails_a_pickled_job_and_runs_the_json_ones(redis_url, client):
    # Given a pickled job among JSON jobs
    with jobs.Queue(redis_url, serializer="json") as queue:
        before = queue.enqueue(job_functions.square, 3)
        pickled = rq.Queue("default", connection=client).enqueue(job_functions.square, 4)
        after = queue.enqueue(job_functions.square, 5)
        # When a JSON supervisor runs them
        result = supervise_burst(redis_url, "--serializer", "json")
        # Then the JSON jobs ran and the pickled one failed, saying which serializer it needs
        assert result.returncode == 0, result.stderr
        assert (before.result(timeout=30), after.result(timeout=30)) == (9, 25)
        with pytest.raises(jobs.JobFailed, match="cannot be decoded with the json serializer"):
            queue.job(pickled.id).result(timeout=30)


def test_recovering_a_dead_workers_unreadable_job_fails_it_instead_of_crashing_the_supervisor(redis_url, client):
    from jobs.rq_format import keys
    from workers.recovery import recover_worker

    # Given a dead worker that held a good job and one whose record RQ cannot load
    queue = rq.Queue("default", connection=client)
    good, bad = queue.enqueue(job_functions.square, 2), queue.enqueue(job_functions.square, 3)
    client.hset(bad.key, "timeout", b"soon")
    for _ in range(2):
        client.lmove(queue.key, keys.held("dead-worker"), "LEFT", "RIGHT")
    # When its jobs are recovered (as the supervisor does after a SIGKILL, or for a lost host)
    events = recover_worker(client, "dead-worker", lost_job_id=None, reason="worker died by signal 9", max_losses=3)
    # Then the good job is back on the queue and the unreadable one failed with its reason
    assert [(e.job_id, e.action) for e in events] == [(good.id, "requeued"), (bad.id, "unreadable")]
    assert queue.job_ids == [good.id]
    assert FailedJobRegistry("default", connection=client).get_job_ids() == [bad.id]
    with jobs.Queue(redis_url) as client_queue, pytest.raises(jobs.JobFailed, match="record in Redis cannot be read"):
        client_queue.job(bad.id).result(timeout=10)
