"""The one entry point the CLI, tests and benchmarks use.

Every file is analysed in isolation: in its own thread with a large stack and the per-file
budget (`analyzer.budget`), and with `--jobs` > 1 in worker processes that may die without
taking the run with them (the files of a dead worker are analysed again, each alone, and
the one that kills its process is reported).

With a result cache (`analyzer.cache`), the files it holds results for are not analysed;
the others are, in worker processes only when there are at least two. The process pool is
imported only when it is used.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from analyzer import budget
from analyzer.config import Settings
from analyzer.engine import FileResult, lint_bytes, one_line
from analyzer.registry import all_rules
from analyzer.sources import Source, SourceTooLarge, read_source

T = TypeVar("T")

if TYPE_CHECKING:
    from analyzer.cache import Result, ResultCache
    from analyzer.fixer import FixOutcome


def lint_source(source: Source, settings: Settings) -> FileResult:
    """Lint one source; never raises (an unexpected error becomes an internal-error result)."""
    return _isolated(
        source,
        settings,
        lambda data: lint_bytes(
            source.display, data, settings, explicit=source.explicit, kind=source.kind
        ),
        f"analysis exceeded the {settings.timeout:g} s budget and was stopped; not"
        " analysed (raise it with --timeout or `timeout` in [tool.owui-lint])",
        "internal error",
    )


def _isolated(
    source: Source,
    settings: Settings,
    work: Callable[[bytes], T],
    over_budget: str,
    crashed: str,
) -> T | FileResult:
    """Read `source` and run `work` on its bytes in a thread of its own, under the per-file
    budget and with the cyclic collector paused; a `FileResult` saying why when the file
    cannot be read, is too large, runs over the budget or makes the engine fail."""
    display = source.display
    try:
        data = read_source(source)
    except OSError as error:  # vanished, unreadable, replaced by a FIFO, too large
        return _not_analysed(display, one_line(error.strerror or str(error)))
    if len(data) > budget.MAX_FILE_BYTES:
        return _not_analysed(display, SourceTooLarge.describe(len(data)))
    # Import every rule before the clock starts: an interrupted import would stay broken.
    all_rules()
    try:
        with _without_cyclic_gc():
            return budget.run_isolated(lambda: work(data), settings.timeout)
    except budget.BudgetExceeded:
        return _not_analysed(display, over_budget)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the engine failed (SystemExit too): go on, exit 2 at the end
        reason = one_line(f"{type(error).__name__}: {error}", 200)
        return FileResult(
            display,
            "unreadable",
            errors=[f"{display}: {crashed}: {reason} (please report this bug)"],
            internal_error=True,
        )


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is analysed.

    A file's syntax tree and index are hundreds of thousands of acyclic objects that reference
    counting frees; with the collector on, each of its passes re-scans them all (about a tenth
    of the run). The few cycles the analysis creates are collected once, after the file (the
    CLI keeps the collector off for the whole run and collects only here).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(0)
        if enabled:
            gc.enable()


def fix_source(source: Source, settings: Settings) -> FixOutcome | FileResult:
    """Lint one source and apply its safe fixes (in memory: nothing is written), under the
    same budget as `lint_source`; a `FileResult` when it could not be done."""
    from analyzer.fixer import fix_bytes

    return _isolated(
        source,
        settings,
        lambda data: fix_bytes(source.display, data, settings, explicit=source.explicit),
        f"fixing exceeded the {settings.timeout:g} s budget and was stopped; not fixed",
        "internal error while fixing",
    )


def _not_analysed(display: str, reason: str) -> FileResult:
    """A file that could not be analysed: a line on stderr, and exit 1 (like unreadable)."""
    return FileResult(display, "unreadable", errors=[f"{display}: {reason}"])


def lint_text(text: str, settings: Settings | None = None, path: str = "<string>") -> FileResult:
    """Convenience for tests and tools: lint source text as an explicitly named file."""
    source = Source(path, data=text.encode("utf-8", "surrogatepass"), explicit=True)
    return lint_source(source, settings or Settings())


def _lint_batch(batch: list[Source], settings: Settings) -> list[FileResult]:
    """Run in a worker process. A C call that never returns ends the worker (hard limit)."""
    out = []
    for source in batch:
        with budget.hard_limit(budget.hard_seconds(settings.timeout)):
            out.append(lint_source(source, settings))
    return out


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def lint_sources(
    sources: Sequence[Source],
    settings: Settings,
    jobs: int | None = None,
    on_result: Callable[[Result], None] | None = None,
    cache: ResultCache | None = None,
) -> Iterator[Result]:
    """Lint every source, in the order given, across `jobs` processes (1 = in-process).

    Results come back in input order whatever the job count, so output is deterministic.
    With a `cache`, the results it holds are read back (as `cache.CachedResult`s), only the
    other files are analysed, and their complete results are stored.
    """
    jobs = default_jobs() if jobs is None else max(1, jobs)
    if cache is not None:
        return cache.run(sources, lambda todo: lint_sources(todo, settings, jobs), on_result)
    return _notify(_lint_all(list(sources), settings, jobs), on_result)


def _lint_all(sources: list[Source], settings: Settings, jobs: int) -> Iterator[FileResult]:
    if jobs == 1 or len(sources) < 2:  # no process pool for one file
        return (lint_source(s, settings) for s in sources)
    return _pooled(sources, settings, jobs)


def _notify(
    results: Iterator[FileResult], on_result: Callable[[Result], None] | None
) -> Iterator[FileResult]:
    for result in results:
        if on_result:
            on_result(result)
        yield result


def _pooled(sources: list[Source], settings: Settings, jobs: int) -> Iterator[FileResult]:
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    results: dict[int, FileResult] = {}
    position = 0  # the next result to yield, in input order
    while position < len(sources):
        todo = [i for i in range(position, len(sources)) if i not in results]
        if not todo:  # what is left was finished before a worker died
            while position < len(sources):
                yield results.pop(position)
                position += 1
            return
        broken: list[int] | None = None
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            running: dict[int, tuple[Future[list[FileResult]], list[int]]] = {}
            for batch in _batches(sources, todo, jobs):
                future = pool.submit(_lint_batch, [sources[i] for i in batch], settings)
                running.update((i, (future, batch)) for i in batch)
            while position < len(sources):
                if position not in results:
                    future, batch = running[position]
                    try:
                        results.update(zip(batch, future.result(), strict=True))
                    except BrokenProcessPool:
                        broken = batch  # a worker died: isolate this batch, go on in a fresh pool
                        break
                yield results.pop(position)
                position += 1
            if broken is not None:  # keep what the other batches finished before it died
                for future, batch in running.values():
                    if future.done() and not future.cancelled() and future.exception() is None:
                        results.update(zip(batch, future.result(), strict=True))
        if broken is not None:
            results.update((i, _alone(sources[i], settings)) for i in broken)


def _batches(sources: list[Source], todo: list[int], jobs: int) -> list[list[int]]:
    """`todo` (indices into `sources`) in batches, the largest files first: a large file
    started last would keep one worker busy while the others wait. Small files share a
    batch, up to about a sixteenth of each worker's share of the bytes."""
    sizes = {i: _size(sources[i]) for i in todo}
    todo = sorted(todo, key=lambda i: (-sizes[i], i))
    share = max(1, sum(sizes.values()) // (jobs * 16))
    batches: list[list[int]] = []
    batch: list[int] = []
    held = 0
    for i in todo:
        batch.append(i)
        held += sizes[i]
        if held >= share or len(batch) >= 16:
            batches.append(batch)
            batch, held = [], 0
    if batch:
        batches.append(batch)
    return batches


def _size(source: Source) -> int:
    if source.data is not None:
        return len(source.data)
    try:
        return os.stat(source.fs_path or source.display).st_size
    except (OSError, ValueError):
        return 0


def _alone(source: Source, settings: Settings) -> FileResult:
    """Analyse one file in a process of its own, to tell which file kills its worker."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(_lint_batch, [source], settings).result()[0]
        except BrokenProcessPool:
            return FileResult(
                source.display,
                "unreadable",
                errors=[
                    f"{source.display}: the process analysing this file died (a crash in a"
                    " C extension, memory exhausted, or stuck past the hard time limit);"
                    " not analysed (please report this bug)"
                ],
                internal_error=True,
            )
