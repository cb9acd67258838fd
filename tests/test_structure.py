"""The shape the code keeps: one package knows RQ's storage, functions and modules stay small.

Run ``python -m tests.test_structure`` to print the figures these tests hold to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jobs", "workers")
FORMAT_HOME = ROOT / "jobs" / "rq_format"
#: What only code that knows RQ's storage layout writes: registries, key prefixes and key
#: builders, RQ's private attributes, the started-registry member, RQ's result and
#: lifecycle modules.
RQ_STORAGE = re.compile(
    r"Registry\(|\.key_for\(|namespace_prefix|key_template|\._status\b|\._state\b|[\"']rq:|dependents_key"
    r"|to_dict\(|from rq\.(registry|results|job_lifecycle|defaults) import|\{job_id\}:\{")
LONGEST_FUNCTION = 50
LONGEST_MODULE = 400


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def storage_knowledge() -> list[str]:
    """``path:line: text`` of every line outside :mod:`jobs.rq_format` that knows RQ's storage."""
    found = []
    for path in sources():
        if FORMAT_HOME in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if RQ_STORAGE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def function_lengths() -> list[tuple[int, str]]:
    rows = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                rows.append((node.end_lineno - node.lineno + 1, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(rows, reverse=True)


def test_only_jobs_rq_format_knows_how_rq_stores_jobs():
    # Given every module of jobs/ and workers/ outside jobs/rq_format
    # Then none builds RQ's keys, touches its registries or private attributes
    assert storage_knowledge() == []


def test_no_function_is_longer_than_the_bound():
    # Given every function and method
    too_long = [row for row in function_lengths() if row[0] > LONGEST_FUNCTION]
    # Then none is longer than LONGEST_FUNCTION lines (two functions read better than one long one)
    assert too_long == []


def test_no_module_is_longer_than_the_bound():
    too_long = [(n, str(p.relative_to(ROOT))) for p in sources() if (n := len(p.read_text().splitlines())) > LONGEST_MODULE]
    assert too_long == []


if __name__ == "__main__":
    knowing = {line.split(":", 1)[0] for line in storage_knowledge()}
    print(f"modules outside jobs/rq_format that know RQ's storage: {len(knowing)}")
    for line in storage_knowledge():
        print("  " + line)
    print("longest functions:")
    for length, where in function_lengths()[:5]:
        print(f"  {length:3d} {where}")
