"""`check --fix` / `--diff` for the command line: fix the files whose findings carry a fix,
then write them back (atomically, in their own encoding, BOM and line endings) or print a
unified diff. The analysis itself is `analyzer.fixer`'s; this module only does the I/O."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from analyzer.sources import Source, read_source

if TYPE_CHECKING:
    from analyzer.cache import Result
    from analyzer.config import Settings


@dataclass
class FixRun:
    results: list[Result]
    # Findings the fixes made go away (with --diff: would): those a fix was offered for,
    # and those that went with them (OWA402's fix also settles the OWA401 it caused).
    fixed: int = 0
    changed: list[str] = field(default_factory=list)  # files changed (or that would be)
    diffs: list[str] = field(default_factory=list)
    internal_error: bool = False


def has_fix(result: Result) -> bool:
    return result.status == "action" and any(f.fix is not None for f in result.findings)


def fix_results(
    results: Sequence[Result],
    sources: Sequence[Source],
    settings: Settings,
    *,
    write: bool,
    warn: Callable[[str], None],
) -> FixRun:
    """Fix every file whose result offers a fix; with `write`, write it back in place.

    The returned results are those after fixing (what remains to report)."""
    from analyzer.api import fix_source
    from analyzer.fixer import FixOutcome

    by_display = {s.display: s for s in sources}
    run = FixRun(list(results))
    for index, result in enumerate(results):
        source = by_display.get(result.path)
        if source is None or not has_fix(result):
            continue
        if write and source.fs_path is None:
            warn(f"warning: {result.path}: standard input is not fixed in place (use --diff)")
            continue
        outcome = fix_source(source, settings)
        if not isinstance(outcome, FixOutcome):
            for line in outcome.errors:
                warn(f"error: {line}" if outcome.internal_error else f"warning: {line}")
            run.internal_error |= outcome.internal_error
            continue
        for line in outcome.errors:
            warn(f"error: {line}")
            run.internal_error = True
        if not outcome.changed:
            continue
        if write:
            assert source.fs_path is not None
            try:
                _write_back(source, outcome.data, outcome.encoded())
            except OSError as error:
                warn(f"error: cannot write {result.path}: {error.strerror or error}; not fixed")
                run.internal_error = True
                continue
            run.results[index] = outcome.result
        else:
            run.diffs.append(outcome.diff())
        run.fixed += max(len(result.findings) - len(outcome.result.findings), 0)
        run.changed.append(result.path)
    return run


def _write_back(source: Source, before: bytes, after: bytes) -> None:
    """Replace the file's bytes with `after` by renaming a new file over it (readers see
    the old file or the new one), keeping its permissions; through a symlink, the target
    is replaced. Refuses when the file changed since it was read."""
    assert source.fs_path is not None
    current = read_source(Source(source.display, source.fs_path, None, source.explicit))
    if current != before:
        raise OSError(0, "the file changed while it was being fixed")
    target = os.path.realpath(source.fs_path)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(after)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
