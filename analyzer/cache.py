"""The result cache: each file's result on disk, so that a run over unchanged files reads
the results back instead of parsing them (like Ruff's cache, one entry per file).

A file's entry is keyed by a SHA-256 of:

- the file's bytes, its display path (findings and fingerprints embed it) and whether it was
  named on the command line (OWA001 and the action test depend on that);
- the cache format, the tool version, the Python version and LibCST's version (CPython's
  syntax errors and LibCST's parser shape the results);
- a digest of the installed `analyzer` and `rules` packages: every file's content (the rule
  data in `rules/data` too), absolute path, size, modification time and inode. Editing an
  editable checkout therefore invalidates everything, and a cache made by another
  installation (copied, restored in CI, or committed to a repository to plant results)
  never matches: it can only miss, never report wrongly;
- the effective settings (everything in `[tool.owui-lint]` after the command line, except
  `timeout`, which only decides whether a file is analysed at all and such files are never
  cached, and `cache-dir`), and the ids of the enabled rules.

Only complete results are stored: a file that could not be read or analysed (too large,
over the time budget) or whose analysis hit an internal error is analysed again next time.
Standard input is never cached.

Layout, under the cache directory (default `.owui-lint-cache` next to the configuration
file in use, else in the current directory):

    .gitignore                      `*`, so the cache never reaches version control
    CACHEDIR.TAG                    for backup tools (https://bford.info/cachedir/)
    <version>/<2 hex>/<64 hex>.json one file's result
    <version>/rules-<32 hex>.json   the rules' metadata (a `registry.RuleInfo` each), so a
                                    run whose results all come from the cache does not
                                    import the rules, nor LibCST

Every entry is written to a temporary file in its final directory and renamed into place,
so runs sharing the cache (in parallel too) only ever see whole entries. An entry that
cannot be read or does not validate is a miss; a cache that cannot be written is one
warning, and the run goes on without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.findings import Confidence, Edit, Finding, Fix, Level, Location
from analyzer.registry import RULE_PACKAGE, RuleInfo, rule_catalogue
from analyzer.reporters.base import TOOL_NAME, tool_version
from analyzer.sources import Source, read_source, safe_display

if TYPE_CHECKING:
    from typing import TypeAlias

    from analyzer.config import Settings
    from analyzer.engine import FileResult, Status

# Bump when the layout or the content of entries changes (2: findings carry their fix).
FORMAT = 2
DEFAULT_DIR_NAME = ".owui-lint-cache"
GITIGNORE = f"# Automatically created by {TOOL_NAME}.\n*\n"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    f"# This file is a cache directory tag created by {TOOL_NAME}.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_CACHEABLE = frozenset({"action", "skipped", "error"})


@dataclass
class CachedResult:
    """A file's result read back from the cache: the fields of `engine.FileResult`, built
    without importing the engine (and LibCST). Only complete results are cached, so
    `errors` is always empty and `internal_error` always False."""

    path: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    internal_error: bool = False


if TYPE_CHECKING:
    # A result analysed in this run, or read back from the cache (the same fields).
    Result: TypeAlias = FileResult | CachedResult


def default_directory(settings: Settings) -> Path:
    """`.owui-lint-cache` (or `cache-dir`) in the configuration file's directory, else in
    the current directory (`Settings.root` is whichever of the two applies)."""
    return Path(settings.root) / (settings.cache_dir or DEFAULT_DIR_NAME)


def _package_dirs() -> list[str]:
    import importlib.util

    dirs = [os.path.dirname(os.path.abspath(__file__))]
    spec = importlib.util.find_spec(RULE_PACKAGE)  # a top-level package: not imported
    if spec is not None and spec.submodule_search_locations:
        dirs += [os.path.abspath(d) for d in spec.submodule_search_locations]
    return dirs


@cache
def installation_digest() -> str:
    """A digest of the installed analyzer and rules (see the module's docstring)."""
    digest = hashlib.sha256()
    for top in _package_dirs():
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                    with open(path, "rb") as handle:
                        content = hashlib.sha256(handle.read()).hexdigest()
                    stamp = f"{info.st_size} {info.st_mtime_ns} {info.st_ino} {content}"
                except OSError as error:
                    stamp = f"unreadable {error.errno}"
                digest.update(f"{path}\0{stamp}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@cache
def _runtime() -> dict[str, str]:
    # LibCST's own record of its version, read without importing LibCST (a check answered
    # from the cache never imports it) and without importlib.metadata (about 8 ms).
    libcst = "?"
    spec = importlib.util.find_spec("libcst")
    if spec is not None and spec.origin:
        try:
            with open(os.path.join(os.path.dirname(spec.origin), "_version.py"), "rb") as file:
                libcst = hashlib.sha256(file.read()).hexdigest()
        except OSError:  # pragma: no cover - a LibCST without it
            pass
    return {"tool": tool_version(), "python": sys.version, "libcst": libcst}


def _context(settings: Settings, enabled: Iterable[str]) -> bytes:
    """What every key of a run shares: everything but the file."""
    effective = settings.key_data()
    data = {
        "format": FORMAT,
        **_runtime(),
        "installation": installation_digest(),
        "settings": effective,
        "rules": sorted(enabled),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).digest()


def _dir_name(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", version) or "unknown"


def cacheable(result: Result) -> bool:
    """Only complete results: analysed (or skipped, or a syntax error) without trouble."""
    return result.status in _CACHEABLE and not result.internal_error and not result.errors


class Cache:
    """One cache directory. Reading never fails (a bad entry is a miss); the first failure
    to write is reported once through `warn` and turns writing off for the run."""

    def __init__(self, directory: Path, warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.version_dir = directory / _dir_name(tool_version())
        self._warn = warn
        self._writable = True
        self._prepared = False

    # --- the rule catalogue -----------------------------------------------------------

    def catalogue(self) -> tuple[RuleInfo, ...]:
        """Every rule's metadata: from the cache, else from the rules (then stored)."""
        installation = installation_digest()
        path = self.version_dir / f"rules-{installation[:32]}.json"
        data = self._read(path)
        if data is not None:
            try:
                if data["format"] == FORMAT and data["installation"] == installation:
                    rules = tuple(RuleInfo.from_json(item) for item in data["rules"])
                    if rules:
                        return rules
            except Exception:  # any bad entry is a miss
                pass
        rules = rule_catalogue()
        document = {
            "format": FORMAT,
            "installation": installation,
            "rules": [rule.to_json() for rule in rules],
        }
        self._write(path, document)
        return rules

    # --- results ----------------------------------------------------------------------

    def results(self, settings: Settings, enabled: Iterable[str]) -> ResultCache:
        """The cache of one run: `settings` and the ids of the `enabled` rules."""
        return ResultCache(self, _context(settings, enabled))

    def _entry(self, key: str) -> Path:
        return self.version_dir / key[:2] / f"{key}.json"

    def read_result(self, key: str, display: str) -> CachedResult | None:
        data = self._read(self._entry(key))
        if data is None:
            return None
        try:
            if data["format"] != FORMAT or data["key"] != key or data["path"] != display:
                return None
            status = data["status"]
            if status not in _CACHEABLE:
                return None
            return CachedResult(display, status, [_finding(item) for item in data["findings"]])
        except Exception:  # any malformed entry is a miss
            return None

    def write_result(self, key: str, result: Result) -> None:
        document = {
            "format": FORMAT,
            "key": key,
            "path": result.path,
            "status": result.status,
            "findings": [_finding_json(f) for f in result.findings],
        }
        self._write(self._entry(key), document)

    # --- files ------------------------------------------------------------------------

    def _read(self, path: Path) -> Any:
        try:
            with open(path, "rb") as handle:
                return json.loads(handle.read())
        except Exception:  # missing, unreadable, truncated, not JSON: a miss
            return None

    def _write(self, path: Path, document: object) -> None:
        if not self._writable:
            return
        try:
            if not self._prepared:
                self._prepare()
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, json.dumps(document, separators=(",", ":")))
        except (OSError, ValueError) as error:  # ValueError: e.g. a NUL in --cache-dir
            self._writable = False
            if self._warn is not None:
                reason = error.strerror if isinstance(error, OSError) else None
                where = safe_display(str(self.directory))
                self._warn(
                    f"warning: cannot write the cache in {where}: {reason or error};"
                    " going on without it"
                )

    def _prepare(self) -> None:
        """Create the directory with its `.gitignore` and `CACHEDIR.TAG` (once a run)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", GITIGNORE), ("CACHEDIR.TAG", CACHEDIR_TAG)):
            target = self.directory / name
            if not target.exists():
                _atomic_write(target, text)
        self._prepared = True


def _atomic_write(path: Path, text: str) -> None:
    """Write `text` to a new file beside `path`, then rename it over `path`: readers see
    the old file or the new one, never a part."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _finding_json(f: Finding) -> list[object]:
    loc = f.location
    return [
        f.rule,
        f.name,
        f.level.value,
        f.confidence.value,
        f.path,
        loc.line,
        loc.column,
        loc.end_line,
        loc.end_column,
        f.message,
        f.fingerprint,
        _fix_json(f.fix),
    ]


def _fix_json(fix: Fix | None) -> object:
    if fix is None:
        return None
    edits = [[*_location_json(e.location), e.replacement] for e in fix.edits]
    return [fix.description, edits]


def _location_json(loc: Location) -> list[int]:
    return [loc.line, loc.column, loc.end_line, loc.end_column]


def _location(numbers: Any) -> Location:
    if len(numbers) != 4 or not all(type(n) is int for n in numbers):
        raise TypeError("malformed location")
    return Location(*numbers)


def _fix(item: Any) -> Fix | None:
    if item is None:
        return None
    description, edits = item
    out = []
    for *numbers, text in edits:
        if not isinstance(text, str):
            raise TypeError("malformed edit")
        out.append(Edit(_location(numbers), text))
    if not isinstance(description, str) or not out:
        raise TypeError("malformed fix")
    return Fix(description, tuple(out))


def _finding(item: Any) -> Finding:
    """The inverse of `_finding_json`; raises on anything else."""
    rule, name, level, confidence, path, line, column, end_line, end_column, message, fp, fix = item
    texts = (rule, name, path, message, fp)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("malformed finding")
    location = _location([line, column, end_line, end_column])
    return Finding(
        rule, name, Level(level), Confidence(confidence), path, location, message, fp, _fix(fix)
    )


@dataclass(frozen=True)
class Probe:
    """A source looked up in the cache: the entry's key (None: not cacheable), the source
    to analyse on a miss (holding the bytes the key was computed from) and the hit."""

    source: Source
    key: str | None = None
    hit: CachedResult | None = None


class ResultCache:
    """The cache as one run sees it: its settings and enabled rules are fixed."""

    def __init__(self, cache: Cache, context: bytes) -> None:
        self.cache = cache
        self._context = context

    def key(self, source: Source, data: bytes) -> str:
        digest = hashlib.sha256(self._context)
        digest.update(hashlib.sha256(source.display.encode("utf-8", "surrogatepass")).digest())
        digest.update(b"\1" if source.explicit else b"\0")
        digest.update(data)
        return digest.hexdigest()

    def probe(self, source: Source) -> Probe:
        """Read the source and look it up. Standard input (bytes already in hand) and files
        that cannot be read here are not cached: the engine reports them as usual."""
        if source.fs_path is None or source.data is not None:
            return Probe(source)
        try:
            data = read_source(source)
        except OSError:
            return Probe(source)
        key = self.key(source, data)
        # The engine analyses the bytes the key was computed from, even if the file changes.
        read = Source(source.display, source.fs_path, data, source.explicit)
        return Probe(read, key, self.cache.read_result(key, source.display))

    def run(
        self,
        sources: Sequence[Source],
        analyse: Callable[[list[Source]], Iterable[Result]],
        on_result: Callable[[Result], None] | None = None,
    ) -> Iterator[Result]:
        """Every source's result, in order: from the cache, or from `analyse`, called once
        with every miss (and not at all when there is none). New results are stored."""
        probes = [self.probe(source) for source in sources]
        misses = [probe.source for probe in probes if probe.hit is None]
        fresh = iter(analyse(misses) if misses else ())
        for probe in probes:
            result: Result
            if probe.hit is not None:
                result = probe.hit
            else:
                result = next(fresh)
                self.store(probe, result)
            if on_result:
                on_result(result)
            yield result

    def store(self, probe: Probe, result: Result) -> None:
        if probe.key is not None and probe.hit is None and cacheable(result):
            self.cache.write_result(probe.key, result)
