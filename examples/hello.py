"""multiprocessing's first example on jobfleet: only the import line differs.

    python -m examples.hello                                   # local://
    JOBFLEET_URL=redis://localhost:6379/0 python -m examples.hello   # a worker of `workers supervise` prints it
"""

from jobs import Process  # was: from multiprocessing import Process


def worker():
    print("Worker process is running.")


if __name__ == "__main__":
    p = Process(target=worker)
    p.start()
    p.join()
