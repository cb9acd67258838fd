"""RQ's own test suite run against RQ's workers and BatchWorker: see run.py and docs/rq-suite.md."""
