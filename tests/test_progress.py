"""Watching work: the tqdm bar of ``progress=True`` and ``jobs.report_progress``, on every backend."""

from __future__ import annotations

import re

import pytest

import jobs
from tests.jobs import add, fail_on_three, square
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
    finals = re.findall(r"100%\|[^\r\n]*? (\d+)/(\d+) \[", capfd.readouterr().err)
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


def test_progress_must_be_a_bool():
    with jobs.Queue("local://1") as q, pytest.raises(jobs.ConfigError, match="progress must be True or False, not 'yes'"):
        q.map(square, [1], progress="yes")  # type: ignore[arg-type]
