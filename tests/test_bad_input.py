"""Every row of docs/errors.md: the bad input, its exact message, and nothing written.

Each row runs against a fakeredis queue that already holds a queued, a finished and a failed
job; after the error, every key (the queue, the job hashes, RQ's registries, result streams)
must be exactly as before. A second test checks that docs/errors.md shows each row.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest

import jobs
from tests import jobs as job_functions
from tests.jobs import square

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


class Row(NamedTuple):
    shown: str  # the call as docs/errors.md shows it
    call: Callable[[jobs.Queue, jobs.Queue], Any]  # (pickle queue, json queue) -> raises
    error: type[Exception]
    message: str


U = "redis://h/0"
ROWS = [
    # -- URLs ---------------------------------------------------------------------------------
    Row('Queue("http://localhost")', lambda q, j: jobs.Queue("http://localhost"), jobs.ConfigError,
        "unsupported queue URL 'http://localhost': valid schemes are local://[N], redis://host:port/db, "
        "rediss://host:port/db, unix:///path.sock, fakeredis://, redis+sentinel://host:port[,host:port]/service_name"),
    Row("Queue(6379)", lambda q, j: jobs.Queue(6379), jobs.ConfigError,
        "the queue URL must be a string such as 'local://4', not int; valid: local://[N], redis://host:port/db, "
        "rediss://host:port/db, unix:///path.sock, fakeredis://, redis+sentinel://host:port[,host:port]/service_name"),
    Row('Queue("local://0")', lambda q, j: jobs.Queue("local://0"), jobs.ConfigError,
        "bad local URL 'local://0': write local:// (one process per CPU) or local://N with N a whole number from 1 to 1024"),
    Row('Queue("local://²")', lambda q, j: jobs.Queue("local://²"), jobs.ConfigError,
        "bad local URL 'local://²': write local:// (one process per CPU) or local://N with N a whole number from 1 to 1024"),
    Row('Queue("redis://h:0/0")', lambda q, j: jobs.Queue("redis://h:0/0"), jobs.ConfigError,
        "bad Redis URL 'redis://h:0/0': port must be 1-65535"),
    Row('Queue("redis:///0")', lambda q, j: jobs.Queue("redis:///0"), jobs.ConfigError,
        "bad Redis URL 'redis:///0': it names no host; write redis://localhost:6379/0"),
    Row('Queue("redis://h/zero")', lambda q, j: jobs.Queue("redis://h/zero"), jobs.ConfigError,
        "bad Redis URL 'redis://h/zero': the path is the database number, as in redis://host:6379/0"),
    Row('Queue("redis://my host/0")', lambda q, j: jobs.Queue("redis://my host/0"), jobs.ConfigError,
        "bad Redis URL 'redis://my host/0': 'my host' is not a host name or IP address"),
    Row('Queue("redis://h/0?socket_timeout=soon")', lambda q, j: jobs.Queue(U + "?socket_timeout=soon"),
        jobs.ConfigError, "bad Redis URL 'redis://h/0?socket_timeout=soon': Invalid value for 'socket_timeout' in connection URL."),
    Row('Queue("redis://h/0?socket_timeout=0")', lambda q, j: jobs.Queue(U + "?socket_timeout=0"), jobs.ConfigError,
        "bad Redis URL 'redis://h/0?socket_timeout=0': socket_timeout must be a positive, finite number of seconds, not '0'"),
    Row('Queue("redis://h/0?timeout=5")', lambda q, j: jobs.Queue(U + "?timeout=5"), jobs.ConfigError,
        "bad Redis URL 'redis://h/0?timeout=5': unknown option 'timeout'; the options are client_name, db, "
        "health_check_interval, max_connections, password, protocol, retry_on_timeout, socket_connect_timeout, "
        "socket_keepalive, socket_timeout, username"),
    Row('Queue("redis://h/0?protocol=4")', lambda q, j: jobs.Queue(U + "?protocol=4"), jobs.ConfigError,
        "bad Redis URL 'redis://h/0?protocol=4': protocol must be one of 2, 3, not '4'"),
    Row('Queue("redis://:s3cret@h/0?max_connections=0")', lambda q, j: jobs.Queue("redis://:s3cret@h/0?max_connections=0"),
        jobs.ConfigError, "bad Redis URL 'redis://:***@h/0?max_connections=0': max_connections must be a whole number from 1 up, not '0'"),
    Row('Queue("redis://h/0?ssl_ca_certs=/etc/ca.pem")', lambda q, j: jobs.Queue(U + "?ssl_ca_certs=/etc/ca.pem"),
        jobs.ConfigError, "bad Redis URL 'redis://h/0?ssl_ca_certs=/etc/ca.pem': ssl_ca_certs is a TLS option: use rediss:// for a TLS connection"),
    Row('Queue("rediss://h/0?ssl_cert_reqs=maybe")', lambda q, j: jobs.Queue("rediss://h/0?ssl_cert_reqs=maybe"),
        jobs.ConfigError, "bad Redis URL 'rediss://h/0?ssl_cert_reqs=maybe': ssl_cert_reqs must be one of none, optional, required, not 'maybe'"),
    Row('Queue("rediss://h/0?ssl_ca_certs=/no/ca.pem")', lambda q, j: jobs.Queue("rediss://h/0?ssl_ca_certs=/no/ca.pem"),
        jobs.ConfigError, "bad Redis URL 'rediss://h/0?ssl_ca_certs=/no/ca.pem': ssl_ca_certs must be the path of a readable "
        "file (this one does not exist here), not '/no/ca.pem'"),
    Row('Queue("unix://")', lambda q, j: jobs.Queue("unix://"), jobs.ConfigError,
        "bad Redis URL 'unix://': it names no socket; write unix:///path/to/redis.sock"),
    Row('Queue("redis+sentinel://h/jobs")', lambda q, j: jobs.Queue('redis+sentinel://h/jobs'), jobs.ConfigError,
        "bad Sentinel URL 'redis+sentinel://h/jobs': 'h' is not host:port (each sentinel needs its port, e.g. 26379); write redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]"),
    Row('Queue("redis+sentinel://:s3cret@h:26379")', lambda q, j: jobs.Queue('redis+sentinel://:s3cret@h:26379'), jobs.ConfigError,
        "bad Sentinel URL 'redis+sentinel://:***@h:26379': it names no service (the name the sentinels monitor); write redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]"),
    Row('Queue("redis+sentinel://h:26379/jobs/zero")', lambda q, j: jobs.Queue('redis+sentinel://h:26379/jobs/zero'), jobs.ConfigError,
        "bad Sentinel URL 'redis+sentinel://h:26379/jobs/zero': after the service name comes only the database number; write redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]"),
    Row('Queue("redis://h/0?wait_replicas=0")', lambda q, j: jobs.Queue('redis://h/0?wait_replicas=0'), jobs.ConfigError,
        "bad Redis URL 'redis://h/0?wait_replicas=0': wait_replicas must be a whole number from 1 up (replicas to wait for)"),
    # -- Queue options ------------------------------------------------------------------------
    Row('Queue("fakeredis://", "my queue")', lambda q, j: jobs.Queue("fakeredis://", "my queue"), jobs.ConfigError,
        "queue name must be 1-128 letters, digits or _.:- characters, not 'my queue'"),
    Row('Queue("fakeredis://", "jobs\\n")', lambda q, j: jobs.Queue("fakeredis://", "jobs\n"), jobs.ConfigError,
        "queue name must be 1-128 letters, digits or _.:- characters, not 'jobs\\n'"),
    Row('Queue("fakeredis://", serializer="yaml")', lambda q, j: jobs.Queue("fakeredis://", serializer="yaml"),
        jobs.ConfigError, "unknown serializer 'yaml': use one of 'pickle', 'json'"),
    # -- enqueue / enqueue_call ---------------------------------------------------------------
    Row("q.enqueue(42)", lambda q, j: q.enqueue(42), jobs.ConfigError, "the job function must be callable, not int 42"),
    Row("q.enqueue(lambda: 1)", lambda q, j: q.enqueue(lambda: 1), jobs.SerializationError,
        "a lambda cannot run on a Redis worker, which imports jobs by name: move it to a module (e.g. tasks.py) "
        "at top level and import it from there"),
    Row("q.enqueue(square, threading.Lock())", lambda q, j: q.enqueue(square, threading.Lock()), jobs.SerializationError,
        "the arguments of square cannot be serialized: TypeError: cannot pickle '_thread.lock' object"),
    Row('Queue(url, serializer="json").enqueue(square, {1, 2})', lambda q, j: j.enqueue(square, {1, 2}),
        jobs.SerializationError, "the arguments of square cannot be serialized: TypeError: Object of type set is not JSON serializable"),
    Row('Queue(url, serializer="json").enqueue(square, b"x")', lambda q, j: j.enqueue(square, b"x"),
        jobs.SerializationError, "the arguments of square cannot be serialized: TypeError: Object of type bytes is not JSON serializable"),
    Row('q.enqueue_call(square, "ab")', lambda q, j: q.enqueue_call(square, "ab"), jobs.ConfigError,
        "args must be a list or tuple of positional arguments, not str"),
    Row("q.enqueue_call(square, [], {1: 2})", lambda q, j: q.enqueue_call(square, [], {1: 2}), jobs.ConfigError,
        "kwargs must be a dict of keyword arguments with str keys, not a dict with the key 1"),
    Row("q.enqueue_call(square, [2], timeout=0)", lambda q, j: q.enqueue_call(square, [2], timeout=0), jobs.ConfigError,
        "timeout must be a positive number of seconds up to 2147483647, not 0"),
    Row('q.enqueue_call(square, [2], timeout="10")', lambda q, j: q.enqueue_call(square, [2], timeout="10"),
        jobs.ConfigError, "timeout must be a positive number of seconds up to 2147483647, not '10'"),
    Row("q.enqueue_call(square, [2], result_ttl=1e300)", lambda q, j: q.enqueue_call(square, [2], result_ttl=1e300),
        jobs.ConfigError, "result_ttl must be a positive number of seconds up to 2147483647, not 1e+300"),
    Row('q.enqueue_call(square, [2], failure_ttl=float("nan"))',
        lambda q, j: q.enqueue_call(square, [2], failure_ttl=float("nan")), jobs.ConfigError,
        "failure_ttl must be a positive number of seconds up to 2147483647, not nan"),
    Row("q.enqueue_call(square, [2], retries=-1)", lambda q, j: q.enqueue_call(square, [2], retries=-1), jobs.ConfigError,
        "retries must be a whole number from 0 to 1000, not -1"),
    Row("q.enqueue_call(square, [2], retries=True)", lambda q, j: q.enqueue_call(square, [2], retries=True),
        jobs.ConfigError, "retries must be a whole number from 0 to 1000, not True"),
    Row('q.enqueue_call(square, [2], retry_interval="5")', lambda q, j: q.enqueue_call(square, [2], retry_interval="5"),
        jobs.ConfigError, "retry_interval must be seconds from 0 to 2147483647 (or a list of them), not '5'"),
    Row("q.enqueue_call(square, [2], retry_interval=[])", lambda q, j: q.enqueue_call(square, [2], retry_interval=[]),
        jobs.ConfigError, "retry_interval must not be an empty list"),
    Row('q.enqueue_call(square, [2], job_id="my job")', lambda q, j: q.enqueue_call(square, [2], job_id="my job"),
        jobs.ConfigError, "job_id must be 1-200 letters, digits or _.:- characters, not 'my job'"),
    Row('q.enqueue_call(square, [2], job_id="queued-1")  # an id in use',
        lambda q, j: q.enqueue_call(square, [2], job_id="queued-1"), jobs.ConfigError,
        "a job with id 'queued-1' already exists at fakeredis: choose another job_id, or get the existing one with q.job('queued-1')"),
    Row("q.enqueue_call(square, [2], description=7)", lambda q, j: q.enqueue_call(square, [2], description=7),
        jobs.ConfigError, "description must be a string, not int"),
    Row('q.enqueue_call(square, [2], description="\\ud800")', lambda q, j: q.enqueue_call(square, [2], description="\ud800"),
        jobs.ConfigError, "description must be text that UTF-8 can carry: it holds a lone surrogate (\\ud800-\\udfff)"),
    Row("q.enqueue_call(square, [2], max_losses=0)", lambda q, j: q.enqueue_call(square, [2], max_losses=0),
        jobs.ConfigError, "max_losses must be a whole number from 1 to 1000, not 0"),
    # -- later and recurring jobs -------------------------------------------------------------
    Row("q.enqueue_in(-1, square, 2)", lambda q, j: q.enqueue_in(-1, square, 2), jobs.ConfigError,
        "the delay must be seconds from 0 to 2147483647 or a timedelta, not -1"),
    Row("q.enqueue_at(1700000000, square, 2)", lambda q, j: q.enqueue_at(1700000000, square, 2), jobs.ConfigError,
        "enqueue_at needs a datetime (a naive one is local time), not int"),
    Row('q.schedule("my report", square, [2], every=60)', lambda q, j: q.schedule("my report", square, [2], every=60),
        jobs.ConfigError, "schedule name must be 1-128 letters, digits or _.:- characters, not 'my report'"),
    Row('q.schedule("report", square, [2])', lambda q, j: q.schedule("report", square, [2]), jobs.ConfigError,
        "a schedule needs exactly one of every= (seconds) or cron= (five cron fields)"),
    Row('q.schedule("report", square, [2], every=0.5)', lambda q, j: q.schedule("report", square, [2], every=0.5),
        jobs.ConfigError, "every must be a number of seconds from 1 to 2147483647, not 0.5"),
    Row('q.schedule("report", square, [2], cron="0 25 * * *")',
        lambda q, j: q.schedule("report", square, [2], cron="0 25 * * *"), jobs.ConfigError,
        "bad cron '0 25 * * *': the hour field '25' is not valid (0-23, *, ranges a-b, lists a,b and steps */n)"),
    Row('q.schedule("report", square, [2], cron="0 3 * *")',
        lambda q, j: q.schedule("report", square, [2], cron="0 3 * *"), jobs.ConfigError,
        "bad cron '0 3 * *': a cron rule has five fields (minute hour day-of-month month day-of-week), this one has 4"),
    Row('q.schedule("report", square, [2], cron="0 0 30 2 *")',
        lambda q, j: q.schedule("report", square, [2], cron="0 0 30 2 *"), jobs.ConfigError,
        "bad cron '0 0 30 2 *': it matches no date (e.g. February 30th)"),
    Row('q.schedule("report", lambda: 1, every=60)', lambda q, j: q.schedule("report", lambda: 1, every=60),
        jobs.SerializationError, "a lambda cannot run on a Redis worker, which imports jobs by name: move it to a module "
        "(e.g. tasks.py) at top level and import it from there"),
    Row('q.schedule("report", square, [threading.Lock()], every=60)',
        lambda q, j: q.schedule("report", square, [threading.Lock()], every=60), jobs.SerializationError,
        "the arguments of schedule 'report' cannot be serialized with pickle: TypeError: cannot pickle '_thread.lock' object"),
    # -- workflows ----------------------------------------------------------------------------
    Row('q.enqueue_call(square, [2], depends_on="no-such-id")',
        lambda q, j: q.enqueue_call(square, [2], depends_on="no-such-id"), jobs.JobNotFound,
        "cannot wait for job 'no-such-id': it is gone from fakeredis (never enqueued, or its record expired); "
        "nothing was enqueued"),
    Row("q.enqueue_call(square, [2], depends_on=7)", lambda q, j: q.enqueue_call(square, [2], depends_on=7),
        jobs.ConfigError, "depends_on takes jobs or job ids, not int 7"),
    Row('q.enqueue_call(square, [2], allow_failure="yes")',
        lambda q, j: q.enqueue_call(square, [2], allow_failure="yes"), jobs.ConfigError,
        "allow_failure must be True or False, not 'yes'"),
    # -- map ----------------------------------------------------------------------------------
    Row("q.map(square, 5)", lambda q, j: q.map(square, 5), jobs.ConfigError, "map needs an iterable of items, not int"),
    Row("q.map(square, [1, 2], chunksize=0)", lambda q, j: q.map(square, [1, 2], chunksize=0), jobs.ConfigError,
        "chunksize must be a whole number >= 1, not 0"),
    Row("q.map(square, [1, 2], timeout=-1)", lambda q, j: q.map(square, [1, 2], timeout=-1), jobs.ConfigError,
        "timeout must be a positive number of seconds up to 2147483647, not -1"),
    Row('q.map(square, [1, 2], progress="yes")', lambda q, j: q.map(square, [1, 2], progress="yes"), jobs.ConfigError,
        "progress must be True or False, not 'yes'"),
    Row("jobs.report_progress(-1)", lambda q, j: jobs.report_progress(-1), jobs.ConfigError,
        "report_progress: done must be a finite number >= 0, not -1"),
    Row('jobs.report_progress(1, 2, message=3)', lambda q, j: jobs.report_progress(1, 2, message=3), jobs.ConfigError,
        "report_progress: message must be a str or None, not int"),
    Row('Queue(url, serializer="json").map(square, [1, {2}])', lambda q, j: j.map(square, [1, {2}]),
        jobs.SerializationError, "item 1 of the map cannot be serialized with json: TypeError: Object of type set is not "
        "JSON serializable (JSON carries only dicts, lists, strings, numbers, booleans and None)"),
    # -- lookups ------------------------------------------------------------------------------
    Row('q.job("no-such-id")', lambda q, j: q.job("no-such-id"), jobs.JobNotFound,
        "no job 'no-such-id' on queue 'default' at fakeredis://bad-input"),
]


def snapshot(client) -> dict[bytes, object]:
    """Every key with its type and whole value: the queue, job hashes, registries, result streams."""
    readers = {b"list": lambda k: client.lrange(k, 0, -1), b"hash": client.hgetall, b"set": client.smembers,
               b"zset": lambda k: client.zrange(k, 0, -1, withscores=True), b"string": client.get,
               b"stream": lambda k: client.xrange(k)}
    return {key: (kind, readers[kind](key)) for key in client.keys("*") for kind in [client.type(key)]
            if kind != b"none"}  # (a key that expired between KEYS and TYPE)


@pytest.fixture
def queues():
    """A pickle and a JSON queue on one fresh fakeredis holding a queued, a finished and a failed job."""
    name = "bad-input"
    url = f"fakeredis://{name}"
    from jobs.urls import _fake_servers

    _fake_servers.pop(name, None)  # a fresh server for every row
    with jobs.Queue(url) as pickled, jobs.Queue(url, serializer="json") as as_json:
        finished = pickled.enqueue(job_functions.square, 3)
        failed = pickled.enqueue(job_functions.fail, "on purpose")
        assert finished.result(timeout=10) == 9
        with pytest.raises(jobs.JobFailed):
            failed.result(timeout=10)
        pickled.enqueue_call(job_functions.square, [4], job_id="queued-1")
        yield pickled, as_json
    _fake_servers.pop(name, None)


@pytest.mark.parametrize("row", ROWS, ids=[row.shown for row in ROWS])
def test_each_bad_input_is_refused_with_its_documented_message_and_nothing_written(queues, row):
    # Given a queue that already holds a queued, a finished and a failed job
    pickled, as_json = queues
    client = pickled.backend.rq_queue.connection
    before = snapshot(client)
    assert pickled.backend.rq_queue.count == 1 and len(before) > 5
    # When the bad input is given
    with pytest.raises(row.error) as caught:
        row.call(pickled, as_json)
    # Then the error is the documented one, word for word
    assert type(caught.value) is row.error
    assert str(caught.value) == row.message
    # And the queue, the jobs and every registry are exactly as before
    assert snapshot(client) == before


#: (the command line as docs/errors.md shows it, the last line of stderr); every one exits 2.
CLI_ROWS = [
    ("workers supervise --url http://h/0",
     "workers: error: unsupported queue URL 'http://h/0': valid schemes are local://[N], redis://host:port/db, "
     "rediss://host:port/db, unix:///path.sock, fakeredis://, redis+sentinel://host:port[,host:port]/service_name"),
    ("workers supervise --url fakeredis://",
     "workers: error: 'fakeredis://' is not a Redis URL: workers need redis://, rediss://, unix:// or redis+sentinel://"),
    ("workers supervise --url redis://h/0?db=x",
     "workers: error: bad Redis URL 'redis://h/0?db=x': Invalid value for 'db' in connection URL."),
    ("workers supervise", "Error: Missing option '--url' (env var: 'JOBFLEET_URL')."),
    ("workers supervise --url redis://h/0 -n 0",
     "Error: Invalid value for '-n' / '--processes': 0 is not in the range 1<=x<=1024."),
    ("workers supervise --url redis://h/0 --serializer yaml",
     "Error: Invalid value for '--serializer': 'yaml' is not one of 'pickle', 'json'."),
    ("workers supervise --url redis://h/0 --shutdown-timeout -1",
     "Error: Invalid value for '--shutdown-timeout': -1.0 is not in the range x>=0."),
    ("workers supervise --url redis://h/0 --shutdown-timeout nan",
     "Error: Invalid value for '--shutdown-timeout': 'nan' is not a finite number of seconds."),
    ("workers supervise --url redis://h/0 --metrics-port 0",
     "Error: Invalid value for '--metrics-port': 0 is not in the range 1<=x<=65535."),
    ("workers status --url local://2",
     "workers: error: 'local://2' is not a Redis URL: workers need redis://, rediss://, unix:// or redis+sentinel://"),
]


@pytest.mark.parametrize("command, message", CLI_ROWS, ids=[row[0] for row in CLI_ROWS])
def test_each_bad_command_line_is_a_usage_error_with_its_documented_message(command, message, monkeypatch):
    from click.testing import CliRunner

    from workers import supervisor
    from workers.cli import cli

    # Given a supervisor that must not start, and no JOBFLEET_URL
    monkeypatch.setattr(supervisor.Supervisor, "__init__", lambda *a, **k: pytest.fail("the supervisor started"))
    # When the command line is given
    result = CliRunner().invoke(cli, command.split()[1:], env={"JOBFLEET_URL": None})
    # Then it exits 2 (usage) and its last line is the documented message
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == message


def _doc_cell(text: str) -> str:
    return text.replace("|", "\\|")


def test_docs_errors_md_shows_every_row_with_its_exact_message():
    # Given docs/errors.md
    doc = DOCS.read_text()
    # Then every row's input and exact message are in it (as `code` in the table)
    missing = [row.shown for row in ROWS
               if f"`{_doc_cell(row.shown)}`" not in doc or f"`{_doc_cell(row.message)}`" not in doc]
    missing += [command for command, message in CLI_ROWS
                if f"`{_doc_cell(command)}`" not in doc or f"`{_doc_cell(message)}`" not in doc]
    assert missing == []
