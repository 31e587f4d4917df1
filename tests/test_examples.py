"""The bundled examples: clean ones pass every rule, defective ones are flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.api import lint_source
from analyzer.config import Settings
from analyzer.sources import Source

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLEAN = sorted((EXAMPLES / "clean").glob("*.py"))
DEFECTIVE = sorted((EXAMPLES / "defective").glob("*.py"))


def _lint(path: Path) -> list[str]:
    result = lint_source(Source(path.name, str(path), explicit=True), Settings())
    assert result.status == "action" and not result.errors, (result.status, result.errors)
    return [f"{f.rule}:{f.location.line}: {f.message}" for f in result.findings]


@pytest.mark.parametrize("path", CLEAN, ids=[p.name for p in CLEAN])
def test_clean_example_has_no_findings(path: Path) -> None:
    assert _lint(path) == []


@pytest.mark.parametrize("path", DEFECTIVE, ids=[p.name for p in DEFECTIVE])
def test_defective_example_is_flagged(path: Path) -> None:
    assert _lint(path) != []
