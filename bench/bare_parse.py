"""The floor for a LibCST-based linter: parse every `.py` file with `libcst.parse_module`.

`python bench/bare_parse.py [-j N] PATH...` parses each file (bytes, so LibCST detects the
encoding the way a linter reading files would) and nothing else; with `-j N` it uses a pool
of N worker processes, the largest files first. A file that does not parse is counted on
stderr, not fatal. The benchmark times this whole process, interpreter start included.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Iterable
from pathlib import Path

import libcst


def python_files(paths: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*.py")) if p.is_file())
        else:
            found.append(path)
    return found


def parse(path: Path) -> bool:
    try:
        libcst.parse_module(path.read_bytes())
    except libcst.ParserSyntaxError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parse files with libcst.parse_module.")
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    files = python_files(args.paths)
    if args.jobs > 1 and len(files) > 1:
        files.sort(key=lambda p: p.stat().st_size, reverse=True)
        with multiprocessing.Pool(min(args.jobs, len(files))) as pool:
            results = list(pool.imap_unordered(parse, files, chunksize=1))
    else:
        results = [parse(path) for path in files]
    failed = results.count(False)
    if failed:
        print(f"bare_parse: {failed} of {len(files)} files did not parse", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
