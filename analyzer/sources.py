"""What can be linted: files found under the given paths, or standard input.

Each source has a display path (POSIX, relative to the current directory when inside it)
and either a file-system path to read or bytes already read. The engine never knows the
difference.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from analyzer.budget import MAX_FILE_BYTES

if TYPE_CHECKING:
    from analyzer.config import Settings

# Folders nobody wants linted (Ruff's defaults, trimmed to what occurs in Python repos).
ALWAYS_EXCLUDED = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".owui-lint-cache",
        ".pytest_cache",
        "node_modules",
        "site-packages",
        "build",
        "dist",
    }
)


@dataclass(frozen=True)
class Source:
    display: str
    fs_path: str | None = None
    data: bytes | None = None
    explicit: bool = False
    # The kind of Open WebUI function this is: "action" for every file `check` finds;
    # `audit --all-types` also lints "filter" and "pipe" functions (see `LintRule.kinds`).
    # Not part of the result cache's key: only `check` uses the cache.
    kind: str = "action"


@dataclass(frozen=True)
class Problem:
    """A path that could not be linted, for a one-line message on stderr."""

    display: str
    reason: str
    # A notice ("no Python files found") is said on stderr but does not fail the run.
    notice: bool = False


def safe_display(text: str) -> str:
    """`text` as valid, inert Unicode: bytes of a file name that are not UTF-8 (which Python
    keeps as lone surrogates) and control characters (a newline, an ANSI escape) become
    `\\xNN`, so every reporter can write the path and it cannot act on a terminal or CI log."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates (only from a hand-made name)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():  # `inert` only changes non-printable characters
        return text
    from analyzer.engine import inert  # imports LibCST: only for the rare hostile name

    return inert(text)


def display_path(path: Path, cwd: Path) -> str:
    """POSIX path relative to `cwd` when inside it, absolute otherwise; valid Unicode."""
    absolute = Path(os.path.abspath(path))
    try:
        return safe_display(absolute.relative_to(cwd).as_posix() or ".")
    except ValueError:
        return safe_display(absolute.as_posix())


def _relative_to_root(path: Path, settings: Settings) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(settings.root).resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def force_excluded(path: Path, settings: Settings) -> bool:
    """Whether `exclude` (or a folder nobody wants linted) covers a path named on the
    command line: Ruff's `--force-exclude`, for pre-commit, which names files one by one."""
    relative = PurePosixPath(_relative_to_root(path, settings))
    if settings.is_excluded(str(relative)):
        return True
    return any(
        part in ALWAYS_EXCLUDED or part.endswith(".egg-info") for part in relative.parts[:-1]
    )


def discover(
    paths: list[str],
    settings: Settings,
    cwd: Path | None = None,
    *,
    force_exclude: bool = False,
) -> tuple[list[Source], list[Problem]]:
    """Expand command-line paths into sources, sorted, each file once.

    A path that cannot be read (missing, refused) is a problem and the others are still
    linted; `force_exclude` applies `exclude` to paths named on the command line too.
    """
    cwd = cwd or Path.cwd()
    found: dict[str, Source] = {}
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if force_exclude and force_excluded(path, settings):
            continue
        try:
            info = path.stat()
        except FileNotFoundError:
            problems.append(Problem(safe_display(raw), "no such file or directory"))
            continue
        except OSError as error:
            problems.append(Problem(safe_display(raw), error.strerror or str(error)))
            continue
        if stat.S_ISDIR(info.st_mode):
            if not _walk(path, settings, cwd, found, problems):
                problems.append(Problem(safe_display(raw), "no Python files found", notice=True))
        elif stat.S_ISREG(info.st_mode):
            display = display_path(path, cwd)
            found.setdefault(display, Source(display, str(path), explicit=True))
        else:
            problems.append(
                Problem(safe_display(raw), "not a regular file (FIFO, socket or device); skipped")
            )
    return [found[key] for key in sorted(found)], problems


def _walk(
    top: Path,
    settings: Settings,
    cwd: Path,
    found: dict[str, Source],
    problems: list[Problem],
) -> int:
    """Add the Python files under `top` to `found`; returns how many it saw."""
    seen = 0

    def on_error(error: OSError) -> None:
        name = error.filename if isinstance(error.filename, str) else str(top)
        problems.append(Problem(display_path(Path(name), cwd), error.strerror or str(error)))

    # followlinks=False: a symlinked directory is not entered, so link loops cannot recur.
    for folder, dirs, files in os.walk(top, onerror=on_error, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in ALWAYS_EXCLUDED
            and not d.endswith(".egg-info")
            and not settings.is_excluded(_relative_to_root(here / d, settings))
        )
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = here / name
            if settings.is_excluded(_relative_to_root(path, settings)):
                continue
            try:
                info = path.stat()
            except OSError as error:
                problems.append(Problem(display_path(path, cwd), error.strerror or str(error)))
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            display = display_path(path, cwd)
            found.setdefault(display, Source(display, str(path)))
            seen += 1
    return seen


class SourceTooLarge(OSError):
    """A file over `budget.MAX_FILE_BYTES`: not read in full, not analysed."""

    @staticmethod
    def describe(size: int) -> str:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        return f"file too large to analyse ({size / 1048576:.1f} MiB; the limit is {limit} MiB)"


def read_source(source: Source) -> bytes:
    """The bytes of a source, read safely from whatever the path has become since discovery.

    The path is opened without blocking (a FIFO put in place of a file must not hang the
    run) and must still be a regular file; at most `MAX_FILE_BYTES` + 1 bytes are read.
    """
    if source.data is not None:
        return source.data
    assert source.fs_path is not None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(source.fs_path, flags | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (FIFO, socket or device); skipped")
        if info.st_size > MAX_FILE_BYTES:
            raise SourceTooLarge(errno.EFBIG, SourceTooLarge.describe(info.st_size))
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # it grew while we read
        raise SourceTooLarge(errno.EFBIG, SourceTooLarge.describe(len(data)))
    return data
