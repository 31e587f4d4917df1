"""Adopting owui-lint on existing code: a baseline, `--add-noqa`, file-level waivers, and
`--force-exclude` for pre-commit, which names files one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.suppression import add_noqa_comments

FRONTMATTER = '"""\ntitle: Legacy\ndescription: fixture\n"""\n\n'
# Two certain findings: OWA103 (no `action` method) and OWA204 (a hard-coded secret).
LEGACY = FRONTMATTER + (
    "from pydantic import BaseModel, Field\n"
    "\n"
    "\n"
    "class Action:\n"
    "    class Valves(BaseModel):\n"
    '        api_key: str = Field(default="sk-live-0123456789abcdef0123", json_schema_extra='
    '{"input": {"type": "password"}})\n'
    "\n"
    "    def __init__(self):\n"
    "        self.valves = self.Valves()\n"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def rules_of(out: str) -> list[str]:
    return [f["rule"] for f in json.loads(out)["findings"]]


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "legacy.py").write_text(LEGACY)
    return tmp_path


def test_baseline_hides_known_findings_and_survives_line_shifts(legacy: Path) -> None:
    code, out, err = run("check", ".", "--write-baseline", ".owui-lint-baseline.json")
    assert code == 0 and out == ""
    assert err == "owui-lint: wrote 2 findings to .owui-lint-baseline.json\n"
    baseline = json.loads((legacy / ".owui-lint-baseline.json").read_text())
    assert [e["rule"] for e in baseline["findings"]] == ["OWA103", "OWA204"]

    code, out, _ = run("check", ".", "--baseline", ".owui-lint-baseline.json")
    assert code == 0
    assert out == (
        "No new findings in 1 file: 1 action analysed. 2 known findings hidden by the baseline.\n"
    )

    # Lines added above the findings move them; the baseline still knows them.
    shifted = LEGACY.replace(
        "import BaseModel, Field\n", "import BaseModel, Field\n\nX = 1\nY = 2\n"
    )
    (legacy / "legacy.py").write_text(shifted)
    code, out, _ = run("check", ".", "--baseline", ".owui-lint-baseline.json", "--format", "json")
    assert code == 0 and rules_of(out) == []

    # A new finding is reported; the known ones stay hidden, and the summary counts them.
    (legacy / "legacy.py").write_text(shifted.replace("def __init__", "def setup"))
    code, out, _ = run("check", ".", "--baseline", ".owui-lint-baseline.json")
    assert code == 1
    assert "OWA203" in out and "OWA204" not in out and "OWA103" not in out
    assert out.endswith("2 known findings hidden by the baseline.\n")
    code, out, _ = run("check", ".", "--baseline", ".owui-lint-baseline.json", "--format", "json")
    assert rules_of(out) == ["OWA203"]
    assert json.loads(out)["summary"]["baseline_hidden"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not JSON"),
        ('{"findings": []}', "is not an owui-lint baseline"),
        ('{"format": "owui-lint-baseline/v1", "findings": [1]}', "is not an owui-lint baseline"),
    ],
)
def test_a_bad_baseline_is_one_line_and_exit_2(legacy: Path, content: str, message: str) -> None:
    (legacy / "b.json").write_text(content)
    code, out, err = run("check", ".", "--baseline", "b.json")
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1
    code, _, err = run("check", ".", "--baseline", "missing.json")
    assert code == 2 and "cannot read baseline missing.json" in err


def test_add_noqa_suppresses_every_finding_and_keeps_the_file_working(legacy: Path) -> None:
    code, out, err = run("check", ".", "--add-noqa")
    assert code == 0 and out == ""
    assert err == "owui-lint: added 2 `# noqa` comments\n"
    text = (legacy / "legacy.py").read_text()
    assert "class Action:  # noqa: OWA103\n" in text
    assert text.count("# noqa: OWA204") == 1
    assert run("check", ".")[0] == 0
    # Run again: nothing left to add.
    assert run("check", ".", "--add-noqa")[2] == "owui-lint: added 0 `# noqa` comments\n"


def test_add_noqa_extends_a_directive_and_goes_after_a_multiline_string() -> None:
    source = b'x = 1  # noqa: OWA301\ny = """\nz\n"""\n'
    out, added, missed = add_noqa_comments(source, {1: {"OWA401"}, 3: {"OWA301"}})
    assert out == b'x = 1  # noqa: OWA301, OWA401\ny = """\nz\n"""  # noqa: OWA301\n'
    assert added == 2 and missed == []
    crlf, added, _ = add_noqa_comments(b"\xef\xbb\xbfa = 1\r\nb = 2\r\n", {2: {"OWA204"}})
    assert crlf == b"\xef\xbb\xbfa = 1\r\nb = 2  # noqa: OWA204\r\n" and added == 1
    with pytest.raises(ValueError, match="not UTF-8"):
        add_noqa_comments(b"a = '\xff'\n", {1: {"OWA204"}})


def test_a_finding_inside_the_frontmatter_is_waived_after_it(legacy: Path) -> None:
    # OWA111 reports line 1, inside the frontmatter docstring, where no comment can go.
    broken = LEGACY.replace("description: fixture\n", "")
    (legacy / "legacy.py").write_text(broken)
    assert "OWA111" in rules_of(run("check", ".", "--format", "json")[1])
    assert run("check", ".", "--add-noqa")[0] == 0
    text = (legacy / "legacy.py").read_text()
    assert text.startswith('"""\ntitle: Legacy\n"""  # noqa: OWA111\n')
    assert run("check", ".")[0] == 0
    # The docstring still is the frontmatter Open WebUI reads: the comment is after it.
    assert text.splitlines()[2].startswith('"""')


def test_file_level_noqa(legacy: Path) -> None:
    waived = LEGACY.replace('"""\n\n', '"""\n# owui-lint: noqa: OWA204\n\n', 1)
    (legacy / "legacy.py").write_text(waived)
    assert rules_of(run("check", ".", "--format", "json")[1]) == ["OWA103"]

    (legacy / "legacy.py").write_text(LEGACY.replace('"""\n\n', '"""\n# owui-lint: noqa\n\n', 1))
    assert run("check", ".") == (0, "No findings in 1 file: 1 action analysed.\n", "")

    # A file-level waiver for a rule that finds nothing is reported, like a line's.
    unused = LEGACY.replace('"""\n\n', '"""\n# owui-lint: noqa: OWA204, OWA301\n\n', 1)
    (legacy / "legacy.py").write_text(unused)
    _, out, _ = run("check", ".", "--format", "json")
    data = json.loads(out)["findings"]
    assert [f["rule"] for f in data] == ["OWA002", "OWA103"]
    assert data[0]["message"] == (
        "`# owui-lint: noqa: OWA301` suppressed nothing in this file; remove it"
    )


def test_force_exclude_applies_exclude_to_named_files(legacy: Path) -> None:
    (legacy / "pyproject.toml").write_text('[tool.owui-lint]\nexclude = ["vendor"]\n')
    (legacy / "vendor").mkdir()
    (legacy / "vendor" / "third_party.py").write_text(LEGACY)
    (legacy / ".venv").mkdir()
    (legacy / ".venv" / "lib.py").write_text(LEGACY)
    named = ["vendor/third_party.py", ".venv/lib.py", "legacy.py"]
    _, out, _ = run("check", *named, "--format", "json")
    assert sorted({f["path"] for f in json.loads(out)["findings"]}) == sorted(named)
    _, out, _ = run("check", *named, "--format", "json", "--force-exclude")
    assert {f["path"] for f in json.loads(out)["findings"]} == {"legacy.py"}
    # Every named file excluded: nothing to check, and that is a success (pre-commit).
    code, out, _ = run("check", "vendor/third_party.py", "--force-exclude")
    assert code == 0 and out == "No files checked.\n"
