"""Hostile and broken input: every bad file becomes one clean diagnostic, the others are
still analysed, the exit code is the documented one, and nothing prints a traceback."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from click.testing import CliRunner

import analyzer.api
import analyzer.cli
import analyzer.engine
from analyzer import budget
from analyzer.api import lint_source, lint_sources, lint_text
from analyzer.cli import main
from analyzer.config import Settings
from analyzer.engine import MAX_NESTING, decode
from analyzer.findings import Level
from analyzer.lines import split_lines
from analyzer.rule import LintRule
from analyzer.sources import Source, discover

ROOT = Path(__file__).resolve().parent.parent

# An action module with one certain finding: OWA103 on `class Action` (no `action` method).
GOOD = b"class Action:\n    def helper(self):\n        return 1\n"
FORK = multiprocessing.get_start_method() == "fork"
needs_fork = pytest.mark.skipif(not FORK, reason="monkeypatched rules reach workers by fork")


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def findings(stdout: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(stdout)["findings"]
    return data


def text_of(data: bytes) -> str:
    """The text the engine sees (or, for undecodable bytes, what positions refer to)."""
    try:
        return decode(data)
    except analyzer.engine.SourceError:
        return data.decode("latin-1")


def assert_inside(finding: dict[str, Any], text: str) -> None:
    """A location that exists in the file: 1-based, within the lines and their lengths."""
    lines = split_lines(text)
    line, column = finding["line"], finding["column"]
    end_line, end_column = finding["end_line"], finding["end_column"]
    assert 1 <= line <= end_line <= len(lines), finding
    assert 1 <= column <= len(lines[line - 1]) + 1, finding
    assert end_column >= 1, finding
    assert end_column <= len(lines[end_line - 1]) + 2, finding  # exclusive end, one past
    if end_line == line:
        assert end_column >= column, finding


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.py").write_bytes(GOOD)
    return tmp_path


def good_was_analysed(stdout: str) -> bool:
    return any(f["path"] == "good.py" and f["rule"] == "OWA103" for f in findings(stdout))


# --- files that cannot be parsed: OWA001 at a real position ------------------------------

BAD: dict[str, bytes] = {
    "python2-print": b"class Action:\n    pass\nprint 'hello'\n",
    "python2-except": b"try:\n    pass\nexcept Exception, e:\n    pass\n",
    "python2-exec": b"exec 'x = 1'\n",
    "python2-backticks": b"x = `1`\n",
    "python2-octal": b"x = 0777\n",
    "fstring-unclosed": b"x = f'{'\n",
    "fstring-conversion": b"x = f'{a!z}'\n",
    "fstring-empty": b"x = f'{}'\n",
    "unterminated-string": b"x = 'abc\n",
    "unterminated-triple": b'x = """abc\n\n',
    "unexpected-indent": b"x = 1\n    y = 2\n",
    "bad-dedent": b"if x:\n    a = 1\n  b = 2\n",
    "tabs-and-spaces": b"if x:\n\ta = 1\n        b = 2\n",
    "missing-block": b"def f():\n",
    "unclosed-bracket": b"x = (1,\n",
    "backslash-at-eof": b"x = 1 \\",
    "stray-closing": b"x = 1)\n",
    "invalid-utf8": b"x = '\xff'\n",
    "invalid-utf8-line-3": b"a = 1\nb = 2\nc = '\xc3\xa9\xff'\n",
    "unknown-encoding": b"# -*- coding: no-such-codec -*-\nx = 1\n",
    "not-a-text-encoding": b"# -*- coding: rot13 -*-\nx = 1\n",
    "bom-with-latin1-cookie": b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n",
    "surrogate-from-codec": b"# -*- coding: unicode_escape -*-\nx = '\\ud800'\n",
    "nul-byte": b"class Action:\n    x = 1\0\n",
    "nul-byte-lone-cr": b"x = 1\ry = 2\r\0",
    "deep-brackets": b"x = " + b"(" * 2000 + b")" * 2000 + b"\n",
    "deep-lists": b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n",
    "deep-if-blocks": b"".join(b" " * i + b"if x:\n" for i in range(2000)) + b" " * 2000 + b"a\n",
    "long-boolean-chain": b"x = " + b" and ".join([b"a"] * 5000) + b"\n",
    "long-attribute-chain": b"x = a" + b".b" * 2500 + b"\n",
    "long-operator-chain": b"x = " + b" + ".join([b"a"] * 20000) + b"\n",
    "deep-match-pattern": b"match x:\n    case "
    + b"{1: " * 30
    + b"a"
    + b"}" * 30
    + b":\n        pass\n",
    "only-garbage": bytes(range(1, 256)),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_unparsable_file_is_owa001_inside_the_file(tree: Path, name: str) -> None:
    (tree / "bad.py").write_bytes(BAD[name])
    code, out, err = run("check", "bad.py", "good.py", "--jobs", "1", "--format", "json")
    assert code == 1
    bad = [f for f in findings(out) if f["path"] == "bad.py"]
    assert [f["rule"] for f in bad] == ["OWA001"]
    assert "\n" not in bad[0]["message"] and bad[0]["message"]
    assert_inside(bad[0], text_of(BAD[name]))
    assert good_was_analysed(out)
    assert err == ""


def test_owa001_points_at_the_error() -> None:
    cases = {
        b"x = 1\nif x\n    pass\n": (2, 5),
        b"a = 1\nb = 2\nc = '\xc3\xa9\xff'\n": (3, 7),  # in characters, not bytes
        b"x = 1\n\xc3\xa9\xc3\xa9 = 1 +* 2\n": (2, 9),
        b"x = 1\r\ry = (\r": (3, 5),
        b"x = 1\r\n\r\nclass A\r\n": (3, 8),
    }
    for data, position in cases.items():
        result = lint_source(Source("x.py", data=data, explicit=True), Settings())
        (finding,) = result.findings
        assert finding.rule == "OWA001"
        assert (finding.location.line, finding.location.column) == position, data


def test_nesting_limit_is_reported_where_the_nesting_starts() -> None:
    text = "x = 1\n\ny = f(" + " and ".join(["a"] * (MAX_NESTING + 10)) + ")\n"
    (finding,) = lint_text(text).findings
    assert finding.rule == "OWA001" and "nesting deeper than" in finding.message
    assert (finding.location.line, finding.location.column) == (3, 7)


@pytest.mark.parametrize(
    "deep",
    [
        "-" * (MAX_NESTING + 5) + "1",  # one line: walked, as its length allows the depth
        'f"""{' + "-" * (MAX_NESTING + 5) + '1}\n"""',  # in a multi-line f-string
        "(" + " + ".join(["a"] * (MAX_NESTING + 5)) + ")",
    ],
    ids=["unary-chain", "in-f-string", "operator-chain"],
)
def test_deep_expressions_on_one_line_are_refused(deep: str) -> None:
    (finding,) = lint_text(f"x = 1\ny = {deep}\n").findings
    assert finding.rule == "OWA001" and "nesting deeper than" in finding.message
    assert finding.location.line == 2


# --- unusual but valid files: analysed normally, positions agree -------------------------


class _ProbeCalls(LintRule):
    """Reports every call to `probe(...)`: a ruler for positions."""

    code = "OWA990"
    name = "probe-calls"
    level = Level.NOTE
    summary = "test probe"

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.report(node, "probe")


def inject(monkeypatch: pytest.MonkeyPatch, *extra: type[LintRule], only: bool = False) -> None:
    """Run `extra` rules as if they were registered (in-process and in forked workers)."""
    real = analyzer.engine.enabled_rules  # type: ignore[attr-defined]  # patched where used

    def rules(settings: Settings) -> list[type[LintRule]]:
        base = [r for r in real(settings) if r.engine_role] if only else real(settings)
        return [*base, *extra]

    monkeypatch.setattr(analyzer.engine, "enabled_rules", rules)
    monkeypatch.setattr(analyzer.cli, "enabled_rules", rules)


PROBED = (
    '"""\ntitle: probe\n"""\nimport os\n\n\nclass Action:\n'
    "    async def action(self, body, __user__=None):\n"
    "        probe(1)\n"
    "        if body:\n"
    "            x = 'é€😀'; probe('é', 2)\n"
    "        return probe(\n"
    "            body,\n"
    "        )  # a comment\n"
)


def _variants() -> dict[str, bytes]:
    plain = PROBED.encode()
    latin = "# -*- coding: latin-1 -*-\n" + PROBED.replace("€😀", "")
    return {
        "lf": plain,
        "crlf": PROBED.replace("\n", "\r\n").encode(),
        "lone-cr": PROBED.replace("\n", "\r").encode(),
        "mixed-endings": PROBED.replace("\n", "\r", 3).replace("\n", "\r\n", 4).encode(),
        "tabs": PROBED.replace("    ", "\t").encode(),
        "bom": b"\xef\xbb\xbf" + plain,
        "latin1-cookie": latin.encode("latin-1"),
        "form-feed": ("\f" + PROBED).encode(),
        "no-final-newline": plain.rstrip(b"\n"),
    }


@pytest.mark.parametrize("name", sorted(_variants()))
def test_positions_agree_with_the_lines(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    inject(monkeypatch, _ProbeCalls, only=True)
    data = _variants()[name]
    result = lint_source(Source("p.py", data=data, explicit=True), Settings())
    assert result.status == "action" and not result.errors
    lines = split_lines(decode(data))
    probes = [f for f in result.findings if f.rule == "OWA990"]
    assert len(probes) == 3
    for f in probes:
        start = lines[f.location.line - 1][f.location.column - 1 :]
        assert start.startswith("probe("), (f.location, start)
        end = lines[f.location.end_line - 1][: f.location.end_column - 1]
        assert end.endswith(")"), (f.location, end)


def test_lone_cr_and_crlf_files_honour_suppressions(monkeypatch: pytest.MonkeyPatch) -> None:
    inject(monkeypatch, _ProbeCalls, only=True)
    text = PROBED.replace("probe(1)", "probe(1)  # noqa: OWA990")
    for newline in ("\n", "\r\n", "\r"):
        result = lint_text(text.replace("\n", newline))
        lines = sorted(f.location.line for f in result.findings)
        assert lines == [11, 12], (repr(newline), result.findings)


def test_show_source_uses_the_declared_encoding(tree: Path) -> None:
    src = "# -*- coding: latin-1 -*-\r# é\rclass Action:\r    pass\r"
    (tree / "latin.py").write_bytes(src.encode("latin-1"))
    code, out, _ = run("check", "latin.py", "--show-source", "--jobs", "1", "--select", "OWA103")
    assert code == 1
    assert "    3 | class Action:" in out
    assert "      |       ^^^^^^" in out


SLOW_OK: dict[str, bytes] = {
    "empty": b"",
    "only-comments": b"# Action\n# nothing here\n",
    "whitespace-only": b"   \n\t\n\f\n",
    "long-line": b"x = '" + b"a" * 1_000_000 + b"'\n" + GOOD,
    "many-short-lines": b"x = 1\n" * 5_000 + GOOD,
    "150-nested-lists": b"x = " + b"[" * 150 + b"]" * 150 + b"\n" + GOOD,
    "99-nested-ifs": b"".join(b" " * i + b"if x:\n" for i in range(99)) + b" " * 99 + b"a\n" + GOOD,
    "bool-chain-under-limit": b"x = " + b" or ".join([b"a"] * 900) + b"\n" + GOOD,
    "5-MB-string-blob": b"BLOB = '" + b"QUJD" * 1_300_000 + b"'\n" + GOOD,
}


@pytest.mark.parametrize("name", sorted(SLOW_OK))
def test_unusual_valid_files_are_analysed(name: str) -> None:
    data = SLOW_OK[name]
    result = lint_source(Source("odd.py", data=data, explicit=True), Settings())
    assert not result.errors and not result.internal_error
    assert all(f.rule != "OWA001" for f in result.findings)
    if GOOD in data:
        assert result.status == "action"
        assert any(f.rule == "OWA103" for f in result.findings)
    else:
        assert result.status == "skipped"


def test_tree_deeper_than_the_bound_is_refused_at_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # CPython folds adjacent strings into one constant; LibCST nests them. The index's one
    # traversal (recursive code generation) stops at the bound and names the line.
    monkeypatch.setattr(analyzer.engine, "MAX_TREE_DEPTH", 40)
    parts = " ".join(f'"p{i}"' for i in range(60))
    text = f"class Action:\n    pass\n\n\nBANNER = ({parts})\n"
    result = lint_text(text)
    assert result.status == "error" and not result.internal_error
    [finding] = result.findings
    assert finding.rule == "OWA001" and finding.location.line == 5
    assert "nesting deeper than 40 syntax levels" in finding.message


def test_elif_chain_is_not_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyzer.engine, "MAX_TREE_DEPTH", 40)
    branches = "".join(f"        elif kind == {i}:\n            pass\n" for i in range(60))
    text = (
        "class Action:\n    async def action(self, body):\n        kind = body\n"
        f"        if kind == -1:\n            pass\n{branches}"
    )
    assert lint_text(text).status == "action"


# --- paths: missing, unreadable, loops, FIFOs, devices, vanishing, too large -------------


def test_missing_path_is_reported_and_the_others_checked(tree: Path) -> None:
    code, out, err = run("check", "nowhere.py", "good.py", "--format", "json")
    assert code == 1
    assert good_was_analysed(out)
    assert err == "owui-lint: warning: nowhere.py: no such file or directory\n"


def test_unreadable_path_on_the_command_line_is_reported_and_the_others_checked(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root nothing is unreadable: make stat refuse, as it does for a path under a folder
    # the user may not enter.
    (tree / "locked").mkdir()
    real = os.stat

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refuse)
    code, out, err = run("check", "locked", "good.py", "--format", "json")
    assert code == 1
    assert good_was_analysed(out)
    assert err == "owui-lint: warning: locked: Permission denied\n"
    assert run("check", "locked", "good.py", "--exit-zero")[0] == 0


def test_a_folder_without_python_files_says_so(tree: Path) -> None:
    (tree / "docs").mkdir()
    (tree / "docs" / "notes.txt").write_text("not python")
    code, out, err = run("check", "docs")
    assert code == 0
    assert err == "owui-lint: warning: docs: no Python files found\n"
    assert out == "No files checked.\n"
    code, out, err = run("check", "docs", "good.py", "--format", "json")
    assert code == 1 and good_was_analysed(out) and "docs: no Python files found" in err


def test_unreadable_directory_is_reported_and_the_rest_analysed(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, for whom chmod 000 changes nothing: make scandir refuse instead.
    (tree / "locked").mkdir()
    (tree / "locked" / "inner.py").write_bytes(GOOD)
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if str(path).rstrip("/").endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 1
    assert good_was_analysed(out)
    assert all(f["path"] != "locked/inner.py" for f in findings(out))
    assert err == "owui-lint: warning: locked: Permission denied\n"


def test_unreadable_file_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "secret.py").write_bytes(GOOD)
    real = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 1
    assert good_was_analysed(out)
    assert "owui-lint: warning: secret.py: Permission denied\n" in err


def test_symlink_loops_do_not_hang(tree: Path) -> None:
    (tree / "self.py").symlink_to("self.py")
    (tree / "sub").mkdir()
    (tree / "sub" / "up").symlink_to("..")  # a directory loop: never followed
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 1
    assert good_was_analysed(out)
    assert "self.py: Too many levels of symbolic links" in err
    code, _, err = run("check", "self.py", "good.py")
    assert code == 1 and "self.py: Too many levels of symbolic links" in err


def test_fifo_and_device_files_are_skipped(tree: Path) -> None:
    os.mkfifo(tree / "pipe.py")
    (tree / "zero.py").symlink_to("/dev/zero")
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 1 and good_was_analysed(out) and err == ""  # silently skipped in a walk
    code, out, err = run("check", "pipe.py", "/dev/null", "good.py", "--format", "json")
    assert code == 1 and good_was_analysed(out)
    assert "pipe.py: not a regular file (FIFO, socket or device); skipped" in err
    assert "/dev/null: not a regular file" in err


def _within(seconds: float, fn: Callable[[], Any]) -> Any:
    """Run `fn`, failing (instead of hanging the suite) if it blocks."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return box[0]


def test_file_replaced_by_a_fifo_after_discovery(tree: Path) -> None:
    (tree / "swap.py").write_bytes(GOOD)
    sources, problems = discover(["."], Settings())
    assert not problems
    (tree / "swap.py").unlink()
    os.mkfifo(tree / "swap.py")  # opening it for reading would block forever
    results = _within(20, lambda: list(lint_sources(sources, Settings(), jobs=1)))
    by_path = {r.path: r for r in results}
    assert by_path["swap.py"].status == "unreadable"
    assert "not a regular file" in by_path["swap.py"].errors[0]
    assert any(f.rule == "OWA103" for f in by_path["good.py"].findings)


def test_file_vanishing_during_the_run(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "gone.py").write_bytes(GOOD)
    real = analyzer.cli.discover  # type: ignore[attr-defined]  # patched where used

    def discover_then_delete(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        (tree / "gone.py").unlink()
        return found

    monkeypatch.setattr(analyzer.cli, "discover", discover_then_delete)
    for jobs in ("1", "2"):
        (tree / "gone.py").write_bytes(GOOD)
        code, out, err = run("check", ".", "--jobs", jobs, "--format", "json")
        assert code == 1 and good_was_analysed(out)
        assert err == "owui-lint: warning: gone.py: No such file or directory\n"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_file_names_that_are_not_utf8(tree: Path, fmt: str) -> None:
    os.mkfifo(os.path.join(bytes(tree), b"pipe\xfe.py"))
    with open(os.path.join(bytes(tree), b"odd\xff.py"), "wb") as handle:
        handle.write(GOOD)
    result = CliRunner().invoke(main, ["check", ".", "--jobs", "1", "--format", fmt])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = result.stdout_bytes.decode("utf-8")  # strict: the output is valid UTF-8
    shown = {"json": "odd\\\\xff.py", "sarif": "odd%5Cxff.py"}.get(fmt, "odd\\xff.py")
    assert shown in out
    explicit = CliRunner().invoke(main, ["check", os.fsdecode(b"pipe\xfe.py")])
    assert explicit.exit_code == 1
    assert "pipe\\xfe.py: not a regular file" in explicit.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_hostile_names_and_text_cannot_drive_a_terminal_or_ci_log(tree: Path, fmt: str) -> None:
    action = b"class Action:\n    def helper(self):\n        return 1\n"
    (tree / "a\n::warning file=x::pwned\n.py").write_bytes(action)
    (tree / "b\x1b[2J\u202e.py").write_bytes(action)
    (tree / "c.py").write_bytes(
        b'x = "\x1b]52;c;cHduZWQ=\x07"  # \x1b[31m\n' + action + b"x = 1  # noqa: OWA103\x1b[0m\n"
    )
    (tree / "d.py").write_bytes(b"x = 1\n\x1b[2J = 2\n")
    code, out, err = run("check", ".", "d.py", "--show-source", "--jobs", "1", "--format", fmt)
    assert code == 1
    for stream in (out, err):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", stream), stream
    if fmt != "github":
        assert not re.search("^::", out, re.M)
    if fmt in ("text", "json"):  # the name is still recognisable
        assert "a\\x0a::warning" in out.replace("\\\\", "\\")


def test_too_large_file_is_not_read_in_full(tree: Path) -> None:
    with open(tree / "huge.py", "wb") as handle:
        handle.truncate(budget.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    code, out, err = run("check", "huge.py", "good.py", "--format", "json")
    assert code == 1 and good_was_analysed(out)
    assert "huge.py: file too large to analyse (10.0 MiB; the limit is 10 MiB)" in err
    big = Source("<stdin>", data=b"#" * (budget.MAX_FILE_BYTES + 1), explicit=True)
    assert lint_source(big, Settings()).status == "unreadable"


def test_stdin_with_bad_bytes(tree: Path) -> None:
    code, out, err = run("check", "-", "--format", "json", stdin=b"x = '\xff'\r\n")
    assert code == 1 and err == ""
    (finding,) = findings(out)
    assert finding["rule"] == "OWA001" and finding["path"] == "<stdin>"
    assert (finding["line"], finding["column"]) == (1, 6)


# --- rules that crash: reported, the rest kept, exit 2 ----------------------------------


class _CrashInVisit(LintRule):
    code = "OWA991"
    name = "crash-in-visit"
    summary = "test: raises while visiting"

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        raise ValueError("boom\nwith a second line")


class _CrashInCheck(LintRule):
    code = "OWA992"
    name = "crash-in-check"
    summary = "test: raises after the traversal"

    def check(self) -> None:
        self.report(None, "reported before the crash", location=self.module.line_location(1))
        raise KeyError("missing")


class _CrashInInit(LintRule):
    code = "OWA993"
    name = "crash-in-init"
    summary = "test: cannot be constructed"

    def __init__(self, context: Any) -> None:
        raise RuntimeError("no")


class _EndlessRecursion(LintRule):
    code = "OWA994"
    name = "endless-recursion"
    summary = "test: recursion without end"

    def check(self) -> None:
        def down(n: int) -> int:
            return down(n + 1) + 1

        down(0)


class _ExitsInCheck(LintRule):
    code = "OWA998"
    name = "exits-in-check"
    summary = "test: calls sys.exit()"

    def check(self) -> None:
        sys.exit(5)


def test_a_rule_calling_sys_exit_does_not_end_the_run(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, _ExitsInCheck)
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 2 and good_was_analysed(out)
    assert "internal error in rule OWA998: SystemExit: 5" in err


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=needs_fork)])
def test_crashing_rules_are_reported_and_the_rest_kept(
    tree: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    inject(monkeypatch, _CrashInVisit, _CrashInCheck, _CrashInInit, _EndlessRecursion)
    (tree / "other.py").write_bytes(GOOD)
    code, out, err = run("check", ".", "--jobs", jobs, "--format", "json")
    assert code == 2
    got = findings(out)
    for path in ("good.py", "other.py"):
        assert {"OWA103", "OWA992"} <= {f["rule"] for f in got if f["path"] == path}
    lines = err.splitlines()
    assert len(lines) == 8  # four rules, two files, one line each
    for rule, reason in [
        ("OWA991", "ValueError: boom with a second line"),
        ("OWA992", "KeyError: 'missing'"),
        ("OWA993", "RuntimeError: no"),
        ("OWA994", "RecursionError"),
    ]:
        mine = [line for line in lines if f"internal error in rule {rule}: " in line]
        assert len(mine) == 2 and all(reason in line for line in mine), lines
        assert all(line.startswith("owui-lint: error: ") for line in mine)


def test_engine_failure_is_an_internal_error(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "poison.py").write_bytes(b"# poison\n" + GOOD)
    real = analyzer.engine.ActionModule  # type: ignore[attr-defined]  # patched where used

    def model(source: Any, module: Any, *rest: Any) -> Any:
        if source.text.startswith("# poison"):
            raise AssertionError("engine bug")
        return real(source, module, *rest)

    monkeypatch.setattr(analyzer.engine, "ActionModule", model)
    code, out, err = run("check", ".", "--jobs", "1", "--format", "json")
    assert code == 2 and good_was_analysed(out)
    assert err == (
        "owui-lint: error: poison.py: internal error: AssertionError: engine bug"
        " (please report this bug)\n"
    )


@needs_fork
def test_a_worker_that_dies_loses_only_its_file(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        (tree / f"f{i:02}.py").write_bytes(GOOD)
    (tree / "f05.py").write_bytes(b"# die\n" + GOOD)
    real = analyzer.api.lint_bytes  # type: ignore[attr-defined]  # patched where used

    def lint_bytes(path: str, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if data.startswith(b"# die"):
            os._exit(7)  # what a segfault or the OOM killer looks like from outside
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(analyzer.api, "lint_bytes", lint_bytes)
    code, out, err = run("check", ".", "--jobs", "2", "--format", "json")
    assert code == 2
    paths = {f["path"] for f in findings(out) if f["rule"] == "OWA103"}
    assert paths == {f"f{i:02}.py" for i in range(12) if i != 5} | {"good.py"}
    assert err.startswith("owui-lint: error: f05.py: the process analysing this file died")
    assert len(err.splitlines()) == 1


# --- the per-file budget -----------------------------------------------------------------

STOP = threading.Event()


class _Slow(LintRule):
    code = "OWA995"
    name = "slow"
    summary = "test: never finishes on `# slow` files"

    def check(self) -> None:
        while self.module.source.text.startswith("# slow") and not STOP.is_set():
            sum(range(1000))


class _Stubborn(LintRule):
    code = "OWA996"
    name = "stubborn"
    summary = "test: swallows the budget's interrupt"

    def check(self) -> None:
        while self.module.source.text.startswith("# stubborn") and not STOP.is_set():
            with contextlib.suppress(BaseException):  # what a careless rule does
                sum(range(1000))


@pytest.fixture
def stop_spinners() -> Iterator[None]:
    STOP.clear()
    yield
    STOP.set()  # let abandoned threads end


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=needs_fork)])
def test_file_over_the_budget_is_reported_and_skipped(
    tree: Path, monkeypatch: pytest.MonkeyPatch, stop_spinners: None, jobs: str
) -> None:
    inject(monkeypatch, _Slow)
    (tree / "slow.py").write_bytes(b"# slow\n" + GOOD)
    (tree / "z.py").write_bytes(GOOD)
    started = time.monotonic()
    code, out, err = run("check", ".", "--jobs", jobs, "--timeout", "0.5", "--format", "json")
    assert time.monotonic() - started < 15
    assert code == 1
    assert {f["path"] for f in findings(out)} == {"good.py", "z.py"}
    assert err == (
        "owui-lint: warning: slow.py: analysis exceeded the 0.5 s budget and was stopped;"
        " not analysed (raise it with --timeout or `timeout` in [tool.owui-lint])\n"
    )


def test_thread_that_ignores_the_budget_is_abandoned(
    monkeypatch: pytest.MonkeyPatch, stop_spinners: None
) -> None:
    inject(monkeypatch, _Stubborn)
    sources = [
        Source("stubborn.py", data=b"# stubborn\n" + GOOD, explicit=True),
        Source("good.py", data=GOOD, explicit=True),
    ]
    started = time.monotonic()
    results = list(lint_sources(sources, Settings(timeout=0.3), jobs=1))
    assert time.monotonic() - started < 0.3 + budget.GRACE_SECONDS + 5
    assert results[0].status == "unreadable" and "budget" in results[0].errors[0]
    assert any(f.rule == "OWA103" for f in results[1].findings)


@needs_fork
def test_hard_limit_ends_a_worker_stuck_in_c(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Backtrack(LintRule):
        code = "OWA997"
        name = "backtrack"
        summary = "test: a regex that never returns and holds the GIL"

        def check(self) -> None:
            if self.module.source.text.startswith("# regex"):
                re.match(r"(a+)+$", "a" * 64 + "b")

    inject(monkeypatch, Backtrack)
    monkeypatch.setattr(budget, "hard_seconds", lambda timeout: 2.0)
    (tree / "regex.py").write_bytes(b"# regex\n" + GOOD)
    (tree / "z.py").write_bytes(GOOD)
    code, out, err = run("check", ".", "--jobs", "2", "--timeout", "0.5", "--format", "json")
    assert code == 2
    assert {f["path"] for f in findings(out)} == {"good.py", "z.py"}
    assert err.startswith("owui-lint: error: regex.py: the process analysing this file died")


def test_timeout_in_the_configuration(tree: Path) -> None:
    (tree / "pyproject.toml").write_text("[tool.owui-lint]\ntimeout = 0.000001\n")
    code, _, err = run("check", "good.py")
    assert code == 1 and "analysis exceeded the 1e-06 s budget" in err
    code, out, err = run("check", "good.py", "--timeout", "0", "--format", "json")
    assert code == 1 and err == "" and good_was_analysed(out)
    (tree / "pyproject.toml").write_text("[tool.owui-lint]\ntimeout = -1\n")
    code, _, err = run("check", "good.py")
    assert code == 2 and "'timeout'" in err and len(err.splitlines()) == 1
    code, _, err = run("check", "good.py", "--timeout", "-1")
    assert code == 2


def test_big_file_hits_the_budget_quickly(tree: Path) -> None:
    # 5 MB of assignments: cheap for CPython's parser, far too much for LibCST's in 2 s.
    code = b"".join(b"x%d = '%s'\n" % (i, b"a" * 90) for i in range(52_000))
    assert len(code) > 5_000_000
    (tree / "big.py").write_bytes(GOOD + code)
    started = time.monotonic()
    status, out, err = run("check", "big.py", "good.py", "--timeout", "2", "--format", "json")
    assert time.monotonic() - started < 60, err  # generous for loaded machines; ~2 s idle
    assert status == 1 and good_was_analysed(out), err
    assert "big.py: analysis exceeded the 2 s budget" in err


# --- deterministic output and stable fingerprints ---------------------------------------


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "examples", target / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures" / "project", target / "project")
    for name in ("python2-print", "invalid-utf8", "deep-brackets"):
        (target / f"{name}.py").write_bytes(BAD[name])
    (target / "crlf.py").write_bytes(_variants()["crlf"])
    monkeypatch.chdir(target)
    return target


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_output_is_the_same_whatever_the_job_count(corpus: Path, fmt: str) -> None:
    outputs = {run("check", ".", "--format", fmt, "--jobs", jobs)[1:] for jobs in ("1", "2", "2")}
    assert len(outputs) == 1


def _fingerprints(fmt: str) -> list[tuple[str, str]]:
    code, out, _ = run("check", "action.py", "--format", fmt, "--jobs", "1")
    assert code == 1
    if fmt == "json":
        return sorted((f["rule"], f["fingerprint"]) for f in findings(out))
    results = json.loads(out)["runs"][0]["results"]
    return sorted(
        (r["ruleId"], r["partialFingerprints"]["owuiLintFindingHash/v1"]) for r in results
    )


@pytest.mark.parametrize("fmt", ["json", "sarif"])
@pytest.mark.parametrize(
    "example",
    sorted(p.name for p in (ROOT / "examples" / "defective").glob("*.py")),
)
def test_fingerprints_survive_unrelated_lines_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, example: str
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "examples" / "defective" / example).read_text(encoding="utf-8")
    (tmp_path / "action.py").write_text(text, encoding="utf-8")
    before = _fingerprints(fmt)
    assert before
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("class Action"))
    lines[at:at] = ["# An unrelated comment.\n", "\n", "# And another one.\n", "\n"]
    (tmp_path / "action.py").write_text("".join(lines), encoding="utf-8")
    assert _fingerprints(fmt) == before
