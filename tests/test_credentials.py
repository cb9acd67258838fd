"""Passwords and ACL users against a real redis-server with ``requirepass`` and the documented ACL.

The least-privilege users of docs/security.md run the whole workload with nothing denied; a
wrong password is one line that says authentication failed; and a marker password is looked
for everywhere it could leak: repr and str, messages and tracebacks, log lines, ``workers
status``, the process titles of the supervisor and its workers, and ``--help``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback

import pytest
import redis

import jobs
from jobs.backends import redis as redis_backend
from tests import jobs as job_functions
from tests.acl import ADMIN_PASSWORD, admin_client, start_acl_redis
from tests.conftest import _no_redis as no_redis
from tests.redis_server import redis_server_path
from tests.supervisor_helpers import ROOT, Supervise, wait_until

pytestmark = pytest.mark.redis

#: Marker passwords: if one shows up in any text, that text leaks it.
CLIENT_PASSWORD = "cliMarker-5f2a9c"
WORKER_PASSWORD = "wrkMarker-8d41b7"
MARKERS = (CLIENT_PASSWORD, WORKER_PASSWORD, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def acl_server():
    if redis_server_path() is None:
        no_redis("redis-server is not installed")
    server = start_acl_redis({"jobs-client": CLIENT_PASSWORD, "jobs-worker": WORKER_PASSWORD})
    yield server
    server.close()


@pytest.fixture
def admin(acl_server):
    client = admin_client(acl_server)
    client.flushall()
    client.acl_log_reset()
    yield client
    client.close()


def _url(server, user: str, password: str) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


@pytest.fixture
def client_url(acl_server, admin):
    return _url(acl_server, "jobs-client", CLIENT_PASSWORD)


@pytest.fixture
def worker_url(acl_server, admin):
    return _url(acl_server, "jobs-worker", WORKER_PASSWORD)


def workers_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "JOBFLEET_URL"}
    return subprocess.run([sys.executable, "-m", "workers", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**environ, **(env or {})})


def _cmdlines(pids: list[int]) -> list[str]:
    texts = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                texts.append(fh.read().replace(b"\0", b" ").decode(errors="replace"))
        except FileNotFoundError:
            pass
    return texts


def _leaks(texts: list[str]) -> list[str]:
    return [text for text in texts if any(marker in text for marker in MARKERS)]


def _full_text(exc: BaseException) -> str:
    """The message and the whole traceback, with every chained cause, as a user would see it."""
    return "".join(traceback.format_exception(exc))


def test_the_documented_acl_users_run_the_whole_workload_and_redis_denies_them_nothing(client_url, worker_url, admin,
                                                                                      acl_server):
    # Given the client as jobs-client and a supervisor as jobs-worker (the ACL of docs/security.md)
    marker = tempfile.mktemp(prefix="jobfleet-acl-")
    with jobs.Queue(_url(acl_server, "default", ADMIN_PASSWORD)) as owner:  # schedules: see docs/security.md
        owner.schedule("acl-every-second", job_functions.square, [6], every=1)
    with jobs.Queue(client_url) as queue:
        # When the client uses every part of its API while the supervisor runs, loses a worker
        # to a job that kills it, re-queues that job, reports its status and shuts down
        canceled = queue.enqueue(job_functions.square, 4)
        assert canceled.cancel()
        single = queue.enqueue(job_functions.square, 3)
        with_options = queue.enqueue_call(job_functions.fail_once, [marker + ".fail"], retries=1, timeout=30,
                                          result_ttl=60, failure_ttl=60, description="acl", max_losses=3, job_id="acl-1")
        killer = queue.enqueue_call(job_functions.kill_once, [marker + ".kill"], max_losses=3)
        backed_off = queue.enqueue_call(job_functions.fail_once, [marker + ".later"], retries=1, retry_interval=[1])
        later = queue.enqueue_in(0.5, job_functions.square, 5)
        failing = queue.enqueue(job_functions.fail, "no")
        squares = queue.imap(job_functions.square, range(5))
        chunked = queue.imap(job_functions.square, range(5), chunksize=2)
        with Supervise(worker_url, "-n", "2", "--queue", "default", "--queue", "other") as supervisor:
            supervisor.wait_children(2)
            status = workers_cli("status", "--url", worker_url)
            results = [single.result(timeout=60), with_options.result(timeout=60), killer.result(timeout=60),
                       list(squares), list(chunked), backed_off.result(timeout=60), later.result(timeout=60)]
            wait_until(lambda: admin.keys("rq:job:schedule-acl-every-second-*"), 20, what="a tick of the schedule")
            with pytest.raises(jobs.JobFailed):
                failing.result(timeout=60)
            assert queue.job("acl-1").status == "finished"
            supervisor.signal(signal.SIGTERM)
            assert supervisor.wait(timeout=60) == 0, supervisor.output()
    # Then everything worked
    assert status.returncode == 0, status.stderr
    assert results == [9, "ok", "survived", [0, 1, 4, 9, 16], [0, 1, 4, 9, 16], "ok", 25]
    # And Redis denied neither user anything
    assert admin.acl_log() == []
    for suffix in (".kill", ".fail", ".later"):
        if os.path.exists(marker + suffix):
            os.unlink(marker + suffix)


def test_a_client_that_defines_schedules_needs_only_what_docs_security_md_adds(acl_server, admin):
    # Given the jobs-client user plus the additions docs/security.md gives for schedules
    from tests.acl import DOCS, documented_acl

    extra = re.search(r"needs its own\s+keys and three commands beyond `jobs-client`: add `([^`]+)`", DOCS.read_text())
    assert extra, "docs/security.md no longer says what a client that defines schedules adds"
    rules = documented_acl()["jobs-client"].split()[3:]
    rules = [f">{CLIENT_PASSWORD}" if w == ">PASSWORD" else w for w in rules] + extra.group(1).split()
    admin.acl_setuser("jobs-scheduler", reset=True)
    admin.execute_command("ACL", "SETUSER", "jobs-scheduler", *rules)
    # When it defines, lists and removes a schedule and enqueues a later job
    with jobs.Queue(_url(acl_server, "jobs-scheduler", CLIENT_PASSWORD)) as queue:
        queue.schedule("nightly", job_functions.square, [2], cron="0 3 * * *")
        names = [s.name for s in queue.schedules()]
        assert queue.unschedule("nightly")
        queue.enqueue_in(60, job_functions.square, 2)
    # Then it worked and Redis denied it nothing
    assert names == ["nightly"]
    assert admin.acl_log() == []


@pytest.mark.parametrize("user, password", [("jobs-client", CLIENT_PASSWORD), ("jobs-worker", WORKER_PASSWORD)])
@pytest.mark.parametrize("command", [
    ("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("EVAL", "return 1", "0"),
    ("GET", "other:secret"), ("SET", "other:key", "x"), ("SHUTDOWN",), ("MODULE", "LIST"),
])
def test_the_acl_users_cannot_administer_redis_or_touch_other_keys(acl_server, admin, user, password, command):
    # Given a connection as one of the documented users
    client = redis.Redis(host="127.0.0.1", port=acl_server.port, username=user, password=password, socket_timeout=5)
    try:
        # When it tries a command outside the queue's needs
        # Then Redis refuses it
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)
    finally:
        client.close()


def test_the_client_user_cannot_delete_jobs_or_dequeue(client_url, acl_server, admin):
    # Given the client user
    client = redis.Redis.from_url(client_url, socket_timeout=5)
    try:
        # When it tries what only a worker does
        # Then Redis refuses it
        for command in (("DEL", "rq:queue:default"), ("LPOP", "rq:queue:default"), ("SET", "jobfleet:x", "1")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)
    finally:
        client.close()


@pytest.mark.parametrize("user", ["jobs-client", ""])
def test_a_wrong_password_is_one_line_saying_authentication_failed_without_the_password(acl_server, admin, user):
    # Given a URL with a wrong password (for an ACL user, or for the default user's requirepass)
    url = _url(acl_server, user, CLIENT_PASSWORD + "-wrong")
    with jobs.Queue(url) as queue:
        # When the client enqueues
        with pytest.raises(jobs.BackendUnavailable) as caught:
            queue.enqueue(job_functions.square, 2)
    # Then the message is one line that says authentication failed
    message = str(caught.value)
    assert "authentication failed" in message and "\n" not in message
    # And neither it nor the traceback with its chained causes holds the password
    assert not _leaks([message, _full_text(caught.value)])
    # And nothing was written
    assert admin.dbsize() == 0


def test_the_supervisor_and_status_with_a_wrong_password_stop_with_one_line(acl_server, admin):
    # Given a wrong worker password
    url = _url(acl_server, "jobs-worker", WORKER_PASSWORD + "-wrong")
    # When `workers supervise` and `workers status` start with it
    results = [workers_cli("supervise", "--url", url, "-n", "1", "--burst", "--log-level", "debug"),
               workers_cli("status", "--url", url)]
    for result in results:
        # Then each exits 1 with one error line that says authentication failed, and no password
        errors = [line for line in result.stderr.splitlines() if line.startswith("workers: error:")]
        assert result.returncode == 1, result.stderr
        assert len(errors) == 1 and "authentication failed" in errors[0], result.stderr
        assert not _leaks([result.stdout, result.stderr])


def test_requirepass_alone_works_and_no_password_is_told_to_give_one(acl_server, admin):
    # Given the default user's requirepass in the URL
    with jobs.Queue(f"redis://:{ADMIN_PASSWORD}@127.0.0.1:{acl_server.port}/0") as queue:
        # When the client enqueues, Then the job is stored
        assert queue.enqueue(job_functions.square, 2).status == "queued"
    # Given no password at all
    with jobs.Queue(f"redis://127.0.0.1:{acl_server.port}/0") as queue:
        # Then the client is told to put one in the URL
        with pytest.raises(jobs.BackendUnavailable, match="needs a password"):
            queue.enqueue(job_functions.square, 2)


def test_the_password_never_appears_in_reprs_messages_logs_status_process_titles_or_help(
        client_url, worker_url, acl_server, admin, caplog, monkeypatch):
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    # Given a client whose every log line is captured at debug level, and which warns soon
    # that no worker listens
    monkeypatch.setattr(redis_backend, "NO_WORKER_WARNING_AFTER", 0.0)
    with jobs.Queue(client_url, "secrets") as queue:
        texts += [repr(queue), str(queue), queue.url, repr(queue.backend), str(queue.backend)]
        # When a job waits with no worker, then a supervisor at debug level runs it (its URL on
        # the command line, as in the README)
        job = queue.enqueue(job_functions.square, 5)
        with pytest.raises(jobs.ResultTimeout) as timed_out:
            job.result(timeout=2.5)
        texts.append(_full_text(timed_out.value))
        with Supervise(worker_url, "-n", "2", "--queue", "secrets", "--log-level", "debug") as supervisor:
            children = supervisor.wait_children(2)
            wait_until(lambda: "started" in supervisor.output(), what="workers started")
            texts += _cmdlines([supervisor.pid, *children])
            assert job.result(timeout=60) == 25
            status = workers_cli("status", "--url", worker_url)
            texts += [status.stdout, status.stderr]
            supervisor.signal(signal.SIGTERM)
            supervisor.wait(timeout=60)
            supervisor_output = supervisor.output()
            texts.append(supervisor_output)
        # And errors happen: a job that is not there, a bad option in a URL with the password
        with pytest.raises(jobs.JobNotFound) as not_found:
            queue.job("no-such-job")
        texts.append(_full_text(not_found.value))
    with pytest.raises(jobs.ConfigError) as bad_url:
        jobs.Queue(client_url.replace("/0", "/0?socket_timeout=soon"))
    texts.append(_full_text(bad_url.value))
    with jobs.Queue(client_url.replace(str(acl_server.port), "1")) as unreachable:
        with pytest.raises(jobs.BackendUnavailable) as refused:
            unreachable.enqueue(job_functions.square, 1)
    texts.append(_full_text(refused.value))
    # And --help runs with the password URL in JOBFLEET_URL
    for command in (("--help",), ("supervise", "--help"), ("status", "--help")):
        shown = workers_cli(*command, env={"JOBFLEET_URL": worker_url})
        texts += [shown.stdout, shown.stderr]
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    # Then the logs did say something (the warning, the supervisor's start), with the user name
    assert any("no worker listens" in record.getMessage() for record in caplog.records)
    assert "jobs-worker:***@" in supervisor_output
    # And no text holds any password
    assert _leaks(texts) == []


@pytest.mark.parametrize("argv, expected", [
    (["py", "-m", "workers", "supervise", "--url", "redis://:pw@h/0", "-n", "2"],
     (["py", "-m", "workers", "supervise", "-n", "2"], "redis://:pw@h/0")),
    (["workers", "supervise", "--url=redis://u:pw@h/0", "--url", "redis://u:pw2@h/1"],
     (["workers", "supervise"], "redis://u:pw2@h/1")),
    (["workers", "supervise", "--url", "redis://h/0"], None),
    (["workers", "supervise", "--", "--url", "redis://:pw@h/0"], None),
    (["workers", "status", "--url"], None),
])
def test_a_secret_url_is_taken_off_the_command_line_as_click_would_read_it(argv, expected):
    from workers.argv import split_secret_url

    # Given a command line, When it is split, Then only a URL with a secret is moved (the last wins)
    assert split_secret_url(argv) == expected


def test_the_compose_file_publishes_no_redis_port_and_anything_else_only_on_loopback():
    from ruamel.yaml import YAML

    # Given the compose file docs/security.md describes
    services = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())["services"]
    # Then Redis publishes no port at all
    assert "ports" not in services["redis"]
    # And any port another service publishes is bound to the host's loopback only
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
