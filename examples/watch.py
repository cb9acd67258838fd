"""Watch work: a map with a progress bar, a long job reporting its progress, a job that fails.

Run it on Redis with ``workers supervise`` and rq-dashboard open (docs/dashboard.md), or on
``local://``. Prints the long job's progress as the client sees it while it runs.
"""

import jobs
from examples._cli import parse_url
from examples.tasks import fetch_page, resize_images, square

if __name__ == "__main__":
    with jobs.Queue(parse_url(__doc__)) as q:
        q.map(square, range(2000), chunksize=50, timeout=120, progress=True)
        failed = q.enqueue(fetch_page, "http://example.invalid/")
        long_job = q.enqueue(resize_images, 20, 0.1)
        while True:
            try:
                long_job.result(timeout=0.5)
                break
            except jobs.ResultTimeout:
                print("long job:", long_job.progress)
        print("long job ended at", long_job.progress)
        try:
            failed.result(timeout=30)
        except jobs.JobFailed as error:
            print("failed job:", error)
