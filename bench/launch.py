"""Run one measured command and write `seconds max_rss status` to a file (bench/run's probe).

`python -S bench/launch.py OUT ARGV...` spawns ARGV (inheriting the working directory, the
environment and the standard streams), waits for it with `os.wait4`, and writes the wall
time, the peak RSS (`ru_maxrss`: of the command or of any process of its tree that was
waited for) and the raw wait status to OUT.

Why a launcher: on Linux a child's `ru_maxrss` starts from the resident size of the process
it was forked from (the copied address space's high-water mark is carried over through
`exec`), so a benchmark harness that has grown by generating its corpora would report its
own size as every command's peak. This process is tiny (`-S`, only `os`, `sys` and `time`),
so the floor it passes on is below any Python command's own size.
"""

import os
import sys
import time


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
    except OSError as error:
        print(f"launch: cannot run {argv[0]}: {error}", file=sys.stderr)
        return 127
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    with open(out, "w", encoding="ascii") as handle:
        handle.write(f"{elapsed!r} {usage.ru_maxrss} {status}\n")
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
