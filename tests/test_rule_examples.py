"""Every rule's VALID and INVALID examples, run as tests (Fixit's style).

An INVALID example must be flagged on exactly the lines it names; a VALID one not at all.
Each example runs with only its own rule enabled, through the real engine.
"""

from __future__ import annotations

import io
import tokenize

import pytest

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.fixer import fix_bytes
from analyzer.registry import all_rules
from analyzer.rule import Invalid, LintRule, Valid

CASES = [
    pytest.param(rule, case, id=f"{rule.code}-{kind}-{i}")
    for rule in all_rules()
    for kind, cases in (("VALID", rule.VALID), ("INVALID", rule.INVALID))
    for i, case in enumerate(cases)
]


def _run(rule: type[LintRule], source: str) -> list[tuple[int, str]]:
    result = lint_text(source, Settings(select=(rule.code,)), path="example.py")
    assert not result.errors, result.errors
    assert result.status == "action", f"example is not an action module: {result.status}"
    return [(f.location.line, f.message) for f in result.findings if f.rule == rule.code]


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_example(rule: type[LintRule], case: Valid | Invalid) -> None:
    found = _run(rule, case.source)
    if isinstance(case, Valid):
        assert found == [], f"{rule.code} flagged a VALID example: {found}"
        return
    assert sorted({line for line, _ in found}) == sorted(set(case.lines)), found
    if case.message is not None:
        for _, message in found:
            assert case.message in message


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.engine_role is None])
def test_rule_has_docs_and_examples(rule: type[LintRule]) -> None:
    assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
    assert rule.summary and len(rule.summary) <= 200
    for section in ("What it does", "Why is this bad?", "Example"):
        assert rule.doc_section(section), f"{rule.code} docs lack '## {section}'"
    assert rule.VALID and rule.INVALID, f"{rule.code} needs VALID and INVALID examples"


def test_rule_ids_are_unique_and_well_formed() -> None:
    codes = [r.code for r in all_rules()]
    names = [r.name for r in all_rules()]
    assert len(codes) == len(set(codes)) and len(names) == len(set(names))
    assert all(len(c) == 6 and c.startswith("OWA") and c[3:].isdigit() for c in codes)


# --- autofixes (Fixit's `expected_replacement`) ---------------------------------------------

FIX_CASES = [
    pytest.param(rule, case, id=f"{rule.code}-INVALID-{i}")
    for rule in all_rules()
    if rule.fixable
    for i, case in enumerate(rule.INVALID)
]


def _comments(source: str) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return sorted(t.string for t in tokens if t.type == tokenize.COMMENT)


def assert_fix(
    rule: type[LintRule], source: str, expected: str | None, settings: Settings | None = None
) -> None:
    """The fix `rule` offers on `source` gives `expected` (None: it offers none), the result
    re-lints clean for that rule (but for findings that had no fix), and every
    comment of `source` is still there (but the
    `# noqa` codes OWA002 removes)."""
    settings = settings or Settings(select=(rule.code,))
    outcome = fix_bytes("example.py", source.encode(), settings, explicit=True)
    assert not outcome.errors, outcome.errors
    if expected is None:
        assert outcome.fixed == source, f"{rule.code} fixed an example it must leave alone"
        return
    assert outcome.fixed == expected
    assert outcome.applied >= 1
    before = lint_text(source, settings, path="example.py").findings
    unfixable = [f for f in before if f.rule == rule.code and f.fix is None]
    again = lint_text(expected, settings, path="example.py")
    assert again.status == "action"
    left = [f for f in again.findings if f.rule == rule.code]
    # Clean for that rule, but for the findings it offered no fix for.
    assert [f for f in left if f.fix is not None] == []
    assert len(left) == len(unfixable), left
    if rule.code != "OWA002":
        assert set(_comments(source)) <= set(_comments(expected))
        assert len(_comments(expected)) >= len(_comments(source))


@pytest.mark.parametrize(("rule", "case"), FIX_CASES)
def test_fix(rule: type[LintRule], case: Invalid) -> None:
    assert_fix(rule, case.source, case.fixed_source)


def test_fixable_rules_show_a_fix() -> None:
    fixable = [r for r in all_rules() if r.fixable and r.engine_role is None]
    for rule in fixable:
        assert any(case.fixed is not None for case in rule.INVALID), rule.code
    for rule in all_rules():
        assert bool(rule.doc_section("Fix")) == rule.fixable, f"{rule.code}: `## Fix` section"
