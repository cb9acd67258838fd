"""``Pool(4).map(square, [1, 2, 3, 4, 5])`` on jobfleet: prints [1, 4, 9, 16, 25]."""

import jobs
from examples._cli import parse_url
from examples.tasks import square

if __name__ == "__main__":
    with jobs.Queue(parse_url(__doc__)) as q:
        print(q.map(square, [1, 2, 3, 4, 5], timeout=60))
