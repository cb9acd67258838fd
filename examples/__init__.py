"""Runnable examples: ``python -m examples.squares [--url URL]`` from the repository root.

A package, so that workers on other hosts import the job functions by name
(``examples.cluster_jobs``, ``examples.tasks``).
"""
