"""Bad input tried systematically (hypothesis): accepted, or refused with ConfigError.

URLs (``jobs.urls.parse``, ``jobs.Queue(url)`` and a first command against a closed loopback
port), the options of ``Queue``, ``enqueue_call`` and ``map`` (on fakeredis), and the options
of ``workers supervise`` (click's CliRunner, the supervisor itself replaced). No input may
raise anything else, hang, or show the marker password. The budget keeps the file well under
a minute: ``deadline=None`` (the first call imports RQ) and a bounded ``max_examples``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import jobs
from jobs.urls import parse, redact
from tests import jobs as job_functions
from tests.redis_server import free_port
from tests.test_bad_input import snapshot

MARKER = "hypoMarkerPw42"
BUDGET = settings(max_examples=int(os.environ.get("JOBFLEET_HYPOTHESIS_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
CA_FILE = tempfile.NamedTemporaryFile(prefix="jobfleet-ca-", suffix=".pem", delete=False).name
CLOSED_PORT = free_port()  # nothing listens here: a connection is refused at once

# -- URL strategies -----------------------------------------------------------------------------

OPTION_NAMES = ["db", "socket_timeout", "socket_connect_timeout", "socket_keepalive", "retry_on_timeout",
                "health_check_interval", "max_connections", "client_name", "protocol", "username", "password",
                "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password",
                "ssl_check_hostname", "ssl_ciphers", "timeout", "decode_responses", "retry_on_error", "path",
                "host", "encoding", "foo"]
OPTION_VALUES = ["0", "1", "-1", "2", "3", "15", "0.001", "5", "nan", "inf", "-inf", "1e309", "true", "no", "none",
                 "required", "optional", "maybe", CA_FILE, "/no/such/file", tempfile.gettempdir(), "", "x y"]
text = st.text(max_size=8)
query_pair = st.one_of(
    st.tuples(st.one_of(st.sampled_from(OPTION_NAMES), text), st.one_of(st.sampled_from(OPTION_VALUES), text)),
    st.tuples(st.sampled_from(["password", "ssl_password", "PASSWORD"]), st.just(MARKER)),
)
query = st.lists(query_pair, max_size=4).map(
    lambda pairs: ("?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in pairs)) if pairs else "")
credentials = st.sampled_from(["", f":{MARKER}@", f"user:{MARKER}@", f"{MARKER}@", "user@", f"user:{MARKER}x@"])
database = st.one_of(st.sampled_from(["", "/", "/0", "/1", "/15", "/-1", "/abc", "/0/1", "/%30"]),
                     text.map(lambda t: "/" + quote(t, safe="")))


def structured_urls(hosts: st.SearchStrategy[str], ports: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    redis_like = st.builds(lambda scheme, creds, host, port, db, q: f"{scheme}://{creds}{host}{port}{db}{q}",
                           st.sampled_from(["redis", "rediss", "REDIS", "Rediss"]), credentials, hosts, ports,
                           database, query)
    unix = st.builds(lambda creds, path, q: f"unix://{creds}{path}{q}", credentials,
                     st.sampled_from(["", "/", "/tmp/jobfleet-no-such.sock", "relative.sock"]), query)
    return st.one_of(redis_like, unix)


any_host = st.one_of(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "", "h", "[::1", "a b", "exa_mple.test"]), text)
any_port = st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), text.map(lambda t: ":" + t))
any_url = st.one_of(
    structured_urls(any_host, any_port),
    st.builds(lambda scheme, rest: f"{scheme}{rest}",
              st.sampled_from(["local://", "fakeredis://", "http://", "redis:", "", "unix:", "mysql://"]), text),
    st.text(max_size=40),
)
loopback_url = structured_urls(st.just("127.0.0.1"), st.just(f":{CLOSED_PORT}"))


def _shows_no_password(text: str) -> bool:
    return MARKER not in text


@BUDGET
@given(any_url)
@example(f"redis://0??password={MARKER}")  # a typo: still hidden
@example(f"redis://{MARKER}@127.0.0.1:{MARKER}@h/0")  # '@' in the password, unquoted
@example("LOCAL://²")  # a digit to str.isdigit, not to int()
def test_any_url_is_parsed_or_refused_with_a_config_error_that_hides_the_password(url):
    # Given any text as a queue URL
    # When it is parsed and redacted
    shown = redact(url)
    try:
        parse(url)
    except jobs.ConfigError as exc:
        # Then a refusal is a ConfigError whose message holds no password
        assert _shows_no_password(str(exc)), str(exc)
    # And the redacted form never shows the password either
    assert _shows_no_password(shown), (url, shown)


@BUDGET
@given(loopback_url)
def test_a_url_either_fails_at_queue_or_its_first_command_says_redis_is_unavailable(url):
    # Given a URL to a loopback port where nothing listens (or a socket that does not exist)
    try:
        queue = jobs.Queue(url)
    except jobs.ConfigError as exc:
        assert _shows_no_password(str(exc))
        return
    # When the first command runs
    with queue, pytest.raises((jobs.BackendUnavailable, jobs.ConfigError)) as caught:
        queue.enqueue(job_functions.noop)
    # Then it is BackendUnavailable (or a ConfigError), never a TypeError from redis-py, and
    # neither message nor repr shows the password
    assert _shows_no_password(str(caught.value)) and _shows_no_password(repr(queue)), str(caught.value)


# -- Queue, enqueue_call and map options (fakeredis) ------------------------------------------------

anything = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.binary(max_size=6), st.lists(st.floats(-5, 1e12), max_size=3),
    st.tuples(st.integers(-3, 5), st.integers(-3, 5)), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([0, 1, 5, 0.5, 3600, 2**31, 1e300, -1, "5", [1, 2], (), [], "x" * 300, "ok-id", "a\n", "\ud800",
                     float("nan"), object()]),
)


@contextlib.contextmanager
def fresh_queue(serializer: str = "pickle") -> Iterator[jobs.Queue]:
    """A queue on a fakeredis of its own holding one job (id ``taken``); one per example, so
    no key of an earlier example can expire between two snapshots."""
    from jobs.urls import _fake_servers

    name = f"properties-{uuid.uuid4().hex}"
    try:
        with jobs.Queue(f"fakeredis://{name}", serializer=serializer) as queue:
            queue.enqueue_call(job_functions.square, [2], job_id="taken")
            yield queue
    finally:
        _fake_servers.pop(name, None)


@BUDGET
@given(name=anything, serializer=anything)
def test_queue_name_and_serializer_are_accepted_or_config_errors(name, serializer):
    # Given any name and serializer; When a queue is made; Then it works or is a ConfigError
    try:
        queue = jobs.Queue("fakeredis://properties-names", name, serializer=serializer)
    except jobs.ConfigError:
        return
    with queue:
        assert queue.name == name


OPTION_KEYS = ["timeout", "retries", "retry_interval", "job_id", "result_ttl", "failure_ttl", "description", "max_losses"]


@settings(BUDGET, max_examples=2 * BUDGET.max_examples)
@given(options=st.dictionaries(st.sampled_from(OPTION_KEYS), anything, max_size=4),
       args=st.one_of(st.none(), anything), kwargs=st.one_of(st.none(), anything),
       serializer=st.sampled_from(["pickle", "json"]))
def test_enqueue_call_options_are_accepted_or_config_errors_and_a_refusal_writes_nothing(options, args, kwargs, serializer):
    # Given a fakeredis queue (pickle or JSON) with a job in it, and any options, args and kwargs
    with fresh_queue(serializer) as queue:
        _enqueue_call_is_accepted_or_refused(queue, options, args, kwargs)


def _enqueue_call_is_accepted_or_refused(fake_queue: jobs.Queue, options: dict, args: object, kwargs: object) -> None:
    client = fake_queue.backend.rq_queue.connection
    before = snapshot(client)
    # When a job is enqueued with them
    try:
        job = fake_queue.enqueue_call(job_functions.echo_kwargs if isinstance(kwargs, dict) else job_functions.noop,
                                      args if not isinstance(kwargs, dict) else None, kwargs, **options)
    except (jobs.ConfigError, jobs.SerializationError):
        # Then a refusal (ConfigError, or a value pickle cannot carry) leaves every key as it was
        assert snapshot(client) == before
        return
    # Or the job is stored, with its options as given
    assert job.status == "queued"
    if options.get("job_id") is not None:
        assert job.id == options["job_id"]


@BUDGET
@given(chunksize=anything, timeout=anything, items=st.lists(st.integers(-100, 100), max_size=5))
def test_map_chunksize_and_timeout_are_accepted_or_config_errors(chunksize, timeout, items):
    # Given any chunksize and timeout; When map runs (in-process on fakeredis)
    with fresh_queue() as queue:
        _map_is_accepted_or_refused(queue, chunksize, timeout, items)


def _map_is_accepted_or_refused(fake_queue: jobs.Queue, chunksize: object, timeout: object, items: list[int]) -> None:
    client = fake_queue.backend.rq_queue.connection
    before = snapshot(client)
    try:
        results = fake_queue.map(job_functions.square, items, chunksize=chunksize, timeout=timeout)
    except jobs.ConfigError:
        # Then a refusal writes nothing
        assert snapshot(client) == before
        return
    except jobs.ResultTimeout:
        assert isinstance(timeout, (int, float)) and timeout < 60  # a tiny timeout may run out: that is its job
        return
    # Or the results are right
    assert results == [x * x for x in items]


# -- workers supervise options (CliRunner) -------------------------------------------------------

cli_value = st.one_of(st.sampled_from(["0", "1", "2", "-1", "1.5", "1e9", "nan", "inf", "x", "", "pickle", "json",
                                       "yaml", "debug", "INFO", "workers.worker.BatchWorker", "--burst"]), text)
CLI_OPTIONS = ["--queue", "-q", "-n", "--processes", "--max-jobs-per-child", "--max-losses", "--shutdown-timeout",
               "--host-timeout", "--timeout-grace", "--worker-class", "--log-level", "--serializer", "--path", "--bogus"]
cli_args = st.lists(st.one_of(st.tuples(st.sampled_from(CLI_OPTIONS), cli_value).map(list),
                              st.sampled_from([["--burst"], ["-h"], ["--"], ["extra"]])), max_size=5)


@BUDGET
@given(url=st.one_of(any_url, st.just("redis://127.0.0.1:6379/0")), args=cli_args)
@example(url="unix:///", args=[["--shutdown-timeout", "nan"]])  # click's FloatRange lets nan through
def test_supervise_options_are_accepted_or_usage_errors(url, args, monkeypatch_module):
    from click.testing import CliRunner

    from workers.cli import cli

    # Given any options (the supervisor itself replaced by one that records its config)
    started = []
    monkeypatch_module.setattr("workers.supervisor.Supervisor.__init__", lambda self, config: started.append(config))
    monkeypatch_module.setattr("workers.supervisor.Supervisor.run", lambda self: 0)
    flat = ["supervise", "--url", url, *[word for pair in args for word in pair]]
    # When the command line is parsed
    saved_path = list(sys.path)  # --path puts directories on sys.path
    try:
        result = CliRunner().invoke(cli, flat, env={"JOBFLEET_URL": None})
    finally:
        sys.path[:] = saved_path
    # Then it is accepted (exit 0), or refused as a usage error (exit 2) with a message; never
    # another exception, and never a password
    assert result.exit_code in (0, 2), (flat, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert _shows_no_password(result.output)
    if result.exit_code == 0 and "-h" not in flat and "--help" not in flat:
        config = started[0]
        assert config.processes >= 1 and config.max_losses >= 1
        assert all(math.isfinite(s) for s in (config.shutdown_timeout_s, config.host_timeout_s, config.timeout_grace_s))
        assert config.serializer in ("pickle", "json")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def teardown_module() -> None:
    os.unlink(CA_FILE)
