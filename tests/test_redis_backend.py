"""redis:// writes ordinary RQ jobs, and checks everything before it writes anything."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import rq

import jobs
from tests.jobs import square

PASSWORD = "s3cret-marker-pw"


def _keys_and_queue(url: str, name: str = "default") -> tuple[int, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return client.dbsize(), client.llen(f"rq:queue:{name}")
    finally:
        client.close()


def test_jobs_are_ordinary_rq_jobs_that_rq_tools_read(redis_url):
    # Given a queue no worker reads
    with jobs.Queue(redis_url, "plain") as q:
        job = q.enqueue(square, 7)
        ids = [q.enqueue(square, i).id for i in range(3)]
        # Then RQ's own API sees the jobs as RQ wrote them
        rq_job = rq.job.Job.fetch(job.id, connection=q.backend.rq_queue.connection)
        assert rq_job.func_name == "tests.jobs.square"
        assert rq_job.args == (7,)
        assert rq_job.origin == "plain"
        assert rq.Queue("plain", connection=rq_job.connection).job_ids == [job.id, *ids]
    # And `rq info` lists the queue with its four jobs
    info = subprocess.run([sys.executable, "-m", "rq.cli", "info", "--url", redis_url, "plain"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert "plain" in info.stdout and "4" in info.stdout


def test_map_writes_ordinary_rq_jobs_in_one_batch(redis_url):
    from tests.jobs import noop

    with jobs.Queue(redis_url, "batch") as q:
        backend = q.backend
        ids = backend._enqueue_calls(square, "tests.jobs.square", [((i,), {}) for i in range(1500)])
        queue = rq.Queue("batch", connection=backend.rq_queue.connection)
        assert queue.count == 1500
        # A plain RQ worker runs them
        worker = rq.SimpleWorker([queue], connection=queue.connection)
        worker.work(burst=True, max_jobs=3)
        fetched = rq.job.Job.fetch(ids[2], connection=queue.connection)
        assert fetched.get_status() == "finished"
        assert fetched.return_value() == 4
        assert fetched.description == "tests.jobs.square(2)"
        del noop


def _unimportable(x):
    return x


_unimportable.__module__ = "__main__"
_unimportable.__qualname__ = "_unimportable"


@pytest.mark.parametrize("func, words", [
    (_unimportable, "defined in __main__"),
    (lambda x: x, "lambda"),
])
def test_a_function_a_worker_cannot_import_is_refused_and_nothing_is_written(redis_url, func, words):
    before = _keys_and_queue(redis_url)
    with jobs.Queue(redis_url) as q:
        with pytest.raises(jobs.SerializationError, match=words) as caught:
            q.enqueue(func, 1)
        assert "move it to a module" in str(caught.value)
        with pytest.raises(jobs.SerializationError):
            q.map(func, [1, 2])
    assert _keys_and_queue(redis_url) == before


def test_a_closure_is_refused(redis_url):
    def inner(x):
        return x

    with jobs.Queue(redis_url) as q:
        with pytest.raises(jobs.SerializationError, match="inside another function"):
            q.enqueue(inner, 1)


def test_an_unpicklable_argument_or_map_item_writes_nothing(redis_url):
    import threading

    before = _keys_and_queue(redis_url)
    with jobs.Queue(redis_url) as q:
        with pytest.raises(jobs.SerializationError):
            q.enqueue(square, threading.Lock())
        with pytest.raises(jobs.SerializationError, match="item 5"):
            q.map(square, [1, 2, 3, 4, 5, threading.Lock(), 7])
    assert _keys_and_queue(redis_url) == before


def test_a_redis_that_is_down_is_a_one_line_error_without_the_password():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with jobs.Queue(f"redis://user:{PASSWORD}@127.0.0.1:{port}/0") as q:
        assert PASSWORD not in repr(q) and PASSWORD not in q.url
        with pytest.raises(jobs.BackendUnavailable) as caught:
            q.enqueue(square, 1)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "start redis-server" in message
    assert "\n" not in message
    assert PASSWORD not in message


def test_a_redis_that_never_answers_fails_within_the_socket_timeout():
    # Given a port that accepts connections but never answers
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        with jobs.Queue(f"redis://127.0.0.1:{port}/0?socket_timeout=0.5") as q:
            # Then the call fails instead of hanging
            with pytest.raises(jobs.BackendUnavailable, match=f"127.0.0.1:{port}"):
                q.enqueue(square, 1)


def test_a_queued_job_can_be_canceled(redis_url):
    with jobs.Queue(redis_url, "nobody-reads-this") as q:
        job = q.enqueue(square, 2)
        assert job.status == "queued"
        assert job.cancel() is True
        assert job.status == "canceled"
        with pytest.raises(jobs.JobCanceled):
            job.result(timeout=10)


def test_a_wait_on_a_queue_without_workers_runs_out(redis_url):
    with jobs.Queue(redis_url, "nobody-reads-this") as q:
        job = q.enqueue(square, 2)
        with pytest.raises(jobs.ResultTimeout):
            job.result(timeout=0.2)
        assert job.status == "queued"
