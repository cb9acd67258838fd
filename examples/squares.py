"""``Pool(processes=4).map`` on jobfleet, only the import line changed: prints [1, 4, 9, 16, 25].

    python -m examples.squares                                   # local://4
    JOBFLEET_URL=redis://localhost:6379/0 python -m examples.squares
"""

from jobs import Pool  # was: from multiprocessing import Pool


def worker_function(x):
    return x * x


if __name__ == "__main__":
    with Pool(processes=4) as pool:
        results = pool.map(worker_function, [1, 2, 3, 4, 5])
    print(results)
