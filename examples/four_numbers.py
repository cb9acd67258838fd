"""Four Processes, each printing its number, on jobfleet: only the import line changed.

    python -m examples.four_numbers                              # Process 1: 1 ... Process 4: 4
    JOBFLEET_URL=redis://localhost:6379/0 python -m examples.four_numbers   # printed by the workers
"""

from jobs import Process  # was: from multiprocessing import Process


def print_number(number):
    print(f"Process {number}: {number}")


if __name__ == "__main__":
    processes = []
    for i in range(1, 5):
        p = Process(target=print_number, args=(i,))
        processes.append(p)
        p.start()
    for p in processes:
        p.join()
