"""Property-based and fuzz tests of the whole pipeline (engine, every rule, reporters).

Invariants, whatever the input: no exception escapes and no rule crashes (a crash is a
real bug: it is reported, never hidden), every finding has a location inside the file,
error lines are one line, and the JSON and SARIF outputs parse.

Example counts scale with the Hypothesis profile: the default keeps this file to a few
hundred examples; `--hypothesis-profile=long` (or OWUI_LINT_HYPOTHESIS=long) runs thousands.
"""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analyzer.api import lint_source
from analyzer.config import Settings
from analyzer.engine import FileResult, SourceError, decode
from analyzer.findings import Finding
from analyzer.lines import split_lines
from analyzer.registry import enabled_rules
from analyzer.reporters import FORMATS, RunReport, TextOptions, render_text
from analyzer.sources import Source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/*.py"))
# The invariants are about crashes and positions, not speed: a budget that a loaded
# machine could exceed would make the tests flaky; a hang still ends.
SETTINGS = Settings(timeout=120)


def examples(n: int) -> int:
    """`n` examples under the default profile, proportionally more under "long"."""
    default = settings.default
    assert default is not None  # hypothesis always loads a profile
    return max(1, n * default.max_examples // 100)


def fuzz(n: int) -> settings:
    return settings(
        max_examples=examples(n),
        deadline=None,
        # hypothesmith's generators filter many candidates by design (from_node: compile()).
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def text_of(data: bytes) -> str:
    try:
        return decode(data)
    except SourceError:
        return data.decode("latin-1")  # what OWA001 positions in undecodable files refer to


def exit_code(result: FileResult) -> int:
    """The exit code the CLI would give for this one file."""
    if result.internal_error:
        return 2
    return 1 if result.findings or result.status == "unreadable" else 0


def check(result: FileResult, data: bytes) -> None:
    """The invariants every result must satisfy."""
    assert not result.internal_error, result.errors  # a rule or engine crash: a real bug
    assert result.status in ("action", "skipped", "error"), result.errors
    for line in result.errors:
        assert "\n" not in line and "\r" not in line
    lines = split_lines(text_of(data))
    for f in result.findings:
        loc = f.location
        assert 1 <= loc.line <= loc.end_line <= len(lines), (f, len(lines))
        assert 1 <= loc.column <= len(lines[loc.line - 1]) + 1, f
        assert 1 <= loc.end_column <= len(lines[loc.end_line - 1]) + 2, f
        assert loc.end_line > loc.line or loc.end_column >= loc.column, f
        assert f.message.strip(), f
        if f.rule == "OWA001":
            assert "\n" not in f.message, f
        assert len(f.fingerprint) == 32
    if result.status == "error":
        assert [f.rule for f in result.findings] == ["OWA001"]
    check_reporters(result.findings)


def check_reporters(findings: list[Finding]) -> None:
    report = RunReport(
        findings=sorted(findings, key=Finding.sort_key),
        rules=sorted(enabled_rules(SETTINGS), key=lambda r: r.code),
        files=1,
        root="/fuzz",
    )
    data = json.loads(FORMATS["json"](report))
    assert len(data["findings"]) == len(findings)
    sarif = json.loads(FORMATS["sarif"](report))
    results = sarif["runs"][0]["results"]
    assert len(results) == len(findings)
    for r in results:
        region = r["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    assert FORMATS["github"](report).count("\n") == len(findings)
    lines = {f.path: [""] * 10_000 for f in findings}
    render_text(report, TextOptions(show_source=True, source_lines=lambda p: lines.get(p, [])))


def lint(data: bytes, path: str = "fuzz.py") -> FileResult:
    result = lint_source(Source(path, data=data, explicit=True), SETTINGS)
    check(result, data)
    return result


ACTION_TAIL = (
    "\n\nclass Action:\n    async def action(self, body, __user__=None):\n        return body\n"
)


# --- generated Python: any valid module, with an Action bolted on -------------------------


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@fuzz(40)
@given(hypothesmith.from_grammar())
def test_grammar_generated_modules(source: str) -> None:
    lint((source + ACTION_TAIL).encode("utf-8", "surrogatepass"))
    lint(source.encode("utf-8", "surrogatepass"))


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compile()s candidates
@fuzz(10)
@given(hypothesmith.from_node(cst.Module))
def test_node_generated_modules(source: str) -> None:
    result = lint((source + ACTION_TAIL).encode("utf-8", "surrogatepass"))
    try:
        ast.parse(source + ACTION_TAIL)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    assert result.status in ("action", "error")  # error: LibCST or nesting limits


# --- generated action modules: scaffolds, Valves, guards, events, helpers ----------------

HEADERS = [
    "",
    '"""\ntitle: Fuzzed Action\nauthor: fuzz\nversion: 0.1.0\n"""\n',
    '"""\ntitle: Needs\nrequirements: requests, pydantic>=2\n"""\n',
    '"""\ntitle missing colon\n"""\n',
    "'''\ntitle: Single quotes\n'''\n",
    "# -*- coding: utf-8 -*-\n",
    '"""\ntitle: x\nicon_url: data:image/svg+xml;base64,AAAA\n"""\n',
]
IMPORTS = [
    "import os",
    "import json",
    "import asyncio",
    "import subprocess",
    "import shutil",
    "import requests",
    "import aiohttp",
    "from typing import Optional, Callable, Any, Awaitable",
    "from pydantic import BaseModel, Field",
    "from pydantic import BaseModel as BM, Field as F",
    "import pydantic as pd",
    "from pydantic import SecretStr",
    "from open_webui.models.users import Users",
    "from open_webui.models.chats import Chats",
    "from open_webui.models.files import Files",
    "from open_webui.models.functions import Functions",
    "from fastapi import Request",
]
FIELD_NAMES = [
    "api_key",
    "base_url",
    "max_tokens",
    "password",
    "priority",
    "enabled",
    "model",
    "token",
    "secret_key",
    "timeout",
    "openai_api_key",
    "accessKey",
    "show_status",
]
FIELD_TYPES = ["str", "int", "bool", "float", "Optional[str]", "list[str]", "dict", "SecretStr"]
FIELD_DEFAULTS = [
    '""',
    '"sk-proj-abcdefghijklmnopqrstuvwx1234"',
    '"your-api-key-here"',
    "0",
    "1.5",
    "True",
    "None",
    "[]",
    '{"a": 1}',
    'Field(default="", description="The key")',
    "Field(default=0, ge=0, le=10)",
    'Field(..., description="required")',
    'Field(default="x", json_schema_extra={"input": {"type": "password"}})',
    'os.getenv("API_KEY", "")',
    '"http://localhost:11434"',
]
VALVES_HEADERS = [
    "class Valves(BaseModel):",
    "class Valves:",
    "class Valves(BM):",
    "class Valves(pd.BaseModel):",
    "class Valves(object):",
]
INITS = [
    "",
    "def __init__(self):\n    self.valves = self.Valves()",
    "def __init__(self):\n    pass",
    "def __init__(self, config):\n    self.valves = self.Valves()",
    "def __init__(self):\n    self.valves = self.Valves(**{})\n    self.toggle = True",
    "def __init__(self):\n    super().__init__()\n    self.valves = Action.Valves()",
]
PARAMS = [
    "__user__=None",
    "__user__: Optional[dict] = None",
    "__event_emitter__=None",
    "__event_call__=None",
    "__request__=None",
    "__model__=None",
    "__id__=None",
    "__metadata__=None",
    "__files__=None",
    "extra",
    "extra=1",
    "*args",
    "**kwargs",
]
STATEMENTS = [
    "__user__ = __user__ or {}",
    "user = __user__ or {}",
    'if __user__.get("role") != "admin":\n    return {"error": "forbidden"}',
    'if not __user__ or __user__["role"] != "admin":\n    return',
    'if (__user__ or {}).get("role") == "admin":\n    Users.delete_user_by_id(body["id"])',
    'role = __user__.get("role", "user")\nif role != "admin":\n    raise PermissionError("no")',
    'await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})',
    'await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})',
    'await __event_emitter__({"type": "message", "data": {"content": "hi"}})',
    'await __event_emitter__({"type": "replace", "data": {"content": text}})',
    'await __event_emitter__({"type": "files", "data": {"files": [{"type": "image", "url": url}]}})',
    'await __event_emitter__({"type": "citation", "data": {}})',
    'await __event_emitter__({"type": "notification", "data": {"type": "info", "content": "x"}})',
    'await __event_emitter__({"type": "statuz", "data": {"description": 1}})',
    "await __event_emitter__(event)",
    '__event_emitter__({"type": "status", "data": {}})',
    'answer = await __event_call__({"type": "confirmation", "data": {"title": "Sure?", "message": "Go?"}})',
    'answer = await __event_call__({"type": "input", "data": {"title": "Name", "message": "?"}})',
    "if not answer:\n    return",
    "if answer is not True:\n    return",
    "if answer:\n    Chats.delete_chat_by_id(body['chat_id'])",
    'Users.delete_user_by_id(body["user_id"])',
    'Users.update_user_role_by_id(body["id"], "admin")',
    'Chats.delete_chat_by_id(body["chat_id"])',
    "Files.delete_all_files()",
    'Functions.delete_function_by_id(body.get("id"))',
    'os.remove(body.get("path", ""))',
    'shutil.rmtree("/tmp/" + body["dir"])',
    'subprocess.run(body["cmd"], shell=True)',
    'subprocess.run(["ls", "-l"], check=True)',
    "requests.get(self.valves.base_url, timeout=10)",
    'requests.post(url, headers={"Authorization": f"Bearer {self.valves.api_key}"})',
    "result = await self._helper(body)",
    "result = self._sync_helper(body)",
    "await asyncio.to_thread(self._sync_helper, body)",
    "asyncio.create_task(self._helper(body))",
    "purge(body)",
    'text = ""\nfor m in body.get("messages", []):\n    text += m.get("content", "")',
    'try:\n    x = body["messages"][-1]["content"]\nexcept (KeyError, IndexError) as e:\n    return {"error": str(e)}',
    "while True:\n    break\nelse:\n    pass",
    'with open("/tmp/out.txt", "w") as fh:\n    fh.write(text)',
    "url = f\"{self.valves.base_url}/api/{body.get('id')}\"",
    'x = body["messages"][-1]["content"]  # noqa: OWA301',
    "x = 1  # noqa: OWA999",
    "print(__user__)",
    'eval(body["code"])',
    "lambda: None",
    "return body",
    'return {"content": "x", "files": [{"type": "image", "url": "u"}]}',
    'return {"files": [{"name": "a.txt"}]}',
    "return None",
    'return "text"',
    'yield "x"',
    "global counter\ncounter = 1",
    'match body:\n    case {"type": "x", **rest}:\n        pass\n    case _:\n        pass',
]
HELPERS = [
    'async def _helper(self, body):\n    Users.delete_user_by_id(body["id"])\n    return body',
    "def _sync_helper(self, body):\n    return len(body)",
    "async def _helper(self, body):\n    return await self._helper(body)",
    "@staticmethod\ndef util(x):\n    return x",
    "@property\ndef name(self):\n    return 'n'",
    "class UserValves(BaseModel):\n    show: bool = True",
    'actions = [{"id": "a", "name": "A", "icon_url": "data:x"}]',
    "toggle = True",
]
MODULE_EXTRAS = [
    'def purge(body):\n    Chats.delete_chats_by_user_id(body["user_id"])',
    "counter = 0",
    "class Pipe:\n    pass",
    "Filter = None",
    "class Helper:\n    def run(self):\n        os.system('ls')",
    "if True:\n    class Other:\n        pass",
]


def _indent(block: str, level: int) -> str:
    pad = "    " * level
    return "\n".join(pad + line if line else line for line in block.split("\n"))


@st.composite
def action_modules(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(HEADERS))]
    parts += draw(st.lists(st.sampled_from(IMPORTS), max_size=6, unique=True))
    parts += draw(st.lists(st.sampled_from(MODULE_EXTRAS), max_size=2, unique=True))
    base = draw(st.sampled_from(["", "(object)", "(Base)", "(SomeMixin, object)"]))
    cls = [f"class Action{base}:"]
    if draw(st.booleans()):
        cls.append(_indent(draw(st.sampled_from(VALVES_HEADERS)), 1))
        fields = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(FIELD_NAMES),
                    st.sampled_from(["", *FIELD_TYPES]),
                    st.sampled_from(["", *FIELD_DEFAULTS]),
                ),
                max_size=5,
            )
        )
        body = [
            f"{name}: {kind} = {default}"
            if kind and default
            else f"{name}: {kind}"
            if kind
            else f"{name} = {default or '1'}"
            for name, kind, default in fields
        ] or ["pass"]
        desc = draw(st.text(max_size=20))
        body.insert(0, f"description: str = {desc!r}")
        cls += [_indent(line, 2) for line in body]
    init = draw(st.sampled_from(INITS))
    if init:
        cls.append(_indent(init, 1))
    if draw(st.integers(0, 9)):  # mostly with an `action` method
        params = draw(st.lists(st.sampled_from(PARAMS), max_size=5, unique=True))
        ordered = ["self", draw(st.sampled_from(["body", "body: dict", "data"]))]
        ordered += [p for p in params if "=" not in p and "*" not in p]
        ordered += [p for p in params if "=" in p and "*" not in p]
        ordered += [p for p in params if p == "*args"][:1]
        ordered += [p for p in params if p == "**kwargs"][:1]
        if "*args" not in ordered and any(p == "extra" for p in ordered):
            ordered.remove("extra")
        asynchronous = draw(st.sampled_from(["async ", "async ", ""]))
        cls.append(f"    {asynchronous}def action({', '.join(ordered)}):")
        statements = draw(st.lists(st.sampled_from(STATEMENTS), max_size=10)) or ["pass"]
        cls += [_indent(s, 2) for s in statements]
    cls += [_indent(h, 1) for h in draw(st.lists(st.sampled_from(HELPERS), max_size=3))]
    parts.append("\n".join(cls))
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(st.sampled_from(["Action = Action", "Action = Helper", "del Action"])))
    source = "\n\n".join(parts) + "\n"
    if draw(st.integers(0, 4)) == 0:
        source = source.replace("    ", "\t")
    return source.replace("\n", draw(st.sampled_from(["\n", "\n", "\r\n", "\r"])))


@fuzz(150)
@given(action_modules())
def test_generated_action_modules(source: str) -> None:
    try:
        ast.parse(source)
    except SyntaxError:
        assume(False)  # a fragment combination CPython rejects; the test is about the rules
    result = lint(source.encode("utf-8", "surrogatepass"))
    assert result.status in ("action", "skipped")


# --- byte-level mutations of the bundled examples ----------------------------------------

BYTE_KINDS = ["truncate", "insert", "delete", "flip", "duplicate", "replace"]
# Line-level edits keep the file parseable more often, so the rules see odd but valid code.
LINE_KINDS = ["drop-line", "dup-line", "swap-lines", "comment-out", "noqa", "blank-line"]
MUTATION = st.tuples(
    st.sampled_from(BYTE_KINDS + LINE_KINDS),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=8)
    | st.sampled_from([b"\0", b"\r", b"\n", b"\t", b"(", b'"""', b"\xff", b"\xef\xbb\xbf"]),
)


def mutate_lines(data: bytes, kind: str, where: float, payload: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = min(int(where * len(lines)), len(lines) - 1)
    j = payload[0] % len(lines)
    if kind == "drop-line":
        del lines[i]
    elif kind == "dup-line":
        lines.insert(i, lines[i])
    elif kind == "swap-lines":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "comment-out":
        stripped = lines[i].lstrip(b" \t")
        lines[i] = lines[i][: len(lines[i]) - len(stripped)] + b"# " + stripped
    elif kind == "noqa":
        code = b"OWA%d" % (100 + payload[0] % 600)
        lines[i] = lines[i].rstrip(b"\r\n") + b"  # noqa: " + code + b"\n"
    elif kind == "blank-line":
        lines.insert(i, b"\n" if payload[0] % 2 else b"    # a comment\n")
    return b"".join(lines)


def mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, payload in mutations:
        if kind in LINE_KINDS:
            data = mutate_lines(data, kind, where, payload)
            continue
        at = int(where * len(data))
        if kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + payload + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(payload) * 4 :]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (1 << (payload[0] % 8))]) + data[at + 1 :]
        elif kind == "duplicate":
            data = data[:at] + data[at : at + 200] + data[at:]
        elif kind == "replace":
            data = data[:at] + payload + data[at + len(payload) :]
    return data


@fuzz(100)
@given(st.sampled_from(EXAMPLES), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_examples(example: Path, mutations: list[tuple[str, float, bytes]]) -> None:
    data = mutate(example.read_bytes(), mutations)
    result = lint(data, path=example.name)
    assert exit_code(result) in (0, 1)


def test_mutated_examples_through_the_cli(tmp_path: Path) -> None:
    """A few real runs of the command on a folder of mutated examples."""
    rng = random.Random(20240601)
    for i in range(40):
        example = rng.choice(EXAMPLES)
        mutations = [
            (
                rng.choice(BYTE_KINDS + LINE_KINDS),
                rng.random(),
                bytes(rng.randrange(256) for _ in range(rng.randint(1, 6))),
            )
            for _ in range(rng.randint(1, 3))
        ]
        (tmp_path / f"m{i:02}_{example.name}").write_bytes(mutate(example.read_bytes(), mutations))
    outputs = set()
    for jobs in ("1", "2"):
        done = subprocess.run(
            [
                sys.executable,
                "-P",
                "-m",
                "analyzer",
                "check",
                ".",
                "--jobs",
                jobs,
                "--format",
                "json",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode in (0, 1), done.stderr
        assert "Traceback" not in done.stderr
        data = json.loads(done.stdout)
        assert data["summary"]["files"] == 40
        outputs.add(done.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_prefix_of_an_example_is_handled(example: Path) -> None:
    """Truncation at every line: the shape of a file being typed or cut off in transit."""
    data = example.read_bytes()
    cuts = [i for i, byte in enumerate(data) if byte == ord("\n")][::7]
    for cut in cuts:
        lint(data[:cut], path=example.name)
