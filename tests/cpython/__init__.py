"""CPython's own Pool and executor tests, adapted to run against jobs.Pool and jobs.Executor."""
