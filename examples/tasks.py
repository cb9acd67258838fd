"""Job functions of the examples, in a module so that Redis workers can import them too."""

from __future__ import annotations


def square(x: int) -> int:
    return x * x


def resize_images(count: int, seconds_each: float = 0.05) -> int:
    """A long job that says how far it got (``job.progress``; rq-dashboard shows it in the job's meta)."""
    import time

    import jobs

    for done in range(1, count + 1):
        time.sleep(seconds_each)
        jobs.report_progress(done, count, f"resized image {done}")
    return count


def fetch_page(url: str) -> str:
    """Fails as a network call does, so the examples have a failed job to look at."""
    raise ConnectionError(f"cannot reach {url}: connection refused")
