"""Python anchors of procs-bench's stream cases: multiprocessing.Pool over a
trivial task (x + 1), stdlib only.

    python3 pool.py imap1 N [WORKERS]   # Pool.imap(f, xs, chunksize=1)
    python3 pool.py map N [WORKERS]     # Pool.map(f, xs), default chunksize

The pool is started and warmed (every worker has run a task) before the
clock starts, as procs-bench does with its own pool. Prints `seconds S` and
`tasks N`; checks the results.
"""

import multiprocessing
import sys
import time


def inc(x):
    return x + 1


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    with multiprocessing.Pool(workers) as pool:
        pool.map(inc, range(1000), chunksize=1)
        xs = range(n)
        started = time.perf_counter()
        if mode == "imap1":
            total = 0
            for result in pool.imap(inc, xs, chunksize=1):
                total += result
        elif mode == "map":
            total = sum(pool.map(inc, xs))
        else:
            sys.exit(f"unknown mode {mode!r}")
        seconds = time.perf_counter() - started
    expected = n * (n + 1) // 2
    if total != expected:
        sys.exit(f"wrong sum {total}, expected {expected}")
    print(f"seconds {seconds:.9f}")
    print(f"tasks {n}")


if __name__ == "__main__":
    main()
