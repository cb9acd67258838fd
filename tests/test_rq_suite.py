"""RQ's own test suite is BatchWorker's contract (issue 17): what passes with RQ's SimpleWorker
passes with BatchWorker, except the tests listed in ``tests/rq_suite/exceptions.txt`` with why.

It downloads RQ's sdist for the installed version (pip) and needs ``redis-server``: without
either it skips on a laptop and fails when ``CI`` is set. ``python -m tests.rq_suite.run`` runs
the same suite in all three modes and prints the full summary (docs/rq-suite.md).
"""

from __future__ import annotations

import os

import pytest

from tests.rq_suite import run as suite
from tests.rq_suite.run import ModeRun


def _suite_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but RQ's test suite cannot run: {reason}", pytrace=False)
    pytest.skip(f"RQ's test suite skipped: {reason}")


def _regressions(root, tests: list[str] | None = None, tag: str = "") -> tuple[list[str], ModeRun]:
    """Run ``tests`` (default: all) with BatchWorker, those that do not pass again with RQ's
    SimpleWorker; the ones that pass only with SimpleWorker, and the BatchWorker run."""
    batch = suite.run_mode("batch", root, tests, tag=tag)
    not_passed = sorted(t for t, row in batch.tests.items() if row["outcome"] != "passed")
    simple = suite.run_mode("simple", root, not_passed, tag=tag)
    # Both runs completed: tests collected and recorded, pytest exited normally
    ran = set(batch.tests) == set(tests) if tests else batch.count("passed") > 0  # a re-run may pass none
    assert batch.returncode in (0, 1) and ran, f"the BatchWorker run broke: see {batch.log}"
    assert simple.returncode in (0, 1, 5) and set(simple.tests) == set(not_passed), \
        f"the SimpleWorker run did not run the {len(not_passed)} tests it was given: see {simple.log}"
    return suite.regressions(simple, batch), batch


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(4 * suite.MODE_TIMEOUT_S)
def test_every_rq_test_that_passes_with_simpleworker_passes_with_batchworker():
    # Given RQ's own tests for the installed rq version and the listed exceptions
    exceptions = suite.load_exceptions()
    try:
        root = suite.fetch_tests()
        # When they all run with BatchWorker in place of RQ's workers, and those that fail
        # run again with RQ's SimpleWorker
        regressions, batch = _regressions(root)
        unlisted = [t for t in regressions if t not in exceptions]
        if unlisted:  # RQ's timing-based tests (worker pool, sleeps) can fail once on a loaded machine
            unlisted = [t for t in _regressions(root, unlisted, tag="again")[0] if t in unlisted]
    except suite.SuiteUnavailable as exc:
        _suite_unavailable(str(exc))

    # Then every test that passes with SimpleWorker passes with BatchWorker, unless listed
    failures = [f"{t}: {batch.tests[t]['message']}" for t in unlisted]
    assert not failures, (f"{len(failures)} of RQ's tests pass with SimpleWorker but fail with BatchWorker twice "
                          f"(fix it, or list it in {suite.EXCEPTIONS} with why):\n" + "\n".join(failures))
    # And no listed test passes with BatchWorker by now, or is gone from RQ's suite (the list only shrinks)
    stale = sorted(t for t, (kind, _) in exceptions.items()
                   if kind != "timing" and batch.tests.get(t, {}).get("outcome", "passed") == "passed")
    assert not stale, f"listed in {suite.EXCEPTIONS} but passing with BatchWorker (remove them):\n" + "\n".join(stale)


def test_a_test_aborted_with_batchworker_that_passes_with_simpleworker_is_a_regression():
    # Given one test that passes in both modes, one that passes only with SimpleWorker (BatchWorker
    # aborted it) and one that fails with both
    simple = ModeRun("simple", 0.0, 1, {"a": {"outcome": "passed"}, "b": {"outcome": "passed"},
                                        "c": {"outcome": "failed"}})
    batch = ModeRun("batch", 0.0, 1, {"a": {"outcome": "passed"}, "b": {"outcome": "aborted"},
                                      "c": {"outcome": "failed"}})
    # When they are compared / Then only the aborted one counts against BatchWorker
    assert suite.regressions(simple, batch) == ["b"]


def test_an_exception_line_without_a_kind_is_refused_with_the_format_to_use(tmp_path):
    # Given an exceptions file whose second entry says neither "to fix", "by design" nor "timing"
    listed = tmp_path / "exceptions.txt"
    listed.write_text("# comment\ntests/test_a.py::t | to fix | item 1\ntests/test_b.py::t | later | item 2\n")
    # When it is loaded / Then the error names the line and the format
    with pytest.raises(ValueError, match=r"exceptions.txt:3: write '<test id> \| to fix\|by design\|timing \| <reason>'"):
        suite.load_exceptions(listed)
