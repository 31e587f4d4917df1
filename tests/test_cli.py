"""The command line as users see it: output formats, exit codes, selection, config, jobs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.reporters.base import project_urls
from tests.conftest import FIXTURES, update_golden

EXPECTED = FIXTURES / "expected"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if update_golden():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def _normalise_sarif(text: str, root: Path) -> str:
    # Links to the tool and its rule pages depend on where it is installed from.
    home = project_urls().home
    if home is not None:
        text = text.replace(f'"{home}', '"HOME/')
    return text.replace(root.resolve().as_posix(), "/ROOT").replace('"0.1.0"', '"VERSION"')


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_reporter_output_is_exact(project: Path, fmt: str) -> None:
    code, out, _ = run("check", ".", "--format", fmt, "--jobs", "1")
    assert code == 1
    if fmt == "sarif":
        out = _normalise_sarif(out, project)
    if fmt == "json":
        out = out.replace('"version": "0.1.0"', '"version": "VERSION"')
    golden(f"project.{fmt}", out)


def test_text_summary_and_locations(project: Path) -> None:
    _, out, _ = run("check", ".", "--jobs", "1")
    lines = out.splitlines()
    assert lines[0] == "broken.py:2:33: OWA001 [error] expected ':'"
    assert lines[1].startswith("no_method.py:7:7: OWA103 [error] `class Action` has no `action`")
    assert lines[-1] == (
        "Found 3 findings (2 errors, 1 warning, 1 fixable with `--fix`) in 5 files:"
        " 3 actions analysed, 1 file checked, not analysed (syntax error),"
        " 1 skipped (not an action)."
    )


def test_json_contract(project: Path) -> None:
    _, out, _ = run("check", ".", "--format", "json")
    data = json.loads(out)
    assert set(data) == {"tool", "summary", "findings"}
    assert data["summary"] == {
        "files": 5,
        "actions": 3,
        "skipped": 1,
        "not_analysed": 1,
        "unreadable": 0,
        "findings": 3,
        "by_rule": {"OWA001": 1, "OWA002": 1, "OWA103": 1},
    }
    first = data["findings"][1]
    assert list(first) == [
        "rule",
        "name",
        "level",
        "confidence",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "message",
        "fingerprint",
    ]
    assert first["path"] == "no_method.py" and first["column"] == 7 and first["end_column"] == 13


def test_exit_codes(project: Path) -> None:
    assert run("check", "sub/clean.py")[0] == 0
    assert run("check", "no_method.py")[0] == 1
    assert run("check", "no_method.py", "--exit-zero")[0] == 0
    assert run("check", "broken.py")[0] == 1  # OWA001 is a finding
    code, _, err = run("check", "missing.py")
    assert code == 1 and "missing.py: no such file or directory" in err
    assert run("check", "--format", "xml")[0] == 2
    code, _, err = run("check", ".", "--select", "OWA9")
    assert code == 2 and "'OWA9' matches no rule" in err


def test_select_ignore_and_prefixes(project: Path) -> None:
    def rules(*args: str) -> set[str]:
        _, out, _ = run("check", ".", "--format", "json", *args)
        return {f["rule"] for f in json.loads(out)["findings"]}

    assert rules() == {"OWA001", "OWA002", "OWA103"}
    # A noqa for a rule that did not run is not called unused (we cannot know).
    assert rules("--ignore", "OWA1") == {"OWA001"}
    # OWA001 cannot be switched off: an unparsed file never passes silently.
    assert rules("--select", "OWA103") == {"OWA001", "OWA103"}
    assert rules("--select", "OWA1", "--ignore", "OWA103") == {"OWA001"}
    assert rules("--select", "OWA0", "--extend-select", "OWA103") == {"OWA001", "OWA002", "OWA103"}
    # The more specific selector wins.
    assert rules("--ignore", "OWA", "--extend-select", "OWA103") == {"OWA001", "OWA103"}


def test_config_file_is_applied(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.owui-lint]\nignore = ["OWA002"]\nexclude = ["sub"]\n'
        '[tool.owui-lint.per-file-ignores]\n"no_method.py" = ["OWA103"]\n'
    )
    _, out, _ = run("check", ".", "--format", "json")
    data = json.loads(out)
    assert {f["rule"] for f in data["findings"]} == {"OWA001"}
    assert data["summary"]["files"] == 3  # sub/ is excluded


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[tool.owui-lint]\nselct = ["OWA3"]\n', "unknown key 'selct'"),
        ('[tool.owui-lint]\nselect = "OWA3"\n', "'select'"),
        ('[tool.owui-lint]\nselect = ["E501"]\n', "'E501' is not a rule id"),
        ("[tool.owui-lint\n", "invalid TOML"),
        ('[tool.owui-lint.privileged]\nextras = ["x"]\n', "unknown key 'privileged.extras'"),
    ],
)
def test_config_errors_are_one_line_and_exit_2(project: Path, toml: str, message: str) -> None:
    (project / "pyproject.toml").write_text(toml)
    code, out, err = run("check", ".")
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_suppression_and_unused_suppression(project: Path) -> None:
    _, out, _ = run("check", "suppressed.py", "--format", "json")
    findings = json.loads(out)["findings"]
    # Line 7's noqa suppresses OWA103; line 8's is unused.
    assert [(f["rule"], f["line"], f["column"]) for f in findings] == [("OWA002", 8, 41)]


FRONTMATTER = '"""\ntitle: T\ndescription: D\n"""\n'


def test_bare_noqa_does_not_suppress(project: Path) -> None:
    (project / "bare.py").write_text(
        FRONTMATTER + "class Action:  # noqa\n    async def run(self, body):\n        return body\n"
    )
    _, out, _ = run("check", "bare.py", "--format", "json")
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["OWA103"]


def test_noqa_on_first_line_of_multiline_statement(project: Path) -> None:
    (project / "multi.py").write_text(
        FRONTMATTER + "Action = dict(  # noqa: OWA103\n    a=1,\n)\n\nclass Action:\n    pass\n"
    )
    _, out, _ = run("check", "multi.py", "--format", "json")
    # The noqa is on a statement that reports nothing: unused; the class is still flagged.
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["OWA002", "OWA103"]


def test_syntax_error_does_not_stop_other_files(project: Path) -> None:
    _, out, _ = run("check", "broken.py", "no_method.py", "sub/clean.py", "--format", "json")
    data = json.loads(out)
    assert [f["rule"] for f in data["findings"]] == ["OWA001", "OWA103"]
    assert data["summary"]["files"] == 3


def test_stdin(project: Path) -> None:
    source = (project / "no_method.py").read_text()
    code, out, _ = run("check", "-", "--stdin-filename", "plugin.py", stdin=source)
    assert code == 1 and out.startswith("plugin.py:7:7: OWA103")


def test_statistics_quiet_and_show_source(project: Path) -> None:
    _, out, _ = run("check", ".", "--statistics", "--quiet", "--show-source", "--jobs", "1")
    assert "    7 | class Action:" in out
    assert "      |       ^^^^^^" in out
    assert "    1  OWA103  missing-action-method" in out
    assert "Found" not in out


def test_colour_only_when_asked(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" not in run("check", "no_method.py")[1]
    assert "\x1b[" in run("check", "no_method.py", "--color", "always")[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run("check", "no_method.py")[1]


def test_output_file(project: Path) -> None:
    code, out, _ = run("check", ".", "--format", "sarif", "-o", "out.sarif")
    assert code == 1 and out == ""
    assert json.loads((project / "out.sarif").read_text())["version"] == "2.1.0"


def test_jobs_give_byte_identical_output(project: Path) -> None:
    for i in range(12):  # enough files for the pool to split the work
        (project / f"copy_{i}.py").write_text((project / "no_method.py").read_text())
    outputs = []
    for jobs in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer", "check", ".", "--format", "sarif", "-j", jobs],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


def test_rules_and_explain() -> None:
    code, out, _ = run("rules")
    assert code == 0 and "OWA103  missing-action-method" in out
    code, out, _ = run("explain", "OWA103")
    assert code == 0 and "## What it does" in out and "## Example" in out
    assert run("explain", "missing-action-method")[0] == 0
    code, _, err = run("explain", "OWA999")
    assert code == 2 and "unknown rule" in err


def test_help_shows_examples() -> None:
    _, out, _ = run("check", "--help")
    assert "Examples:" in out and "--format sarif" in out


def test_broken_rule_module_is_a_one_line_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer import cli, registry

    def broken() -> tuple[()]:
        raise registry.RuleLoadError("cannot load rule module rules.x: SyntaxError: bad")

    monkeypatch.setattr(cli, "all_rules", broken)
    code, out, err = run("rules")
    assert code == 2 and out == ""
    assert err == "owui-lint: internal error: cannot load rule module rules.x: SyntaxError: bad\n"


def test_the_command_exits_quickly_with_its_status_and_all_its_output(tmp_path: Path) -> None:
    """`owui-lint` skips Python's slow shutdown (`cli.entry`): the report must still be
    complete and the exit status the one `main` chose."""
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "analyzer"]
    found = subprocess.run(
        [*command, "check", str(root / "examples"), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1
    assert json.loads(found.stdout)["summary"]["findings"] > 20  # the whole report arrived
    written = tmp_path / "report.json"
    to_file = subprocess.run(
        [*command, "check", str(root / "examples"), "--format", "json", "-o", str(written)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert to_file.returncode == 1 and json.loads(written.read_text())["findings"]
    usage = subprocess.run(
        [*command, "check", "--no-such-option"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2 and "No such option" in usage.stderr
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("owui-lint, version ")
