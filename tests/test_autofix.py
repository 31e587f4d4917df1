"""Autofixes as users see them: `check --fix` rewrites files (keeping their encoding, BOM and
line endings), `--diff` only shows the change, SARIF carries `fixes[]`, the cache never
serves a fixed file's old findings, and a fix never touches a file it would break.

The fix of each rule is tested on its INVALID examples (`fixed=`) in test_rule_examples.py;
OWA002, an engine rule without examples, is tested here."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import tokenize
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.config import Settings
from analyzer.findings import Edit, Finding, Fix, Location
from analyzer.fixer import apply_fixes, fix_bytes
from analyzer.registry import all_rules, rule_by_code
from analyzer.rule import dedent_example
from tests.test_rule_examples import assert_fix

VALIDATE_SARIF = Path("/work/shared/tools/validate-sarif")

SYNC_ACTION = dedent_example(
    """
    class Action:
        # Posts a status, then answers.
        def action(self, body, __event_emitter__=None):
            __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            return body
    """
)
SYNC_ACTION_FIXED = dedent_example(
    """
    class Action:
        # Posts a status, then answers.
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            return body
    """
)
UNFIXABLE = dedent_example(
    """
    import time


    class Action:
        def action(self, body):
            time.sleep(1)
            return body
    """
)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OWUI_LINT_CACHE_DIR", str(tmp_path / ".cache"))
    return tmp_path


# --- OWA002: unused noqa codes --------------------------------------------------------------

_ACTION = """\
class Action:
    async def action(self, body):
{line}
        return body
"""


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        # The only code: the whole comment goes, with the blanks before it.
        ("        x = 1  # noqa: OWA301", "        x = 1"),
        # One of several: that code and one separator.
        ("        x = 1  # noqa: OWA301, E501", "        x = 1  # noqa: E501"),
        # Two unused codes: one a round, the comment goes in the second.
        ("        x = 1  # noqa: OWA301, OWA999", "        x = 1"),
        ("        x = 1  # noqa: E501,OWA301", "        x = 1  # noqa: E501"),
        ("        x = 1  # noqa:OWA999 OWA301 E501", "        x = 1  # noqa:E501"),
        # A comment on a line of its own: the line goes.
        ("        # noqa: OWA302\n        x = 1", "        x = 1"),
    ],
)
def test_owa002_removes_the_unused_code(line: str, fixed: str) -> None:
    rule = rule_by_code("OWA002")
    assert rule is not None
    source = _ACTION.format(line=line)
    assert_fix(rule, source, _ACTION.format(line=fixed), Settings(select=("OWA002", "OWA3")))


@pytest.mark.parametrize(
    "line",
    [
        "        x = 1  # noqa: OWA301 -- reviewed by security",  # the comment says more
        "        x = 1  # type: ignore  # noqa: OWA301",  # two comments in one token
    ],
)
def test_owa002_leaves_a_comment_that_says_more(line: str) -> None:
    rule = rule_by_code("OWA002")
    assert rule is not None
    assert_fix(rule, _ACTION.format(line=line), None, Settings(select=("OWA002", "OWA3")))


def test_owa002_keeps_the_used_code() -> None:
    source = dedent_example(
        """
        import requests


        class Action:
            async def action(self, body):
                requests.get("https://example.com", timeout=5)  # noqa: OWA112, OWA301
                return body
        """
    )
    outcome = fix_bytes("a.py", source.encode(), Settings(), explicit=True)
    assert "# noqa: OWA112\n" in outcome.fixed
    assert [f.rule for f in outcome.result.findings if f.rule == "OWA002"] == []


# --- the engine: one pass, rounds, overlaps, safety -------------------------------------------


def test_fixes_of_several_rules_apply_in_rounds() -> None:
    """OWA107 makes `action` async; the next round OWA113 can add the `await`."""
    outcome = fix_bytes("a.py", SYNC_ACTION.encode(), Settings(), explicit=True)
    assert outcome.fixed == SYNC_ACTION_FIXED
    assert outcome.applied == 2
    assert {f.rule for f in outcome.result.findings} & {"OWA107", "OWA113"} == set()


def test_one_fix_enables_the_next() -> None:
    """A required secret field: OWA202 gives it a default, which lets OWA203 create
    `__init__` (`Valves()` can no longer raise) and OWA205 wrap the default in `Field`."""
    source = dedent_example(
        """
        from pydantic import BaseModel, Field


        class Action:
            class Valves(BaseModel):
                api_key: str

            async def action(self, body: dict) -> dict:
                return body
        """
    )
    expected = dedent_example(
        """
        from pydantic import BaseModel, Field


        class Action:
            class Valves(BaseModel):
                api_key: str = Field(default="", json_schema_extra={"input": {"type": "password"}})

            def __init__(self):
                self.valves = self.Valves()

            async def action(self, body: dict) -> dict:
                return body
        """
    )
    settings = Settings(select=("OWA202", "OWA203", "OWA205"))
    outcome = fix_bytes("a.py", source.encode(), settings, explicit=True)
    assert outcome.fixed == expected
    assert (outcome.applied, outcome.result.findings) == (3, [])


def test_overlapping_fixes_wait_for_the_next_round() -> None:
    one = Fix("one", (Edit(Location(1, 1, 1, 4), "abc"),))
    two = Fix("two", (Edit(Location(1, 3, 1, 6), "xyz"),))
    three = Fix("three", (Edit(Location(2, 1, 2, 1), "# "),))
    text, applied = apply_fixes("foobar\nline\n", [two, one, three])
    assert (text, applied) == ("abcbar\n# line\n", 2)


def test_inserted_line_breaks_follow_the_file() -> None:
    fix = Fix("f", (Edit(Location(2, 1, 2, 1), "a\nb\n"),))
    assert apply_fixes("x\r\ny\r\n", [fix]) == ("x\r\na\r\nb\r\ny\r\n", 1)


def test_a_fix_that_would_break_the_file_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer import engine

    real = engine._apply_suppressions

    def broken(*args: object, **kwargs: object) -> list[Finding]:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        bad = Fix("breaks it", (Edit(Location(1, 1, 1, 1), "def ("),))
        return [dataclasses.replace(f, fix=bad) for f in out]

    monkeypatch.setattr(engine, "_apply_suppressions", broken)
    outcome = fix_bytes("a.py", SYNC_ACTION.encode(), Settings(), explicit=True)
    assert not outcome.changed
    assert outcome.errors and "would break the file" in outcome.errors[0]


def test_a_broken_fix_is_an_internal_error_on_the_command_line(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer import engine

    real = engine._apply_suppressions

    def broken(*args: object, **kwargs: object) -> list[Finding]:
        bad = Fix("breaks it", (Edit(Location(1, 1, 1, 1), "def ("),))
        return [dataclasses.replace(f, fix=bad) for f in real(*args, **kwargs)]  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_apply_suppressions", broken)
    (work / "a.py").write_text(SYNC_ACTION)
    code, _, err = run("check", "a.py", "--fix", "--no-cache", "--jobs", "1")
    assert code == 2 and "would break the file" in err
    assert (work / "a.py").read_text() == SYNC_ACTION


# --- the command line -----------------------------------------------------------------------


def test_fix_writes_the_file_and_reports_what_remains(work: Path) -> None:
    target = work / "a.py"
    target.write_text(SYNC_ACTION)
    os.chmod(target, 0o640)
    code, out, _ = run("check", "a.py", "--fix", "--select", "OWA1")
    assert target.read_text() == SYNC_ACTION_FIXED
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert "OWA107" not in out and "OWA113" not in out
    assert "(2 fixed, " in out.splitlines()[-1]
    # What remains is reported as usual (OWA111: no frontmatter), and decides the exit code.
    assert "OWA111" in out and code == 1
    # Nothing left to fix: a second run changes nothing.
    code, out, _ = run("check", "a.py", "--fix", "--select", "OWA1")
    assert target.read_text() == SYNC_ACTION_FIXED and "fixed" not in out


def test_fixed_counts_the_findings_that_went_away(work: Path) -> None:
    """Making the confirmation test strict (OWA402) also settles the OWA401 it caused."""
    source = dedent_example(
        """
        from open_webui.models.chats import Chats


        class Action:
            async def action(self, body, __event_call__=None):
                ok = await __event_call__({"type": "confirmation", "data": {"title": "Delete", "message": "Delete?"}})
                if not ok:
                    return None
                await Chats.delete_chat_by_id(body["chat_id"])
        """
    )
    (work / "a.py").write_text(source)
    _, out, _ = run("check", "a.py", "--select", "OWA4")
    assert "Found 2 findings" in out and "OWA401" in out and "OWA402" in out
    code, out, _ = run("check", "a.py", "--fix", "--select", "OWA4")
    assert out.splitlines()[-1].startswith("Found 2 findings (2 fixed, 0 remaining)")
    assert "if ok is not True:" in (work / "a.py").read_text() and code == 0


def test_fix_exits_zero_when_everything_was_fixed(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    code, out, _ = run("check", "a.py", "--fix", "--select", "OWA107,OWA113")
    assert code == 0
    assert out.splitlines()[-1].startswith("Found 2 findings (2 fixed, 0 remaining)")


def test_summary_counts_fixable_findings(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    _, out, _ = run("check", "a.py", "--select", "OWA107,OWA113")
    assert "fixable with `--fix`" in out.splitlines()[-1]


def test_fix_keeps_bom_crlf_and_encoding(work: Path) -> None:
    crlf = ("# -*- coding: latin-1 -*-\n# Café\n" + SYNC_ACTION).replace("\n", "\r\n")
    (work / "latin.py").write_bytes(crlf.encode("latin-1"))
    (work / "bom.py").write_bytes(b"\xef\xbb\xbf" + SYNC_ACTION.replace("\n", "\r\n").encode())
    run("check", "latin.py", "bom.py", "--fix", "--select", "OWA107,OWA113")
    expected = ("# -*- coding: latin-1 -*-\n# Café\n" + SYNC_ACTION_FIXED).replace("\n", "\r\n")
    assert (work / "latin.py").read_bytes() == expected.encode("latin-1")
    assert (work / "bom.py").read_bytes() == (
        b"\xef\xbb\xbf" + SYNC_ACTION_FIXED.replace("\n", "\r\n").encode()
    )


def test_fix_never_touches_a_file_with_a_syntax_error(work: Path) -> None:
    broken = SYNC_ACTION + "def (:\n"
    (work / "a.py").write_text(broken)
    code, out, _ = run("check", "a.py", "--fix")
    assert (work / "a.py").read_text() == broken
    assert "OWA001" in out and code == 1


def test_fix_through_a_symlink_rewrites_the_target(work: Path) -> None:
    (work / "real.py").write_text(SYNC_ACTION)
    (work / "link.py").symlink_to(work / "real.py")
    run("check", "link.py", "--fix", "--select", "OWA107,OWA113")
    assert (work / "link.py").is_symlink()
    assert (work / "real.py").read_text() == SYNC_ACTION_FIXED


def test_diff_prints_and_writes_nothing(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    (work / "b.py").write_text(UNFIXABLE)
    code, out, _ = run("check", ".", "--diff", "--select", "OWA107,OWA113")
    assert code == 1
    assert (work / "a.py").read_text() == SYNC_ACTION
    assert out.startswith("--- a/a.py\n+++ b/a.py\n@@")
    assert "-    def action(self, body, __event_emitter__=None):\n" in out
    assert "+    async def action(self, body, __event_emitter__=None):\n" in out
    assert "b.py" not in out
    patch = subprocess.run(
        ["patch", "-p1", "--dry-run"], input=out, text=True, capture_output=True, cwd=work
    )
    assert patch.returncode == 0, patch.stdout + patch.stderr
    code, _, _ = run("check", ".", "--diff", "-o", "fixes.diff", "--select", "OWA107,OWA113")
    assert code == 1 and (work / "fixes.diff").read_text() == out
    # Nothing to fix: no output, exit 0 (even though b.py has a finding).
    code, out, _ = run("check", "b.py", "--diff", "--select", "OWA107,OWA113")
    assert (code, out) == (0, "")


def test_fix_does_not_rewrite_standard_input(work: Path) -> None:
    code, out, err = run("check", "-", "--fix", "--select", "OWA107", stdin=SYNC_ACTION)
    assert "standard input is not fixed in place" in err and "OWA107" in out
    code, out, _ = run("check", "-", "--diff", "--select", "OWA107", stdin=SYNC_ACTION)
    assert code == 1 and "+    async def action" in out


def test_cache_never_serves_a_fixed_file_its_old_findings(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    args = ("check", "a.py", "--format", "json", "--select", "OWA107,OWA113")
    before = json.loads(run(*args)[1])
    assert {f["rule"] for f in before["findings"]} == {"OWA107", "OWA113"}
    run("check", "a.py", "--fix", "--select", "OWA107,OWA113")
    after = json.loads(run(*args)[1])
    assert after["findings"] == []
    # And a cached result still carries its fixes (for --fix, --diff and SARIF).
    (work / "a.py").write_text(SYNC_ACTION)
    run(*args)
    code, out, _ = run("check", "a.py", "--diff", "--select", "OWA107,OWA113")
    assert code == 1 and "+    async def action" in out


def test_sarif_results_carry_fixes(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    run("check", "a.py", "--format", "sarif", "-o", "out.sarif", "--select", "OWA107,OWA113")
    results = json.loads((work / "out.sarif").read_text())["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    fix = by_rule["OWA107"]["fixes"][0]
    assert fix["description"]["text"] == "Make `action` `async`"
    change = fix["artifactChanges"][0]
    assert change["artifactLocation"] == {"uri": "a.py", "uriBaseId": "%SRCROOT%"}
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 5},
            "insertedContent": {"text": "async "},
        }
    ]
    # OWA113 in a sync def offers no fix (it would need `async` first).
    assert "fixes" not in by_rule["OWA113"]


@pytest.mark.skipif(not VALIDATE_SARIF.exists(), reason="validate-sarif is not installed")
def test_sarif_with_fixes_validates_strictly(work: Path) -> None:
    (work / "a.py").write_text(SYNC_ACTION)
    (work / "b.py").write_text(_ACTION.format(line="        x = 1  # noqa: OWA301, OWA999"))
    run("check", ".", "--format", "sarif", "-o", "out.sarif")
    assert '"fixes"' in (work / "out.sarif").read_text()
    done = subprocess.run(
        [str(VALIDATE_SARIF), "--strict", "out.sarif"], capture_output=True, text=True, cwd=work
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_explain_says_whether_a_rule_is_fixable() -> None:
    _, out, _ = run("explain", "OWA402")
    assert "fixable" in out.splitlines()[0] and "## Fix\n`check --fix` rewrites" in out
    _, out, _ = run("explain", "OWA301")
    assert "no autofix" in out.splitlines()[0]


def test_fixable_rules() -> None:
    fixable = sorted(r.code for r in all_rules() if r.fixable)
    assert fixable == ["OWA002", "OWA107", "OWA113", "OWA202", "OWA203", "OWA205", "OWA402"]


def test_patch_tool_available() -> None:
    assert shutil.which("patch") is not None


# --- every rule's examples, with every rule on --------------------------------------------

EXAMPLES = [
    pytest.param(source, id=f"{rule.code}-{kind}-{i}")
    for rule in all_rules()
    for kind, sources in (
        ("VALID", [v.source for v in rule.VALID]),
        ("INVALID", [v.source for v in rule.INVALID]),
    )
    for i, source in enumerate(sources)
]


@pytest.mark.parametrize("source", EXAMPLES)
def test_fixing_with_every_rule_is_stable_and_safe(source: str) -> None:
    """All fixes together never break a file, reach a fixed point within the rounds (a
    second `--fix` changes nothing), and keep every comment (but unused noqa codes)."""
    outcome = fix_bytes("example.py", source.encode(), Settings(), explicit=True)
    assert not outcome.errors, outcome.errors
    again = fix_bytes("example.py", outcome.fixed.encode(), Settings(), explicit=True)
    assert not again.changed, again.diff()
    if "noqa" not in source:
        assert _comments(source) <= _comments(outcome.fixed)


def _comments(source: str) -> set[str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.string for t in tokens if t.type == tokenize.COMMENT}
