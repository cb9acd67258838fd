"""Runnable examples: ``python -m examples.squares`` from the repository root (``JOBFLEET_URL`` picks the queue).

A package, so that workers on other hosts import the job functions by name
(``examples.cluster_jobs``, ``examples.tasks``, and the seed programs' own functions).
"""
