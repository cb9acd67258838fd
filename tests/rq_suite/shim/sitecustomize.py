"""Loaded at start-up by every Python process of an RQ-suite run (the shim directory is on
PYTHONPATH), so a subprocess RQ's tests start (``rqworker``, ``rq worker``, a spawned
interpreter) reaches the suite's redis-server, never the shared one on 6379, and gets the
mode's worker class. See ``rq_suite_patch``."""

import rq_suite_patch

rq_suite_patch.redirect_redis()
try:
    rq_suite_patch.substitute_worker()
except Exception:  # noqa: BLE001 - e.g. test_key_prefix's `python -c "import rq"` with a bad
    pass  # RQ_KEY_PREFIX: the process's own `import rq` raises that error again, as the test expects
