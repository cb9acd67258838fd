"""Recurring jobs: the rule, its checks, and firing once per tick, on every backend.

Firing is tested with a clock the test controls (``now=``) where it can, so a cron rule of
``* * * * *`` is checked without waiting a minute.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import fakeredis
import pytest

import jobs
from jobs.rq_format import schedules as stored
from jobs.schedules import Rule
from tests.jobs import square


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _stored_schedule(connection, rule: Rule, name: str = "every-minute") -> None:
    call = jobs.serializers.resolve("pickle").dumps(([4], {}))
    stored.save(connection, "default", name, "tests.jobs.square", call, rule, overlap=True)


def test_a_cron_rule_fires_on_the_minute_and_once_per_minute():
    # Given a `* * * * *` schedule made at 12:00:30 UTC, and a clock the test moves
    connection = fakeredis.FakeRedis()
    _stored_schedule(connection, Rule.of(None, "* * * * *", anchor=_utc("2030-01-01T12:00:30")))
    # When the clock reads a moment before the minute, Then nothing fires
    assert stored.fire_due(connection, "default", jobs.serializers.resolve("pickle"), _utc("2030-01-01T12:00:59.9")) == []
    # When it reaches 12:01:00, Then the 12:01 tick fires, once, however often it is asked
    fired = stored.fire_due(connection, "default", jobs.serializers.resolve("pickle"), _utc("2030-01-01T12:01:00"))
    assert [f.tick for f in fired] == [_utc("2030-01-01T12:01:00")]
    assert stored.fire_due(connection, "default", jobs.serializers.resolve("pickle"), _utc("2030-01-01T12:01:30")) == []
    # And the next fires at 12:02
    fired = stored.fire_due(connection, "default", jobs.serializers.resolve("pickle"), _utc("2030-01-01T12:02:00.5"))
    assert [f.tick for f in fired] == [_utc("2030-01-01T12:02:00")]


def test_ticks_missed_while_nobody_fired_fire_once_not_once_each():
    # Given a `* * * * *` schedule whose 12:01 tick fired, then no one ran until 12:07:10
    connection = fakeredis.FakeRedis()
    pickle = jobs.serializers.resolve("pickle")
    _stored_schedule(connection, Rule.of(None, "* * * * *", anchor=_utc("2030-01-01T12:00:30")))
    stored.fire_due(connection, "default", pickle, _utc("2030-01-01T12:01:00"))
    # When a firer comes back, Then one job fires, for the latest tick, and the next is 12:08
    fired = stored.fire_due(connection, "default", pickle, _utc("2030-01-01T12:07:10"))
    assert [f.tick for f in fired] == [_utc("2030-01-01T12:07:00")]
    [schedule] = stored.load(connection, "default")
    assert schedule.next_run.timestamp() == _utc("2030-01-01T12:08:00")
    assert connection.llen("rq:queue:default") == 2


def test_an_every_rule_ticks_from_the_moment_it_was_made():
    rule = Rule.of(2.5, None, anchor=100.0)
    assert rule.next_after(100.0) == 102.5
    assert rule.due(108.0) == (107.5, 110.0)
    assert rule.text == "every 2.5 s"


def test_many_firers_of_one_tick_enqueue_one_job(redis_url):
    # Given a schedule due now on a real Redis, and eight firers (as eight supervisors) at once
    import redis

    connection = redis.Redis.from_url(redis_url)
    _stored_schedule(connection, Rule.of(1, None, anchor=time.time() - 1.5))
    fired: list[stored.Fired] = []
    start = threading.Barrier(8)

    def fire() -> None:
        own = redis.Redis.from_url(redis_url)
        start.wait(10)
        fired.extend(stored.fire_due(own, "default", jobs.serializers.resolve("pickle"), time.time()))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Then exactly one of them enqueued the tick's job
    assert len(fired) == 1 and fired[0].job_id
    assert connection.llen("rq:queue:default") == 1


@pytest.mark.parametrize("url", ["local://2", "fakeredis://recurring"])
def test_a_schedule_runs_each_second_until_it_is_unscheduled(url):
    with jobs.Queue(url) as q:
        # Given a schedule of every second
        schedule = q.schedule("squares", square, [3], every=1)
        assert isinstance(schedule, jobs.Schedule) and schedule.rule == "every 1 s" and schedule.last_run is None
        assert schedule.function == "tests.jobs.square"
        # When two seconds and a bit pass (and, on fakeredis, jobs are run)
        time.sleep(2.3)
        q.run_pending()
        # Then it ran, and lists its last run
        [listed] = q.schedules()
        assert listed.name == "squares" and listed.last_run is not None
        assert listed.last_status in (jobs.JobStatus.QUEUED, jobs.JobStatus.STARTED, jobs.JobStatus.FINISHED)
        assert listed.next_run > listed.last_run
        assert q.job(listed.last_job_id).result(timeout=10) == 9
        # When it is unscheduled, Then it is gone
        assert q.unschedule("squares") is True
        assert q.unschedule("squares") is False
        assert q.schedules() == []


@pytest.mark.parametrize("url", ["local://1", "fakeredis://replace"])
def test_the_same_name_replaces_the_old_rule(url):
    with jobs.Queue(url) as q:
        q.schedule("report", square, [2], every=60)
        q.schedule("report", square, [2], cron="0 3 * * *")
        [listed] = q.schedules()
        assert listed.rule == "cron 0 3 * * *"
        assert (listed.next_run.astimezone(timezone.utc).hour, listed.next_run.minute) == (3, 0)


BAD = [
    (dict(name="my schedule", every=5), jobs.ConfigError,
     "schedule name must be 1-128 letters, digits or _.:- characters, not 'my schedule'"),
    (dict(every=0.5), jobs.ConfigError, "every must be a number of seconds from 1 to 2147483647, not 0.5"),
    (dict(), jobs.ConfigError, "a schedule needs exactly one of every= (seconds) or cron= (five cron fields)"),
    (dict(every=5, cron="* * * * *"), jobs.ConfigError,
     "a schedule needs exactly one of every= (seconds) or cron= (five cron fields)"),
    (dict(cron="61 * * * *"), jobs.ConfigError,
     "bad cron '61 * * * *': the minute field '61' is not valid (0-59, *, ranges a-b, lists a,b and steps */n)"),
    (dict(cron="* * * 13 *"), jobs.ConfigError,
     "bad cron '* * * 13 *': the month field '13' is not valid (1-12 or jan-dec, *, ranges a-b, lists a,b and steps */n)"),
    (dict(cron="* * *"), jobs.ConfigError,
     "bad cron '* * *': a cron rule has five fields (minute hour day-of-month month day-of-week), this one has 3"),
    (dict(cron="0 0 30 2 *"), jobs.ConfigError, "bad cron '0 0 30 2 *': it matches no date (e.g. February 30th)"),
    (dict(every=5, overlap="no"), jobs.ConfigError, "overlap must be True or False, not 'no'"),
]


@pytest.mark.parametrize("url", ["local://1", "fakeredis://bad-schedules"])
@pytest.mark.parametrize("given, error, message", BAD)
def test_a_bad_schedule_is_refused_before_anything_is_kept(url, given, error, message):
    with jobs.Queue(url) as q:
        given = dict(given)
        name = given.pop("name", "ok")
        with pytest.raises(error) as caught:
            q.schedule(name, square, [2], **given)
        assert str(caught.value) == message
        assert q.schedules() == []


def test_on_redis_a_schedule_needs_an_importable_function_and_serializable_arguments():
    with jobs.Queue("fakeredis://bad-functions") as q:
        with pytest.raises(jobs.SerializationError, match="a lambda cannot run on a Redis worker"):
            q.schedule("lambda", lambda: 1, every=5)
        with pytest.raises(jobs.SerializationError, match="the arguments of schedule 'lock' cannot be serialized"):
            q.schedule("lock", square, [threading.Lock()], every=5)
        assert q.schedules() == []
