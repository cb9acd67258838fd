"""Benchmarks of jobfleet against the tools it replaces (issue 6).

Run them all with ``python -m benchmarks`` (``--quick`` for a sub-minute pass), or one with
``python -m benchmarks.local_map``. Each script starts its own redis-server on a free port,
runs the reference and jobfleet alternately, prints medians and ratios, and stops what it
started. Speed is measured here, never asserted in tests.
"""
