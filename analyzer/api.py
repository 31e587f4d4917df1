"""The one entry point the CLI, tests and benchmarks use."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from analyzer.config import Settings
from analyzer.engine import FileResult, lint_bytes
from analyzer.sources import Source, read_source


def lint_source(source: Source, settings: Settings) -> FileResult:
    """Lint one source; never raises (an unexpected error becomes an internal-error result)."""
    try:
        data = read_source(source)
    except OSError as error:
        reason = error.strerror or str(error)
        return FileResult(source.display, "unreadable", errors=[f"{source.display}: {reason}"])
    try:
        return lint_bytes(source.display, data, settings, explicit=source.explicit)
    except Exception as error:  # the engine itself failed: keep going, exit 2 at the end
        return FileResult(
            source.display,
            "unreadable",
            errors=[f"{source.display}: internal error: {type(error).__name__}: {error}"],
            internal_error=True,
        )


def lint_text(text: str, settings: Settings | None = None, path: str = "<string>") -> FileResult:
    """Convenience for tests and tools: lint source text as an explicitly named file."""
    source = Source(path, data=text.encode("utf-8"), explicit=True)
    return lint_source(source, settings or Settings())


def _lint_batch(args: tuple[Source, Settings]) -> FileResult:
    return lint_source(*args)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def lint_sources(
    sources: Sequence[Source],
    settings: Settings,
    jobs: int | None = None,
    on_result: Callable[[FileResult], None] | None = None,
) -> Iterator[FileResult]:
    """Lint every source, in the order given, across `jobs` processes (1 = in-process).

    Results come back in input order whatever the job count, so output is deterministic.
    """
    jobs = default_jobs() if jobs is None else max(1, jobs)
    if jobs == 1 or len(sources) < 2:
        results: Iterator[FileResult] = (lint_source(s, settings) for s in sources)
        for result in results:
            if on_result:
                on_result(result)
            yield result
        return
    chunk = max(1, min(16, len(sources) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
        for result in pool.map(_lint_batch, ((s, settings) for s in sources), chunksize=chunk):
            if on_result:
                on_result(result)
            yield result
