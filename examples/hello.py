"""multiprocessing's first example, ``Process(target=f, args=('bob',))``, on jobfleet."""

import jobs
from examples._cli import parse_url
from examples.tasks import greet

if __name__ == "__main__":
    with jobs.Queue(parse_url(__doc__)) as q:
        job = q.enqueue(greet, "bob")
        print("the worker answered:", job.result(timeout=60))
