"""Wide Finder in Python, as Fredrik Lundh's wf-6: the log is split into
newline-aligned chunks, a multiprocessing.Pool maps the file in each worker
and runs the regular expression over its chunks, the parent merges the
counts and prints the top 10. Stdlib only; the procs-bench anchor of the
Wide Finder case.

    python3 widefinder.py LOG CHUNK_BYTES [WORKERS]

Prints `seconds S` (from before the pool starts to the top 10) and one
`top COUNT KEY` line per article, highest first, ties broken by key.
"""

import collections
import mmap
import re
import sys
import time

import multiprocessing

# The pattern of the Rust scan: Wide Finder's, with `\n` excluded from the
# article so that a match never spans two lines.
PATTERN = re.compile(rb"GET /ongoing/When/\d\d\dx/(\d\d\d\d/\d\d/\d\d/[^ .\n]+) ")

_maps = {}


def mapped(path):
    """The whole file, mapped once per worker process."""
    if path not in _maps:
        with open(path, "rb") as f:
            _maps[path] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return _maps[path]


def chunks(path, target):
    """(offset, length) of newline-aligned chunks of about `target` bytes,
    split exactly as the Rust `split` does."""
    data = mapped(path)
    size = len(data)
    start = 0
    while start < size:
        probe = min(start + target, size)
        newline = data.find(b"\n", probe - 1)
        end = size if newline < 0 else newline + 1
        yield start, end - start
        start = end


def scan(task):
    path, offset, length = task
    data = mapped(path)
    return collections.Counter(PATTERN.findall(data, offset, offset + length))


def main():
    path, target = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    started = time.perf_counter()
    counts = collections.Counter()
    with multiprocessing.Pool(workers) as pool:
        tasks = [(path, offset, length) for offset, length in chunks(path, target)]
        for part in pool.imap_unordered(scan, tasks, chunksize=1):
            counts.update(part)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    seconds = time.perf_counter() - started
    print(f"seconds {seconds:.9f}")
    for key, count in top:
        print(f"top {count} {key.decode('utf-8', 'replace')}")


if __name__ == "__main__":
    main()
