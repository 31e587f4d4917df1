"""What `owui-lint audit` reads: the functions installed on an Open WebUI server.

Two sources, told apart by their first bytes:

- an *export*: the JSON file the admin panel's Functions → Export writes, a list of objects
  with `id`, `name`, `type`, `content`, `meta`, `is_active`, `is_global`, … (and `valves`
  when exported with them);
- the server's SQLite database (`webui.db`), whose `function` table is read through a
  read-only connection (`mode=ro`): the file is never written.

Columns of the `function` table (Open WebUI 0.12, `backend/open_webui/models/functions.py`)
this module relies on: `id` (text, primary key), `type` (`action`, `filter`, `pipe`, …) and
`content` (the Python source), and, when present, `name`, `meta` (JSON text, for its
`description`), `is_active` and `is_global` (booleans stored as 0/1). Other columns
(`user_id`, `created_by`, `version_id`, `updated_at`, `created_at`, …) are ignored.
`valves` holds the admin's stored valve values (API keys among them): it is never selected
from the database, and the export's `valves` key is dropped as soon as an entry is read, so
no output can print them.

Each function becomes an in-memory `Source` named `function:<id>`, linted by the same
engine entry as `check`; nothing here imports or runs the functions' code.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.findings import Finding, Level
from analyzer.reporters.base import AuditedFunction, RuleMeta
from analyzer.sources import Source, safe_display

SQLITE_HEADER = b"SQLite format 3\x00"
# How long to wait for a database another process is writing (Open WebUI mid-transaction).
BUSY_TIMEOUT = 5.0
# An export is JSON text; beyond this it is surely not one (and would exhaust memory).
MAX_EXPORT_BYTES = 512 * 1024 * 1024
# Only these types are linted without --all-types.
DEFAULT_TYPES = frozenset({"action"})
_HEADER_BYTES = 100  # SQLite's database header
_DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_REQUIRED_COLUMNS = ("id", "type", "content")
_PLAIN_ID = re.compile(r"[\w.-]+")
_UNSAFE = re.compile(r"[^\w.-]")
_OPTIONAL_COLUMNS = ("name", "meta", "is_active", "is_global")


class AuditError(Exception):
    """The source cannot be read as an export or a database: one line, exit 2."""


@dataclass(frozen=True)
class InstalledFunction:
    """One row of the `function` table or one entry of an export, without its valves."""

    id: str
    name: str
    type: str
    content: bytes
    active: bool
    global_: bool
    description: str = ""

    @property
    def path(self) -> str:
        """The name findings carry: `function:<id>` (inert text, whatever the id holds)."""
        return "function:" + safe_display(self.id)

    @property
    def uri(self) -> str:
        """A virtual file for SARIF, relative to the run's root: `owui-functions/<id>.py`.

        Open WebUI accepts only identifiers as ids; another id (from a hand-edited database
        or export) cannot name a folder or leave `owui-functions/`: its other characters
        become `_` and a hash of the id keeps it apart from the others. The SARIF reporter
        percent-encodes the path.
        """
        if _PLAIN_ID.fullmatch(self.id) and self.id.strip("."):
            return f"owui-functions/{self.id}.py"
        digest = hashlib.sha256(self.id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return f"owui-functions/{_UNSAFE.sub('_', self.id)[:80]}-{digest}.py"


@dataclass(frozen=True)
class Inventory:
    """What a source holds: every function, and what kind of source it was."""

    display: str
    kind: str  # "database" or "export"
    functions: tuple[InstalledFunction, ...]

    def selected(self, all_types: bool) -> list[InstalledFunction]:
        return [f for f in self.functions if all_types or f.type in DEFAULT_TYPES]

    def sources(self, all_types: bool) -> list[Source]:
        """In-memory sources for the engine, named `function:<id>`, explicitly named (a
        syntax error is reported, like a file given on the command line)."""
        return [
            Source(f.path, data=f.content, explicit=True, kind=f.type)
            for f in self.selected(all_types)
        ]


def read_inventory(source: str, stdin: bytes | None = None) -> Inventory:
    """Read an export (`-`: standard input) or a `webui.db`; raise `AuditError` when it is
    neither, or cannot be read."""
    if source == "-":
        return Inventory("<stdin>", "export", _parse_export(stdin or b"", "<stdin>"))
    display = safe_display(source)
    path = Path(source)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise AuditError(
                f"{display}: is a directory; give an export (.json) or a webui.db file"
            )
        if not stat.S_ISREG(info.st_mode):
            raise AuditError(f"{display}: not a regular file")
        if info.st_size > MAX_EXPORT_BYTES and not _is_sqlite(path):
            raise AuditError(f"{display}: too large for a functions export")
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
            if head == SQLITE_HEADER:
                kind = "database"
                data = handle.read(_HEADER_BYTES - len(head))
            else:
                kind = "export"
                data = head + handle.read()
    except FileNotFoundError:
        raise AuditError(f"{display}: no such file") from None
    except OSError as error:
        raise AuditError(f"{display}: cannot read: {error.strerror or error}") from None
    if kind == "database":
        return Inventory(display, kind, _read_database(path, display, _idle_wal(path, data)))
    if path.suffix.lower() in _DATABASE_SUFFIXES:
        raise AuditError(
            f"{display}: not an SQLite database (its header is not SQLite's); the file is"
            " corrupt or is not Open WebUI's webui.db"
        )
    return Inventory(display, kind, _parse_export(data, display))


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


# --- the export -----------------------------------------------------------------------


def _parse_export(data: bytes, display: str) -> tuple[InstalledFunction, ...]:
    hint = "expected Open WebUI's functions export (Admin Panel → Functions → Export)"
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise AuditError(
            f"{display}: not JSON: byte 0x{data[error.start]:02x} at offset {error.start}"
            f" is not UTF-8; {hint} or a webui.db"
        ) from None
    except json.JSONDecodeError as error:
        raise AuditError(
            f"{display}: not JSON: {error.msg} (line {error.lineno}, column {error.colno});"
            f" {hint} or a webui.db"
        ) from None
    except RecursionError:
        raise AuditError(f"{display}: JSON nested too deeply; {hint}") from None
    if not isinstance(document, list):
        raise AuditError(f"{display}: a JSON {_json_type(document)}, not a list; {hint}")
    functions: list[InstalledFunction] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(document, 1):
        where = f"{display}: entry {number}"
        if not isinstance(entry, dict):
            raise AuditError(f"{where} is a JSON {_json_type(entry)}, not an object; {hint}")
        entry = {k: v for k, v in entry.items() if k != "valves"}  # never kept, never shown
        function = _function(entry, where)
        if function.id in seen:
            raise AuditError(
                f"{where}: duplicate id {safe_display(function.id)!r}"
                f" (also entry {seen[function.id]})"
            )
        seen[function.id] = number
        functions.append(function)
    return tuple(sorted(functions, key=lambda f: f.id))


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _function(entry: Mapping[str, Any], where: str) -> InstalledFunction:
    def text(key: str, *, required: bool) -> str:
        value = entry.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            got = "missing" if key not in entry else f"a {_json_type(value)}"
            raise AuditError(f"{where}: `{key}` must be a string ({got})")
        return value

    ident = text("id", required=True)
    if not ident:
        raise AuditError(f"{where}: `id` is empty")
    return InstalledFunction(
        id=ident,
        name=text("name", required=False) or ident,
        type=text("type", required=True),
        content=text("content", required=False).encode("utf-8", "surrogatepass"),
        active=_flag(entry.get("is_active")),
        global_=_flag(entry.get("is_global")),
        description=_description(entry.get("meta")),
    )


def _flag(value: object) -> bool:
    """A boolean as JSON or SQLite stores it (true/1/"1"); anything else is false."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return value is True or (type(value) is int and value == 1)


def _description(meta: object) -> str:
    if isinstance(meta, (str, bytes)):
        try:
            meta = json.loads(meta)
        except (ValueError, RecursionError):
            return ""
    if isinstance(meta, dict) and isinstance(meta.get("description"), str):
        return str(meta["description"])
    return ""


# --- the database ---------------------------------------------------------------------


def _idle_wal(path: Path, header: bytes) -> bool:
    """A database in WAL mode that no connection has open: it has no `-wal` file.

    A read-only connection to it would still create `-wal` and `-shm` files beside it; opened
    as immutable it creates nothing (and nobody is writing it, so nothing can change while
    it is read).
    """
    # Bytes 18 and 19 of the header (here after the 16-byte magic): 2 means WAL.
    wal = len(header) >= 4 and header[2] == 2
    return wal and not Path(f"{path}-wal").exists()


def _read_database(path: Path, display: str, immutable: bool) -> tuple[InstalledFunction, ...]:
    # Read-only: SQLite refuses every write through this connection.
    uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.Error as error:
        raise AuditError(f"{display}: cannot open the database: {error}") from None
    try:
        columns = _columns(connection, display)
        missing = [c for c in _REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise AuditError(
                f"{display}: the `function` table has no {', '.join(missing)} column;"
                " is this Open WebUI's webui.db?"
            )
        # Named columns only: `valves` (stored secrets) is never read.
        wanted = [*_REQUIRED_COLUMNS, *(c for c in _OPTIONAL_COLUMNS if c in columns)]
        query = f'SELECT {", ".join(_quoted(c) for c in wanted)} FROM "function" ORDER BY id'
        rows = [dict(zip(wanted, row, strict=True)) for row in connection.execute(query)]
    except sqlite3.Error as error:
        raise AuditError(_database_error(display, error)) from None
    finally:
        connection.close()
    functions = []
    for number, row in enumerate(rows, 1):
        functions.append(_row_function(row, f"{display}: function row {number}"))
    return tuple(functions)


def _columns(connection: sqlite3.Connection, display: str) -> set[str]:
    found = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'function'"
    ).fetchone()
    if found is None:
        raise AuditError(
            f"{display}: no `function` table; is this Open WebUI's webui.db"
            " (usually data/webui.db in its data directory)?"
        )
    return {str(row[1]) for row in connection.execute('PRAGMA table_info("function")')}


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _database_error(display: str, error: sqlite3.Error) -> str:
    message = str(error)
    if "locked" in message or "busy" in message:
        return (
            f"{display}: the database is locked (Open WebUI is writing to it); try again,"
            " or audit a copy or an export"
        )
    if "not a database" in message or "malformed" in message:
        return f"{display}: the database is corrupt ({message})"
    return f"{display}: cannot read the database: {message}"


def _row_function(row: Mapping[str, Any], where: str) -> InstalledFunction:
    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)

    ident = text(row["id"])
    if not ident:
        raise AuditError(f"{where}: empty id")
    content = row["content"]
    return InstalledFunction(
        id=ident,
        name=text(row.get("name")) or ident,
        type=text(row["type"]),
        content=content
        if isinstance(content, bytes)
        else text(content).encode("utf-8", "surrogatepass"),
        active=_flag(row.get("is_active")),
        global_=_flag(row.get("is_global")),
        description=_description(row.get("meta")),
    )


# --- the ranking ----------------------------------------------------------------------

_LEVEL_RANK = {Level.ERROR: 0, Level.WARNING: 1, Level.NOTE: 2}


def summarise(
    functions: Sequence[InstalledFunction],
    statuses: Mapping[str, str],
    findings: Sequence[Finding],
    rules: Sequence[RuleMeta],
) -> list[AuditedFunction]:
    """Every function with its worst finding, ranked by risk, riskiest first.

    The order: the most severe finding (error, warning, note, none), then active before
    inactive, global before not, more security findings first, more findings first, and
    the id. Functions that could not be analysed, that are not action modules, or of
    another type (without --all-types) come last, in that order.
    """
    security = {r.code for r in rules if "security" in r.tags()}
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    out = []
    for function in functions:
        own = by_path.get(function.path, [])
        levels = Counter(f.level for f in own)
        worst = min((f.level for f in own), key=_LEVEL_RANK.__getitem__, default=None)
        out.append(
            AuditedFunction(
                path=function.path,
                uri=function.uri,
                id=function.id,
                name=function.name,
                type=function.type,
                active=function.active,
                global_=function.global_,
                description=function.description,
                status=statuses.get(function.path, "not-audited"),
                worst=worst,
                findings=len(own),
                security_findings=sum(1 for f in own if f.rule in security),
                by_level={level.value: levels[level] for level in Level if levels[level]},
            )
        )
    return sorted(out, key=_risk_key)


def _risk_key(f: AuditedFunction) -> tuple[int, int, int, int, int, int, str]:
    order = {"action": 0, "error": 0, "unreadable": 1, "skipped": 2}
    return (
        0 if f.findings else order.get(f.status, 3),
        4 if f.worst is None else _LEVEL_RANK[f.worst],
        0 if f.active else 1,
        0 if f.global_ else 1,
        -f.security_findings,
        -f.findings,
        f.id,
    )
