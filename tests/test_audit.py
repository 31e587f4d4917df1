"""`owui-lint audit`: an Open WebUI instance's functions, from its webui.db or an export.

The database is a real SQLite file with the `function` table as Open WebUI 0.12 creates it
(plus a legacy and a future column, which the reader must ignore); the export is the JSON
list the admin panel's Functions → Export writes, valves included.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from analyzer.cli import main

FRONTMATTER = '"""\ntitle: T\nauthor: me\nversion: 0.1.0\ndescription: D\n"""\n'

# Deletes the account named in the message for whoever clicks: OWA301 (error, security).
DELETES_USERS = FRONTMATTER + (
    "from open_webui.models.users import Users\n"
    "\n"
    "\n"
    "class Action:\n"
    "    async def action(self, body, __user__=None):\n"
    '        await Users.delete_user_by_id(body["messages"][-1]["content"])\n'
    "        return None\n"
)
# A synchronous action: OWA107 (warning) only.
SYNC_ACTION = FRONTMATTER + ("class Action:\n    def action(self, body):\n        return None\n")
CLEAN = FRONTMATTER + (
    "class Action:\n"
    "    async def action(self, body, __user__=None, __event_emitter__=None):\n"
    "        if __event_emitter__:\n"
    "            await __event_emitter__(\n"
    '                {"type": "status", "data": {"description": "Hi", "done": True}}\n'
    "            )\n"
    "        return None\n"
)
# A filter whose Valves hard-code an API key: OWA204 and OWA205 with --all-types.
FILTER = FRONTMATTER + (
    "from pydantic import BaseModel\n"
    "\n"
    "\n"
    "class Filter:\n"
    "    class Valves(BaseModel):\n"
    '        api_key: str = "sk-proj-9fQ2xL7mN4vB8cR1tY6wZ3kH5jD0sA2eG7uI"\n'
    "\n"
    "    def __init__(self):\n"
    "        self.valves = self.Valves()\n"
    "\n"
    "    def inlet(self, body, __user__=None):\n"
    "        return body\n"
)
BROKEN_PIPE = "class Pipe:\n    def pipe(self, body)\n        return body\n"
NOT_AN_ACTION = FRONTMATTER + "def helper():\n    return 1\n"

# Stored valve values (what an admin typed in the Valves form): never to be printed.
VALVE_SECRET = "sk-live-STORED-VALVE-7f3a9c"

# Open WebUI 0.12's `function` table (backend/open_webui/models/functions.py and its
# migrations), as SQLAlchemy creates it on SQLite, with `created_by` (a column of the
# first migration, still in old databases) and a made-up future column.
CREATE_TABLE = """
CREATE TABLE function (
    id VARCHAR NOT NULL,
    user_id VARCHAR,
    created_by TEXT,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT,
    meta JSON,
    valves JSON,
    is_active BOOLEAN,
    is_global BOOLEAN,
    updated_at BIGINT,
    created_at BIGINT,
    version_id TEXT,
    future_column TEXT,
    PRIMARY KEY (id),
    UNIQUE (id)
);
CREATE INDEX is_global_idx ON function (is_global);
CREATE TABLE user (id VARCHAR NOT NULL, name VARCHAR, PRIMARY KEY (id));
"""

FUNCTIONS: list[dict[str, Any]] = [
    {"id": "clean_one", "name": "Clean one", "type": "action", "content": CLEAN,
     "is_active": True, "is_global": False},
    {"id": "delete_users", "name": "Delete users", "type": "action", "content": DELETES_USERS,
     "is_active": True, "is_global": True},
    {"id": "dormant_delete", "name": "Dormant delete", "type": "action",
     "content": DELETES_USERS, "is_active": False, "is_global": False},
    {"id": "sync_one", "name": "Sync one", "type": "action", "content": SYNC_ACTION,
     "is_active": True, "is_global": False},
    {"id": "helper_only", "name": "Helper only", "type": "action", "content": NOT_AN_ACTION,
     "is_active": False, "is_global": False},
    {"id": "a_filter", "name": "A filter", "type": "filter", "content": FILTER,
     "is_active": True, "is_global": True},
    {"id": "broken_pipe", "name": "Broken pipe", "type": "pipe", "content": BROKEN_PIPE,
     "is_active": False, "is_global": False},
]  # fmt: skip


def export_entry(f: dict[str, Any]) -> dict[str, Any]:
    """An entry as `GET /api/v1/functions/export?include_valves=true` returns it."""
    return {
        "id": f["id"],
        "user_id": "7c1f0f6e-user",
        "name": f["name"],
        "type": f["type"],
        "content": f["content"],
        "meta": {"description": f"What {f['name']} does", "manifest": {"title": f["name"]}},
        "is_active": f["is_active"],
        "is_global": f["is_global"],
        "updated_at": 1733300000,
        "created_at": 1733200000,
        "valves": {"api_key": VALVE_SECRET, "priority": 0},
    }


def build_db(path: Path, functions: list[dict[str, Any]] = FUNCTIONS) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(CREATE_TABLE)
    connection.executemany(
        "INSERT INTO function (id, user_id, created_by, name, type, content, meta, valves,"
        " is_active, is_global, updated_at, created_at, version_id, future_column)"
        " VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'x')",
        [
            (
                e["id"],
                e["user_id"],
                e["name"],
                e["type"],
                e["content"],
                json.dumps(e["meta"]),
                json.dumps(e["valves"]),
                e["is_active"],
                e["is_global"],
                e["updated_at"],
                e["created_at"],
            )
            for e in map(export_entry, functions)
        ],
    )
    connection.commit()
    connection.close()
    return path


def build_export(path: Path, functions: list[dict[str, Any]] = FUNCTIONS) -> Path:
    path.write_text(json.dumps([export_entry(f) for f in functions], indent=2), "utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return build_db(tmp_path / "webui.db")


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return build_export(tmp_path / "functions-export-1733300000.json")


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the database ---------------------------------------------------------------------


def test_database_findings_name_the_function_and_rank_by_risk(db: Path) -> None:
    code, out, err = run("audit", "webui.db", "-j", "1")
    assert code == 1, err
    lines = out.splitlines()
    findings = [line for line in lines if line.startswith("function:")]
    assert findings == [
        "function:delete_users:12:15: OWA301 [error] `Users.delete_user_by_id` runs for every"
        " user who clicks this button (it changes data that is not the clicking user's own);"
        ' check `__user__["role"] == "admin"` first and return otherwise',
        "function:dormant_delete:12:15: OWA301 [error] `Users.delete_user_by_id` runs for every"
        " user who clicks this button (it changes data that is not the clicking user's own);"
        ' check `__user__["role"] == "admin"` first and return otherwise',
        "function:sync_one:8:9: OWA107 [warning] `def action` is not `async`: Open WebUI calls"
        " it on the server's event loop, so while it runs no other user gets an answer; write"
        " `async def action(...)` (and move blocking work into `await asyncio.to_thread(...)`)",
    ]
    start = lines.index("Functions by risk, riskiest first (webui.db):")
    ranking = [" ".join(line.split()) for line in lines[start + 1 :]]
    assert ranking == [
        'error function:delete_users "Delete users" (action; active, global): 1 error',
        'error function:dormant_delete "Dormant delete" (action; inactive): 1 error',
        'warning function:sync_one "Sync one" (action; active): 1 warning',
        'clean function:clean_one "Clean one" (action; active)',
        'skipped function:helper_only "Helper only" (action; inactive): not an action module'
        " (no module-level `Action`); not analysed",
        "2 functions of other types not audited (filter: 1, pipe: 1); --all-types lints them",
        "Found 3 findings (2 errors, 1 warning) in 3 functions: 5 of the 7 functions in"
        " webui.db audited (1 not an action module).",
    ]


def test_database_is_opened_read_only_and_never_written(db: Path) -> None:
    before = digest(db)
    listing = sorted(p.name for p in db.parent.iterdir())
    for fmt in ("text", "json", "sarif", "github", "html"):
        code, _, _ = run("audit", str(db), "--format", fmt, "--all-types", "-j", "1")
        assert code == 1
    assert digest(db) == before
    # No journal, WAL or shared-memory file was created next to it.
    assert sorted(p.name for p in db.parent.iterdir()) == listing


def test_database_in_wal_mode_while_the_server_holds_it_open(db: Path) -> None:
    server = sqlite3.connect(db)
    assert server.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    server.execute("UPDATE function SET name = 'Renamed' WHERE id = 'sync_one'")
    server.commit()  # the change is in webui.db-wal, not yet in webui.db
    before = digest(db)
    try:
        code, out, err = run("audit", "webui.db", "--format", "json")
        after = digest(db)  # before the server's close checkpoints its WAL into the file
    finally:
        server.close()
    assert code == 1, err
    names = {f["id"]: f["name"] for f in json.loads(out)["functions"]}
    assert names["sync_one"] == "Renamed"
    assert after == before


def test_database_in_wal_mode_that_nothing_has_open(db: Path) -> None:
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    connection.close()  # checkpointed: no -wal or -shm file any more
    listing = sorted(p.name for p in db.parent.iterdir())
    before = digest(db)
    code, out, _ = run("audit", "webui.db", "--format", "json")
    assert code == 1
    assert json.loads(out)["summary"]["findings"] == 3
    assert digest(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == listing  # no -wal, no -shm


def test_columns_beyond_the_documented_ones_are_ignored_and_missing_optional_ones_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect("minimal.db")
    connection.execute("CREATE TABLE function (id TEXT PRIMARY KEY, type TEXT, content TEXT)")
    connection.execute("INSERT INTO function VALUES ('only', 'action', ?)", (SYNC_ACTION,))
    connection.commit()
    connection.close()
    code, out, _ = run("audit", "minimal.db")
    assert code == 1
    assert 'warning  function:only  "only" (action; inactive): 1 warning' in out


def test_odd_values_in_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever SQLite's loose typing lets a row hold: a BLOB that is not UTF-8, NULLs,
    a file name with URI characters."""
    monkeypatch.chdir(tmp_path)
    name = "web?ui#1 %20.db"
    connection = sqlite3.connect(name)
    # As the first migration created it: every column but the id nullable.
    connection.execute(
        "CREATE TABLE function (id VARCHAR NOT NULL, user_id VARCHAR, created_by TEXT,"
        " name TEXT, type TEXT, content TEXT, meta JSON, valves JSON, is_active BOOLEAN,"
        " is_global BOOLEAN, updated_at BIGINT, created_at BIGINT, PRIMARY KEY (id))"
    )
    connection.executemany(
        "INSERT INTO function (id, name, type, content, meta, is_active, is_global)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("blob", None, "action", b"class Action:\n    x = '\xff'\n", "not json", None, "1"),
            ("nulls", "N", "action", None, None, None, None),
            ("number", "Num", "action", 42, '{"description": 7}', 1, 0),
        ],
    )
    connection.commit()
    connection.close()
    code, out, err = run("audit", name, "--format", "json")
    assert code == 1, err
    data = json.loads(out)
    assert [(f["path"], f["rule"]) for f in data["findings"]] == [("function:blob", "OWA001")]
    functions = {
        f["id"]: (f["name"], f["active"], f["global"], f["status"]) for f in data["functions"]
    }
    assert functions == {
        "blob": ("blob", False, True, "error"),
        "nulls": ("N", False, False, "skipped"),
        "number": ("Num", True, False, "skipped"),
    }


# --- the export -----------------------------------------------------------------------


def test_export_gives_the_same_report_as_the_database(db: Path) -> None:
    exported = build_export(db.parent / "export.json")
    _, from_db, _ = run("audit", "webui.db", "--format", "json", "--all-types")
    _, from_export, _ = run("audit", str(exported.name), "--format", "json", "--all-types")
    a, b = json.loads(from_db), json.loads(from_export)
    assert a["source"] == {"path": "webui.db", "kind": "database"}
    assert b["source"] == {"path": "export.json", "kind": "export"}
    assert a["functions"] == b["functions"]
    assert a["findings"] == b["findings"]
    assert a["summary"] == b["summary"]


def test_export_from_standard_input(export: Path) -> None:
    code, out, _ = run("audit", "-", "--format", "json", stdin=export.read_bytes())
    assert code == 1
    data = json.loads(out)
    assert data["source"] == {"path": "<stdin>", "kind": "export"}
    assert data["summary"]["findings"] == 3


def test_json_lists_every_function_ranked(export: Path) -> None:
    code, out, _ = run("audit", export.name, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"] == {
        "functions": 7,
        "audited": 5,
        "analysed": 4,
        "skipped": 1,
        "not_audited": 2,
        "findings": 3,
        "by_rule": {"OWA107": 1, "OWA301": 2},
    }
    ranked = [(f["id"], f["risk"], f["active"], f["global"]) for f in data["functions"]]
    assert ranked == [
        ("delete_users", "error", True, True),
        ("dormant_delete", "error", False, False),
        ("sync_one", "warning", True, False),
        ("clean_one", "clean", True, False),
        ("helper_only", "skipped", False, False),
        ("a_filter", "-", True, True),
        ("broken_pipe", "-", False, False),
    ]
    assert {f["path"] for f in data["findings"]} == {
        "function:delete_users",
        "function:dormant_delete",
        "function:sync_one",
    }


def test_all_types_lints_every_function(export: Path) -> None:
    _, out, _ = run("audit", export.name, "--format", "json")
    assert "function:broken_pipe" not in {f["path"] for f in json.loads(out)["findings"]}
    code, out, _ = run("audit", export.name, "--format", "json", "--all-types")
    assert code == 1
    data = json.loads(out)
    broken = [f for f in data["findings"] if f["path"] == "function:broken_pipe"]
    assert [(f["rule"], f["line"]) for f in broken] == [("OWA001", 2)]
    # A filter gets the rules that apply to every function Open WebUI loads (its Valves),
    # not the action rules.
    in_filter = [
        (f["rule"], f["line"]) for f in data["findings"] if f["path"] == "function:a_filter"
    ]
    assert in_filter == [("OWA204", 12), ("OWA205", 12)]
    status = {f["id"]: f["status"] for f in data["functions"]}
    assert status["a_filter"] == "action"
    assert status["broken_pipe"] == "error"
    assert data["summary"]["not_audited"] == 0
    ranked = [(f["id"], f["risk"]) for f in data["functions"]]
    assert ranked[:3] == [
        ("a_filter", "error"),
        ("delete_users", "error"),
        ("dormant_delete", "error"),
    ]


def test_check_still_skips_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("my_filter.py").write_text(FILTER)
    code, out, _ = run("check", "my_filter.py", "--format", "json")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert (summary["actions"], summary["skipped"], summary["findings"]) == (0, 1, 0)


def test_only_clean_actions_exit_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    build_db(tmp_path / "webui.db", [FUNCTIONS[0], FUNCTIONS[5]])
    code, out, _ = run("audit", "webui.db")
    assert code == 0
    assert out.splitlines()[-1] == "No findings: 1 of the 2 functions in webui.db audited."


# --- formats --------------------------------------------------------------------------


def test_sarif_uses_virtual_relative_uris(db: Path) -> None:
    code, out, _ = run("audit", "webui.db", "--format", "sarif")
    assert code == 1
    run_ = json.loads(out)["runs"][0]
    locations = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        )
        for r in run_["results"]
    }
    assert locations == {
        ("owui-functions/delete_users.py", "%SRCROOT%"),
        ("owui-functions/dormant_delete.py", "%SRCROOT%"),
        ("owui-functions/sync_one.py", "%SRCROOT%"),
    }


def test_sarif_uri_of_an_id_that_is_not_an_identifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    odd = [
        dict(FUNCTIONS[3], id="../../etc/passwd"),
        dict(FUNCTIONS[3], id="..\\..\\x"),
        dict(FUNCTIONS[3], id="café"),
    ]
    build_export(tmp_path / "export.json", odd)
    _, out, _ = run("audit", "export.json", "--format", "sarif")
    uris = sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(out)["runs"][0]["results"]
    )
    assert len(uris) == 3
    assert uris[2] == "owui-functions/caf%C3%A9.py"  # encoded once
    for uri in uris[:2]:
        assert uri.startswith("owui-functions/") and uri.count("/") == 1
        assert "%2F" not in uri and "%5C" not in uri and "%25" not in uri
    assert uris[0] != uris[1]


# shared/ sits beside the checkout (CI) or at the workplace's root.
VALIDATOR = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[2] / "shared/tools/validate-sarif",
            Path("/work/shared/tools/validate-sarif"),
        )
        if p.exists()
    ),
    None,
)


@pytest.mark.skipif(VALIDATOR is None, reason="the SARIF multitool wrapper is not here")
def test_sarif_passes_the_multitool_with_githubs_rules(db: Path) -> None:
    odd = [dict(FUNCTIONS[3], id='x"><svg onload=alert(2)> é/..\\'), dict(FUNCTIONS[1], id="naïve")]
    build_export(db.parent / "export.json", FUNCTIONS + odd)
    code, _, _ = run("audit", "export.json", "--all-types", "--format", "sarif", "-o", "a.sarif")
    assert code == 1
    checked = subprocess.run(
        [str(VALIDATOR), "--strict", "a.sarif"], capture_output=True, text=True, timeout=300
    )
    if checked.returncode == 2:
        pytest.skip(f"the validator could not run: {checked.stderr[-300:]}")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 error(s), 0 warning(s)" in checked.stdout


def test_github_annotations_name_the_function(db: Path) -> None:
    code, out, _ = run("audit", "webui.db", "--format", "github")
    assert code == 1
    assert out.splitlines()[0].startswith("::error file=function%3Adelete_users,line=12,col=15,")


def every_output(source: str, tmp: Path) -> Iterator[str]:
    for fmt in ("text", "json", "sarif", "github", "html"):
        for extra in ([], ["--show-source", "--statistics"]):
            code, out, err = run("audit", source, "--all-types", "--format", fmt, *extra)
            assert code == 1
            yield out + err
        target = tmp / f"report.{fmt}"
        run("audit", source, "--all-types", "--format", fmt, "-o", str(target))
        yield target.read_text("utf-8")


def test_stored_valve_values_are_never_printed(db: Path) -> None:
    exported = build_export(db.parent / "export.json")
    seen = 0
    for source in ("webui.db", exported.name):
        for text in every_output(source, db.parent):
            assert VALVE_SECRET not in text
            assert "STORED-VALVE" not in text
            seen += 1
    assert seen == 2 * 5 * 3


def test_hostile_names_cannot_act_on_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evil = dict(FUNCTIONS[3], id="evil\x1b]0;pwned\x07", name="Sync\x1b[2J\nFAKE: clean")
    build_export(tmp_path / "export.json", [evil])
    code, out, err = run("audit", "export.json")
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out
    assert "FAKE: clean" not in out.splitlines()[-3]  # the name stays on its ranking line
    assert "function:evil\\x1b]0;pwned\\x07:8:9: OWA107" in out


def test_function_code_is_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('x')\n" + CLEAN
    build_db(tmp_path / "webui.db", [dict(FUNCTIONS[0], content=payload)])
    run("audit", "webui.db", "--all-types")
    assert not marker.exists()


# --- bad input: one clear line, exit 2 ------------------------------------------------


def bad(source: str, *extra: str, stdin: bytes | None = None) -> str:
    code, out, err = run("audit", source, *extra, stdin=stdin)
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("owui-lint: error: ") and err.count("\n") == 1, err
    return err


def test_not_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("notes.json").write_text("id,name\nx,y\n")
    assert "notes.json: not JSON: Expecting value (line 1, column 1)" in bad("notes.json")
    Path("latin.json").write_bytes(b'[{"name": "caf\xe9"}]')
    assert "latin.json: not JSON: byte 0xe9 at offset 14 is not UTF-8" in bad("latin.json")
    assert "<stdin>: not JSON" in bad("-", stdin=b"")
    Path("deep.json").write_text("[" * 100000 + "]" * 100000)
    assert "deep.json" in bad("deep.json")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"functions": []}, "a JSON object, not a list"),
        (["action"], "entry 1 is a JSON string, not an object"),
        ([{"name": "x", "type": "action", "content": ""}], "entry 1: `id` must be a string (missing)"),
        ([{"id": 3, "type": "action", "content": ""}], "entry 1: `id` must be a string (a number)"),
        ([{"id": "x", "content": ""}], "entry 1: `type` must be a string (missing)"),
        ([{"id": "x", "type": "action", "content": ["no"]}], "entry 1: `content` must be a string (a list)"),
        ([{"id": "x", "type": "action"}, {"id": "x", "type": "action"}], "entry 2: duplicate id 'x' (also entry 1)"),
    ],
)  # fmt: skip
def test_wrong_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: object, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("export.json").write_text(json.dumps(document))
    assert message in bad("export.json")


def test_missing_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect("other.db")
    connection.execute("CREATE TABLE chat (id TEXT)")
    connection.commit()
    connection.close()
    before = digest(Path("other.db"))
    assert "other.db: no `function` table; is this Open WebUI's webui.db" in bad("other.db")
    assert digest(Path("other.db")) == before


def test_missing_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect("old.db")
    connection.execute("CREATE TABLE function (id TEXT, name TEXT)")
    connection.commit()
    connection.close()
    assert "old.db: the `function` table has no type, content column" in bad("old.db")


def test_corrupt_database(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : page * 2] = b"\xa5" * page  # the second page (the tables) is garbage
    db.write_bytes(bytes(data))
    assert "webui.db: the database is corrupt" in bad("webui.db")
    Path("truncated.db").write_bytes(b"not a database at all")
    assert "truncated.db: not an SQLite database" in bad("truncated.db")


def test_locked_database(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("analyzer.audit.BUSY_TIMEOUT", 0.1)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        err = bad("webui.db")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "webui.db: the database is locked (Open WebUI is writing to it)" in err


def test_missing_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "nothing.db: no such file" in bad("nothing.db")
    Path("data").mkdir()
    assert "data: is a directory" in bad("data")
    os.mkfifo("pipe.db")  # never opened: reading a FIFO would hang
    assert "pipe.db: not a regular file" in bad("pipe.db")


def test_unreadable_database(db: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    db.chmod(0)
    try:
        assert "webui.db: cannot read" in bad("webui.db")
    finally:
        db.chmod(0o644)
