"""Queue URLs: every scheme, and bad ones answered with the list of good ones."""

from __future__ import annotations

import os

import pytest

import jobs
from jobs.urls import LocalTarget, RedisTarget, parse, redact


@pytest.mark.parametrize("url, expected", [
    ("local://", LocalTarget(os.cpu_count() or 1)),
    ("local://3", LocalTarget(3)),
    ("local://2?threads=8", LocalTarget(2, threads=8, max_async=100)),  # with threads, async jobs await together too
    ("local://2?threads=8&max_async=0", LocalTarget(2, threads=8)),
    ("local://2?max_async=100", LocalTarget(2, max_async=100)),
    ("local://2?threads=4&max_async=50", LocalTarget(2, threads=4, max_async=50)),
    ("local://?threads=8", LocalTarget(os.cpu_count() or 1, threads=8, max_async=100)),
    ("local://1?threads=64&max_async=10000", LocalTarget(1, threads=64, max_async=10000)),
    ("redis://localhost:6379/0", RedisTarget("redis://localhost:6379/0")),
    ("rediss://user:pw@example.test:6380/2?ssl_cert_reqs=none", RedisTarget("rediss://user:pw@example.test:6380/2?ssl_cert_reqs=none")),
    ("unix:///tmp/redis.sock?db=1", RedisTarget("unix:///tmp/redis.sock?db=1")),
    ("fakeredis://", RedisTarget("fakeredis://")),
])
def test_valid_urls_name_their_backend(url, expected):
    assert parse(url) == expected


@pytest.mark.parametrize("url", [
    "http://localhost", "localhost:6379", "local://0", "local://-1", "local://two", "redis://h:99999/0",
    "redis://h/0?socket_timeout=soon", "redis:///0", "mysql://x",
])
def test_bad_urls_are_config_errors_listing_the_schemes(url):
    with pytest.raises(jobs.ConfigError) as caught:
        jobs.Queue(url)
    text = str(caught.value)
    assert "local://" in text or "redis" in text


@pytest.mark.parametrize("url, message", [
    ("local://2?thread=8", "bad local URL 'local://2?thread=8': unknown option 'thread'; write local://N?threads=T"),
    ("local://2?threads=0", "write threads=K with K a whole number from 1 to 64"),
    ("local://2?threads=65", "write threads=K with K a whole number from 1 to 64"),
    ("local://2?threads=two", "write threads=K with K a whole number from 1 to 64"),
    ("local://2?threads=", "write threads=K with K a whole number from 1 to 64"),
    ("local://2?max_async=-1", "write max_async=K with K a whole number from 0 to 10000"),
    ("local://2?max_async=10001", "write max_async=K with K a whole number from 0 to 10000"),
    ("local://0?threads=2", "write local:// (one process per CPU) or local://N"),
])
def test_bad_local_options_are_config_errors_saying_what_to_write(url, message):
    # Given a local URL with a misspelt or out-of-range option
    with pytest.raises(jobs.ConfigError) as caught:
        jobs.Queue(url)
    # Then the one-line message says what to write
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("url, shown", [
    ("redis://user:pw1@h:6379/0", "redis://user:***@h:6379/0"),
    ("redis://:pw1@h/0", "redis://:***@h/0"),
    ("redis://pw1@h/0", "redis://***@h/0"),
    ("rediss://h/0?password=pw1&ssl_cert_reqs=none", "rediss://h/0?password=***&ssl_cert_reqs=none"),
    ("redis://h:6379/0", "redis://h:6379/0"),
    ("fakeredis://", "fakeredis://"),
])
def test_redact_hides_passwords_only(url, shown):
    assert redact(url) == shown


def test_a_bad_queue_name_or_serializer_is_a_config_error():
    with pytest.raises(jobs.ConfigError, match="queue name"):
        jobs.Queue("fakeredis://", "has space")
    with pytest.raises(jobs.ConfigError, match="'pickle', 'json'"):
        jobs.Queue("fakeredis://", serializer="yaml")


def test_the_public_api_is_what_the_readme_documents():
    assert sorted(jobs.__all__) == sorted([
        "Queue", "Job", "JobOptions", "JobStatus", "Schedule", "Pool", "AsyncResult", "Process", "Executor",
        "RemoteTraceback", "redact", "JobsError", "ConfigError", "BackendUnavailable",
        "SerializationError", "JobFailed", "JobLost", "JobCanceled", "JobNotFound", "ResultTimeout",
        "Progress", "report_progress",
    ])
    for name in jobs.__all__:
        assert getattr(jobs, name)
    assert issubclass(jobs.ResultTimeout, TimeoutError)
    assert jobs.JobStatus.FINISHED == "finished"  # a str enum: code comparing to strings keeps working
    for error in (jobs.ConfigError, jobs.BackendUnavailable, jobs.SerializationError, jobs.JobFailed,
                  jobs.JobLost, jobs.JobCanceled, jobs.JobNotFound, jobs.ResultTimeout):
        assert issubclass(error, jobs.JobsError)


def test_a_sentinel_url_names_its_sentinels_service_and_db_and_hides_its_password():
    # Given a Sentinel URL with credentials, two sentinels, a service, a db and a durability option
    url = "redis+sentinel://app:s3cret@s1:26379,s2:26380/jobs/2?wait_replicas=1&socket_timeout=2"
    from jobs.sentinel import Durability, parse_sentinel, split_durability

    clean, durability = split_durability(url, redact(url))
    target = parse_sentinel(clean, redact(url))
    # Then every part is read, ours apart from redis-py's
    assert durability == Durability(1, 1.0)
    assert (target.sentinels, target.service_name, target.db) == ((("s1", 26379), ("s2", 26380)), "jobs", 2)
    assert (target.username, target.password, target.options) == ("app", "s3cret", (("socket_timeout", "2"),))
    # And the password shows nowhere
    assert redact(url) == "redis+sentinel://app:***@s1:26379,s2:26380/jobs/2?wait_replicas=1&socket_timeout=2"
    with jobs.Queue(url) as q:
        assert "s3cret" not in repr(q)


@pytest.mark.parametrize("url, words", [
    ("redis://localhost:6379/0?threads=8", "workers supervise --threads N"),
    ("rediss://localhost:6379/0?max_async=100", "workers supervise --max-async M"),
    ("fakeredis://?threads=8", "takes no options"),
    ("fakeredis://mine?max_async=3", "takes no options"),
])
def test_concurrency_options_on_a_url_that_cannot_take_them_say_where_they_go(url, words):
    with pytest.raises(jobs.ConfigError, match=words.replace("-", r"\-")):
        parse(url)
