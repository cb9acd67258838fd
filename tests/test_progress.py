"""Watching work: the tqdm bar of ``progress=True`` and ``jobs.report_progress``, on every backend."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

import jobs
from jobs.backends.base import RunsInProcess
from jobs.progress import MIN_INTERVAL_S, Throttle
from tests.jobs import add, fail_on_three, report_in_a_tight_loop, report_then_wait, square
from tests.supervisor_helpers import ROOT, alive, child_pids, wait_until
from tests.test_contract import ALL, queue  # noqa: F401 - the fixture, one queue per backend


def last_bar(stderr: str) -> str:
    """The bar as a terminal shows it at the end: the text after the last carriage return."""
    return stderr.rstrip("\n").split("\r")[-1]


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_map_with_progress_draws_a_bar_that_ends_at_100_percent_and_n_of_n(queue, capfd):
    # Given a map of 30 items in chunks of 4, with progress=True
    values = queue.map(square, range(30), chunksize=4, timeout=60, progress=True)
    # Then the results are those of a map without a bar
    assert values == [x * x for x in range(30)]
    # And stderr holds a tqdm bar that reached 100% and 30/30, with a rate
    bar = last_bar(capfd.readouterr().err)
    assert bar.startswith("100%|"), bar
    assert " 30/30 [" in bar and "item/s]" in bar, bar


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_each_map_call_takes_progress_and_counts_items(queue, capfd):
    # Given starmap, imap and imap_unordered with progress=True
    assert queue.starmap(add, [(2, 3), (3, 2), (1, 1)], timeout=60, progress=True) == [5, 5, 2]
    assert list(queue.imap(square, range(5), timeout=60, progress=True)) == [0, 1, 4, 9, 16]
    assert sorted(queue.imap_unordered(square, range(7), chunksize=3, timeout=60, progress=True)) == [
        0, 1, 4, 9, 16, 25, 36]
    # Then each drew its own bar, ending at its own n/n
    # (a bar is one line, redrawn with \r: under load tqdm may redraw its last state twice)
    bars = [line for line in capfd.readouterr().err.split("\n") if "100%|" in line]
    finals = [re.findall(r"100%\|[^\r\n]*? (\d+)/(\d+) \[", bar)[-1] for bar in bars]
    assert [("3", "3"), ("5", "5"), ("7", "7")] == finals, finals


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_failing_map_closes_its_bar_where_it_stopped(queue, capfd):
    # Given a map whose item 3 raises, with progress=True
    with pytest.raises(jobs.JobFailed) as failed:
        queue.map(fail_on_three, range(6), chunksize=1, timeout=60, progress=True)
    # Then the error names the item, and the bar was closed short of the end (a newline ends it)
    assert failed.value.index == 3
    err = capfd.readouterr().err
    assert err.endswith("\n") and "6/6" not in err, err
    assert re.search(r" [0-3]/6 \[", last_bar(err)), err


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_s_progress_is_seen_from_the_client_while_it_runs(queue, tmp_path):
    # Given a job that reports 5 of 10, then waits for a gate
    gate = tmp_path / "gate"
    job = queue.enqueue(report_then_wait, str(gate), 5, 10, "halfway")
    runner = None
    if isinstance(queue.backend, RunsInProcess):  # fakeredis runs jobs when asked: in a thread here
        runner = threading.Thread(target=queue.run_pending)
        runner.start()
    try:
        # Then the client sees the report while the job runs
        assert wait_until(lambda: job.progress, 30, what="a progress report") == jobs.Progress(5, 10, "halfway")
        assert job.status == jobs.JobStatus.STARTED
    finally:
        gate.touch()
        if runner is not None:
            runner.join(30)
    # And once the job ended, its last report stays, and the job saw that it was inside a job
    assert job.result(timeout=30) is True
    assert job.progress == jobs.Progress(10, 10, "done")


@pytest.mark.parametrize("queue", ALL, indirect=True)
def test_a_job_that_reports_nothing_has_no_progress_and_a_tight_loop_ends_at_its_total(queue):
    # Given a job that never reports, and one that reports 5,000 times as fast as it can
    quiet = queue.enqueue(square, 3)
    loud = queue.enqueue(report_in_a_tight_loop, 5000)
    # Then the first has no progress, and the second's last report is its total (never held back)
    assert quiet.result(timeout=30) == 9 and quiet.progress is None
    assert loud.result(timeout=30) == 5000
    assert loud.progress == jobs.Progress(5000, 5000, None)


def test_outside_a_job_report_progress_does_nothing_and_returns_false():
    assert jobs.report_progress(1, 2, "not in a job") is False


@pytest.mark.parametrize("args, message", [
    ((-1,), "report_progress: done must be a finite number >= 0, not -1"),
    ((float("nan"),), "report_progress: done must be a finite number >= 0, not nan"),
    ((1, "10"), "report_progress: total must be a finite number >= 0, not '10'"),
    ((True,), "report_progress: done must be a finite number >= 0, not True"),
    ((1, 2, 3), "report_progress: message must be a str or None, not int"),
])
def test_a_bad_report_is_refused_with_what_to_pass(args, message):
    with pytest.raises(jobs.ConfigError) as error:
        jobs.report_progress(*args)
    assert str(error.value) == message


def test_the_rate_limit_lets_through_the_first_the_final_and_one_report_per_interval():
    # Given a throttle on a clock the test moves
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    allowed = []
    # When a job reports 100 times per interval over 3 intervals, then its total
    for step in range(300):
        now[0] = step * MIN_INTERVAL_S / 100
        allowed.append(throttle.allow("job", jobs.Progress(step, 300)))
    allowed.append(throttle.allow("job", jobs.Progress(300, 300)))
    # Then one report per interval went out, and the final one
    assert allowed.count(True) == 4 and allowed[0] and allowed[-1]
    # And another job's first report is not held back by this one's
    assert throttle.allow("other job", jobs.Progress(1, 300))


def test_ctrl_c_during_a_map_with_a_bar_closes_the_bar_and_stops_the_workers(tmp_path):
    # Given a program mapping 200 slow items on local://2 with a bar
    program = ("import jobs\nfrom tests.jobs import sleep_then\n"
               "with jobs.Queue('local://2') as q:\n    q.map(sleep_then, [0.05] * 200, chunksize=1, progress=True)\n")
    stderr = tmp_path / "stderr"
    with open(stderr, "w") as sink:
        process = subprocess.Popen([sys.executable, "-c", program], cwd=ROOT, stderr=sink, start_new_session=True)
    try:
        wait_until(lambda: re.search(r" [1-9]\d*/200 \[", stderr.read_text()), what="the bar moving")
        workers = child_pids(process.pid)
        # When Ctrl-C reaches it
        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    # Then it dies of the SIGINT (as Python does on KeyboardInterrupt), after a bar that was closed short of the end (ended by a newline)
    text = stderr.read_text()
    assert process.returncode == -signal.SIGINT and text.rstrip().endswith("KeyboardInterrupt"), text
    bar = text.split("Traceback")[0]
    assert bar.endswith("\n") and "200/200" not in bar, bar
    # And its worker processes are gone
    wait_until(lambda: not any(alive(pid) for pid in workers), 30, what="workers gone")
