"""``workers supervise --metrics-port``: /metrics scraped while jobs run, and a real Prometheus over two supervisors.

Real supervisor processes, a real Redis, real SIGKILLs; samples are parsed with prometheus_client's parser.
"""

from __future__ import annotations

import os
import signal
import socket

import pytest
import redis
from rq import Queue

import jobs
from jobs.rq_format import reads
from tests import jobs as job_functions
from tests.metrics_helpers import Prometheus, jobs_total, listening, prometheus_path, sample, scrape
from tests.redis_server import free_port
from tests.supervisor_helpers import Supervise, wait_until
from tests.test_workers_cli import workers

pytestmark = pytest.mark.redis


def supervise_with_metrics(url: str, *args: str) -> tuple[Supervise, int]:
    port = free_port()
    sup = Supervise(url, "--metrics-port", str(port), "--log-level", "info", *args)
    wait_until(lambda: _answers(port), what="the metrics endpoint")
    return sup, port


def _answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


def test_metrics_count_the_jobs_that_ran_and_show_the_queues_and_workers_while_one_runs(redis_url, tmp_path):
    sup, port = supervise_with_metrics(redis_url, "-n", "2")
    with sup, jobs.Queue(redis_url) as q, jobs.Queue(redis_url, name="unserved") as unserved:
        # Given 20 jobs that succeed, 3 that fail (one after a retry), one that waits for a gate, and one on
        # a queue nobody serves
        gate = tmp_path / "gate"
        ok = [q.enqueue(job_functions.square, i) for i in range(20)]
        bad = [q.enqueue(job_functions.fail, "boom") for _ in range(2)]
        bad.append(q.enqueue_call(job_functions.fail, ["again"], retries=1))  # fails, is re-queued, fails
        unserved.enqueue(job_functions.square, 1)
        assert [job.result(timeout=30) for job in ok] == [i * i for i in range(20)]
        for job in bad:
            with pytest.raises(jobs.JobFailed):
                job.result(timeout=30)
        # When those ended and the gated job runs
        gated = q.enqueue(job_functions.report_then_wait, str(gate), 1, 2, "gated")
        wait_until(lambda: jobs_total(port, "failed") == 3 and jobs_total(port, "finished") == 20, what="20 + 3 counted")
        wait_until(lambda: gated.progress, what="the gated job running")
        samples = scrape(port)
        # Then the counters hold exactly the jobs that ran: the retry as one re-queue, nothing lost
        assert sample(samples, "jobfleet_jobs_total", queue="default", status="lost") == 0
        assert sample(samples, "jobfleet_jobs_total", queue="default", status="requeued") == 1
        assert sample(samples, "jobfleet_job_duration_seconds_count", queue="default") == 24
        assert sample(samples, "jobfleet_job_duration_seconds_bucket", queue="default", le="+Inf") == 24
        # And the fleet-wide gauges show the running job, the failed ones and the waiting one
        assert sample(samples, "jobfleet_queue_jobs", queue="default", state="started") == 1
        assert sample(samples, "jobfleet_queue_jobs", queue="default", state="failed") == 3
        assert sample(samples, "jobfleet_queue_jobs", queue="default", state="queued") == 0
        assert sample(samples, "jobfleet_queue_jobs", queue="unserved", state="queued") == 1
        assert sample(samples, "jobfleet_queue_oldest_job_age_seconds", queue="unserved") > 0
        assert sample(samples, "jobfleet_workers", state="busy") == 1
        assert sample(samples, "jobfleet_workers", state="idle") == 1
        assert sample(samples, "jobfleet_worker_restarts_total") == 0
        # When the gate opens, the last job is counted too
        gate.touch()
        assert gated.result(timeout=30) is True
        wait_until(lambda: jobs_total(port, "finished") == 21, what="21 finished")


def test_a_sigkilled_worker_s_finished_jobs_stay_counted_and_losses_are_counted(redis_url):
    sup, port = supervise_with_metrics(redis_url, "-n", "1", "--max-losses", "2")
    with sup, jobs.Queue(redis_url) as q:
        # Given 5 jobs that ran on the only worker
        for i in range(5):
            q.enqueue(job_functions.square, i).result(timeout=30)
        wait_until(lambda: jobs_total(port, "finished") == 5, what="5 finished")
        # When that worker is SIGKILLed and replaced
        (child,) = sup.wait_children(1)
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: sample(scrape(port), "jobfleet_worker_restarts_total") == 1, what="one restart")
        # Then its 5 jobs are still counted
        assert jobs_total(port, "finished") == 5
        # When a poison job kills its worker twice (--max-losses 2), and 3 more jobs run
        with pytest.raises(jobs.JobLost):
            q.enqueue(job_functions.kill_own_process).result(timeout=60)
        for i in range(3):
            q.enqueue(job_functions.square, i).result(timeout=30)
        # Then the loss was counted as a re-queue, then as lost, and the totals add up across 3 workers
        wait_until(lambda: jobs_total(port, "finished") == 8, what="8 finished")
        samples = scrape(port)
        assert sample(samples, "jobfleet_jobs_total", queue="default", status="requeued") == 1
        assert sample(samples, "jobfleet_jobs_total", queue="default", status="lost") == 1
        assert sample(samples, "jobfleet_jobs_total", queue="default", status="failed") == 0
        assert sample(samples, "jobfleet_worker_restarts_total") == 3


def test_metrics_are_off_unless_asked_and_on_loopback_unless_told(redis_url):
    # Given a supervisor without --metrics-port and one with it
    plain = Supervise(redis_url, "-n", "1", "--log-level", "info")
    metered, port = supervise_with_metrics(redis_url, "-n", "1")
    with plain, metered:
        plain.wait_children(1)
        wait_until(lambda: "started (pid" in plain.output(), what="the plain supervisor's worker")
        # Then the first listens on no port at all, the second on 127.0.0.1 only
        assert listening(plain.pid) == set()
        assert listening(metered.pid) == {("127.0.0.1", port)}


def test_a_taken_metrics_port_stops_the_supervisor_in_one_line(redis_url):
    # Given a port something else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # When a supervisor is told to serve metrics there
        result = workers("supervise", "--url", redis_url, "-n", "1", "--metrics-port", str(port))
    # Then it stops before starting any worker, saying what to do
    assert result.returncode == 1
    assert result.stderr.strip() == (f"workers: error: --metrics-port {port}: cannot listen on 127.0.0.1:{port} "
                                     "(Address already in use): choose a free port (or another --metrics-host)")


def test_a_real_prometheus_scraping_two_supervisors_sums_the_jobs_they_ran(redis_url):
    if prometheus_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but prometheus is not installed (apt-get install -y prometheus)", pytrace=False)
        pytest.skip("prometheus is not installed (apt-get install -y prometheus)")
    # Given two supervisors on one Redis, each serving metrics, and a Prometheus scraping both
    first, first_port = supervise_with_metrics(redis_url, "-n", "1")
    second, second_port = supervise_with_metrics(redis_url, "-n", "1")
    with first, second, jobs.Queue(redis_url) as q, \
            Prometheus([f"127.0.0.1:{first_port}", f"127.0.0.1:{second_port}"]) as prometheus:
        # When 30 jobs run and 2 fail
        assert q.map(job_functions.sleep_then, [0.01] * 30, timeout=60) == [None] * 30
        for _ in range(2):
            q.enqueue(job_functions.fail)
        wait_until(lambda: jobs_total(first_port, "failed") + jobs_total(second_port, "failed") == 2, what="2 failed")
        # Then Prometheus's query API sees both targets up and the fleet's totals
        wait_until(lambda: prometheus.value('count(up{job="jobfleet"} == 1)') == 2, 60, 0.5, "both targets up")
        wait_until(lambda: prometheus.value('sum(jobfleet_jobs_total{status="finished"})') == 30, 60, 0.5,
                   "30 finished in Prometheus")
        assert prometheus.value('sum(jobfleet_jobs_total{status="failed"})') == 2
        assert prometheus.value('sum(jobfleet_workers)') == 2


def test_reading_the_queue_states_costs_three_round_trips_whatever_the_queues_hold(client, monkeypatch):
    # Given a client that counts its round trips (one per command, one per pipeline)
    trips = []
    plain, pipelined = redis.Redis.execute_command, redis.client.Pipeline.execute
    monkeypatch.setattr(redis.Redis, "execute_command", lambda self, *a, **k: trips.append(a[0]) or plain(self, *a, **k))
    monkeypatch.setattr(redis.client.Pipeline, "execute", lambda self, *a, **k: trips.append("pipeline") or pipelined(self, *a, **k))
    small, large = Queue("small", connection=client), Queue("large", connection=client)
    small.enqueue(job_functions.square, 1)
    for i in range(300):
        large.enqueue(job_functions.square, i)
    # When the queue states are read
    trips.clear()
    states = {s.name: s for s in reads.queue_states(client)}
    # Then it took three round trips for 301 jobs in two queues
    assert trips == ["SMEMBERS", "pipeline", "pipeline"]
    assert states["large"].counts == {"queued": 300, "started": 0, "scheduled": 0, "deferred": 0, "failed": 0}
    assert states["small"].counts["queued"] == 1 and states["small"].oldest_queued_age_s >= 0
