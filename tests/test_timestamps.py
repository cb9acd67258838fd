"""RQ's job timestamps are read as RQ reads them, and a job loaded by a worker carries them all."""

from __future__ import annotations

import datetime
import random

import pytest
from rq.utils import str_to_date, utcformat

from jobs.rq_format import timestamps


def test_every_timestamp_rq_writes_reads_back_as_rq_reads_it():
    # Given timestamps across years and microseconds, in RQ's format and in its older one
    rng = random.Random(7)
    base = datetime.datetime(1999, 1, 1, tzinfo=datetime.timezone.utc)
    moments = [base + datetime.timedelta(seconds=rng.randrange(10**9), microseconds=rng.randrange(10**6))
               for _ in range(2000)]
    written = [utcformat(m).encode() for m in moments] + [m.strftime("%Y-%m-%dT%H:%M:%SZ").encode() for m in moments[:50]]
    # Then each parses to what RQ's own parser gives
    assert [timestamps.parse(raw) for raw in written] == [str_to_date(raw) for raw in written]


def test_a_timestamp_in_no_format_of_rq_fails_with_rqs_error():
    with pytest.raises(ValueError, match="does not match format"):
        timestamps.parse(b"yesterday")


def test_a_restored_job_has_the_same_fields_as_rqs_restore_gives():
    import fakeredis
    from rq import Queue
    from rq.job import Job

    # Given a job enqueued by RQ, with all its timestamps set
    client = fakeredis.FakeRedis()
    job = Queue("q", connection=client).enqueue(len, "abc")
    client.hset(job.key, mapping={"started_at": utcformat(job.enqueued_at), "ended_at": utcformat(job.enqueued_at),
                                  "last_heartbeat": utcformat(job.enqueued_at)})
    fields = client.hgetall(job.key)
    # When it is restored both ways
    ours, rqs = Job(job.id, connection=client), Job(job.id, connection=client)
    timestamps.restore(ours, dict(fields))
    rqs.restore(dict(fields))
    # Then every timestamp, and everything else, is the same
    for name in ("created_at", "enqueued_at", "started_at", "ended_at", "last_heartbeat", "origin", "timeout"):
        assert getattr(ours, name) == getattr(rqs, name), name
    assert ours.func_name == rqs.func_name and ours.args == rqs.args


def test_every_time_is_written_as_rq_writes_it():
    # Given UTC times, a naive one and one in another zone
    utc = datetime.timezone.utc
    moments = [datetime.datetime(2026, 12, 2, 4, 30, tzinfo=utc), datetime.datetime(1999, 1, 1, 0, 0, 0, 7, tzinfo=utc),
               datetime.datetime(2026, 1, 1, 3, 4, 5, 6),
               datetime.datetime(2026, 1, 1, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))]
    # Then each is written exactly as RQ's utcformat writes it
    assert [timestamps.format(m) for m in moments] == [utcformat(m) for m in moments]
