"""docs/monitoring.md's Prometheus config and alert rules, checked by Prometheus's own promtool.

The two YAML blocks are cut out of the doc as written (their first line names the file), so the
doc cannot drift from what was checked. Skips on a laptop without prometheus; fails in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.supervisor_helpers import ROOT

DOC = ROOT / "docs" / "monitoring.md"


def yaml_blocks() -> dict[str, str]:
    """The doc's ```yaml blocks, by the file name their first line gives (``# prometheus.yml``)."""
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", DOC.read_text(), re.S)
    return {name: body for name, body in blocks}


@pytest.fixture
def promtool(tmp_path):
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but promtool is missing (apt-get install -y prometheus)", pytrace=False)
        pytest.skip("promtool is missing (apt-get install -y prometheus)")
    for name, body in yaml_blocks().items():
        (tmp_path / name).write_text(body)
    return found


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_doc_holds_a_scrape_config_and_alert_rules_for_lost_jobs_failures_and_backlog_age():
    blocks = yaml_blocks()
    assert set(blocks) == {"prometheus.yml", "jobfleet.rules.yml"}
    for alert in ("JobfleetJobsLost", "JobfleetFailureRateHigh", "JobfleetBacklogOld"):
        assert f"alert: {alert}" in blocks["jobfleet.rules.yml"]


def test_promtool_accepts_the_scrape_config_and_the_rules(promtool, tmp_path):
    config = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run(promtool, "check", "rules", "jobfleet.rules.yml", cwd=tmp_path)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 5 rules found" in rules.stdout


def test_each_alert_fires_on_the_series_it_is_meant_for_and_not_on_healthy_ones(promtool, tmp_path):
    # Given made-up series: a lost job, a 17% and a 5% failure rate, a backlog ageing, restarts, a target down
    (tmp_path / "rules_test.yml").write_text((ROOT / "tests" / "monitoring_rules_test.yml").read_text())
    # Then promtool's rule unit test finds each alert exactly where expected
    result = run(promtool, "test", "rules", "rules_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
