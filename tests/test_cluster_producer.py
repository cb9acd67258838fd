"""The cluster example's producer, run in-process on ``local://`` (no Redis needed)."""

from __future__ import annotations

from collections import Counter

import pytest

from examples import cluster_producer
from examples.cluster_jobs import HOST_ID_ENV, crunch


def test_the_producer_enqueues_waits_and_counts_jobs_per_host(capsys, monkeypatch):
    # Given worker processes that call themselves host "h1"
    monkeypatch.setenv(HOST_ID_ENV, "h1")
    # When the producer runs 20 jobs
    assert cluster_producer.main(["--url", "local://2", "--jobs", "20"]) == 0
    # Then it showed progress up to 20/20 and a summary naming the one host
    out = capsys.readouterr().out
    assert "  20/20 done" in out
    summary = out[out.index("20 jobs in"):].splitlines()
    assert summary[0].endswith("on 1 host")
    assert summary[1].split() == ["h1", "20"]


def test_a_job_reports_the_host_id_it_ran_on(monkeypatch):
    monkeypatch.setenv(HOST_ID_ENV, "rack-7")
    host, digest = crunch(3)
    assert host == "rack-7" and len(digest) == 16


def test_a_summary_lists_hosts_with_their_counts_in_order():
    summary = cluster_producer.Summary(jobs=5, seconds=2.0, per_host=Counter({"b": 2, "a": 3}))
    assert str(summary).splitlines() == ["5 jobs in 2.0 s (2.5 jobs/s) on 2 hosts", "  a  3", "  b  2"]


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--jobs", "x"]])
def test_bad_arguments_exit_with_code_2(argv):
    with pytest.raises(SystemExit) as exit_info:
        cluster_producer.parse_args(argv)
    assert exit_info.value.code == 2
