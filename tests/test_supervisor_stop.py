"""A stop that lands while a replacement child is starting is not lost."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.supervisor_helpers import Supervise


@pytest.mark.parametrize("delay_s", [0.0, 0.002, 0.005, 0.01, 0.02])
def test_sigterm_while_a_child_restarts_stops_without_waiting_out_the_shutdown_timeout(redis_url, delay_s):
    # Given an idle supervisor whose only child was just SIGKILLed (so a replacement is starting)
    with Supervise(redis_url, "-n", "1", "--shutdown-timeout", "120", "--log-level", "warning") as supervisor:
        (child,) = supervisor.wait_children(1)
        time.sleep(0.3)  # let the first child finish starting
        os.kill(child, signal.SIGKILL)
        # When SIGTERM arrives a moment later, while the replacement may be starting
        time.sleep(delay_s)
        supervisor.signal(signal.SIGTERM)
        # Then the supervisor exits 0 long before the 120 s shutdown timeout: nothing was running
        assert supervisor.wait(timeout=30) == 0, supervisor.output()
