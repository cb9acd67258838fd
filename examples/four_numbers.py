"""Four jobs, each printing a different number from its worker (like four Processes)."""

import jobs
from examples._cli import parse_url
from examples.tasks import show

if __name__ == "__main__":
    with jobs.Queue(parse_url(__doc__)) as q:
        handles = [q.enqueue(show, number) for number in range(4)]
        print("results:", [job.result(timeout=60) for job in handles])
