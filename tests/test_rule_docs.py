"""Each rule's documentation as users read it (`explain`, docs/rules, SARIF help).

The code a rule's "Use instead" section shows is the fix users copy: it must be a whole
action module (the frontmatter aside) and lint clean under every rule, not only the rule
that documents it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.api import lint_text
from analyzer.cli import main
from analyzer.config import Settings
from analyzer.registry import all_rules, rule_by_code
from analyzer.reporters.base import RULE_DOCS
from analyzer.rule import LintRule
from analyzer.ruledocs import EXAMPLES_NOTE, stale_pages, write_pages

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# The examples leave out the frontmatter every action module starts with (the docs say so).
FRONTMATTER = '"""\ntitle: Example\ndescription: An example action.\n"""\n'


def _use_instead(rule: type[LintRule]) -> list[str]:
    return _BLOCK.findall(rule.doc_section("Use instead"))


def test_every_rule_shows_a_fix() -> None:
    assert [r.code for r in all_rules() if not _use_instead(r)] == []


@pytest.mark.parametrize("rule", [r for r in all_rules() if _use_instead(r)], ids=lambda r: r.code)
def test_use_instead_lints_clean_under_every_rule(rule: type[LintRule]) -> None:
    for block in _use_instead(rule):
        source = block if block.startswith('"""') else FRONTMATTER + block
        result = lint_text(source, Settings(), path="fixed.py")
        assert not result.errors, result.errors
        # A fragment would be skipped (not an action module) and prove nothing.
        assert result.status == "action", f"{rule.code}: 'Use instead' is not a whole module"
        found = [
            f"{f.rule}:{f.location.line - (source != block) * 4}: {f.message}"
            for f in result.findings
        ]
        assert found == [], f"{rule.code}'s 'Use instead' is flagged:\n" + "\n".join(found)


def test_docs_rules_pages_are_generated_and_fresh() -> None:
    # `python -m analyzer.ruledocs` rewrites them; this fails when a rule changed since.
    directory = Path(__file__).resolve().parent.parent / RULE_DOCS
    assert stale_pages(directory) == [], "run `python -m analyzer.ruledocs` and commit docs/"
    page = (directory / "OWA401.md").read_text(encoding="utf-8")
    assert page.startswith("<!-- Generated")
    assert "# OWA401 risky-op-without-confirmation" in page and "CWE-356" in page
    assert "## Use instead" in page and EXAMPLES_NOTE in page


def test_stale_pages_are_found(tmp_path: Path) -> None:
    write_pages(tmp_path)
    assert stale_pages(tmp_path) == []
    (tmp_path / "OWA301.md").write_text("old text")
    (tmp_path / "OWA999.md").write_text("a rule that is gone")
    (tmp_path / "OWA302.md").unlink()
    assert stale_pages(tmp_path) == ["OWA301.md", "OWA302.md", "OWA999.md"]


def test_rules_json_lists_every_rule_with_its_docs() -> None:
    result = CliRunner().invoke(main, ["rules", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [r["code"] for r in data] == [r.code for r in all_rules()]
    owa401 = next(r for r in data if r["code"] == "OWA401")
    assert owa401 == {
        "code": "OWA401",
        "name": "risky-op-without-confirmation",
        "level": "warning",
        "confidence": "high",
        "family": "confirmation",
        "security": True,
        "cwe": [356],
        "fixable": rule_by_code("OWA401").fixable,  # type: ignore[union-attr]
        "summary": owa401["summary"],
        "explanation": rule_by_code("OWA401").docs(),  # type: ignore[union-attr]
        "options": {},
        "docs": "docs/rules/OWA401.md",
    }
    text = CliRunner().invoke(main, ["rules"]).stdout
    assert text.splitlines()[0].startswith("OWA001  syntax-error")


def test_explain_says_examples_leave_out_the_frontmatter() -> None:
    out = CliRunner().invoke(main, ["explain", "OWA301"]).stdout
    assert out.startswith(
        "# OWA301 privileged-op-without-role-check"
        " (error, authorization, confidence high, security, CWE-862, no autofix)"
    )
    assert out.rstrip().endswith(
        "- `privileged.extra`: more privileged operations, by qualified name"
    )
    assert EXAMPLES_NOTE in out
