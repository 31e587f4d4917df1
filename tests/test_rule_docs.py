"""Each rule's documentation as users read it (`explain`, docs/rules, SARIF help).

The code a rule's "Use instead" section shows is the fix users copy: it must lint clean
under every rule, not only the rule that documents it.
"""

from __future__ import annotations

import re

import pytest

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.registry import all_rules
from analyzer.rule import LintRule

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# The examples leave out the frontmatter every action module starts with (the docs say so).
FRONTMATTER = '"""\ntitle: Example\ndescription: An example action.\n"""\n'


def _use_instead(rule: type[LintRule]) -> list[str]:
    return _BLOCK.findall(rule.doc_section("Use instead"))


@pytest.mark.parametrize("rule", [r for r in all_rules() if _use_instead(r)], ids=lambda r: r.code)
def test_use_instead_lints_clean_under_every_rule(rule: type[LintRule]) -> None:
    for block in _use_instead(rule):
        source = block if block.startswith('"""') else FRONTMATTER + block
        result = lint_text(source, Settings(), path="fixed.py")
        assert not result.errors, result.errors
        found = [
            f"{f.rule}:{f.location.line - (source != block) * 4}: {f.message}"
            for f in result.findings
        ]
        assert found == [], f"{rule.code}'s 'Use instead' is flagged:\n" + "\n".join(found)
