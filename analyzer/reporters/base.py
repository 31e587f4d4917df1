"""What every reporter receives: the run's findings, counts and rule metadata."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from analyzer.findings import Confidence, Finding, Level

TOOL_NAME = "owui-lint"
# The distribution's package page: the tool's home for SARIF consumers.
INFORMATION_URI = "https://pypi.org/project/owui-lint/"


class RuleMeta(Protocol):
    """What a reporter reads of a rule: a `LintRule` class, or its `registry.RuleInfo`."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> Level: ...
    @property
    def confidence(self) -> Confidence: ...
    @property
    def summary(self) -> str: ...
    def docs(self) -> str: ...
    def full_description(self) -> str: ...
    def tags(self) -> list[str]: ...
    def severity_score(self) -> str | None: ...


@cache
def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0"


@dataclass
class Notification:
    """A file that could not be analysed (parse failure, unreadable): not a finding."""

    path: str
    message: str
    level: str = "error"


@dataclass
class RunReport:
    findings: list[Finding]
    rules: Sequence[RuleMeta]
    files: int = 0
    actions: int = 0  # analysed
    skipped: int = 0  # not action modules
    not_analysed: int = 0  # checked, but a syntax error (OWA001) stopped the analysis
    unreadable: int = 0  # could not be read or analysed (too large, over the budget)
    notifications: list[Notification] = field(default_factory=list)
    version: str = field(default_factory=tool_version)
    # The directory relative paths are anchored at (SARIF's %SRCROOT%), absolute POSIX.
    root: str = "/"
    # Findings fixed by `check --fix` (they are no longer in `findings`).
    fixed: int = 0

    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.fix is not None)
    # Findings a `--baseline` file knew and hid; None when no baseline was given.
    baseline_hidden: int | None = None

    def by_rule(self) -> dict[str, int]:
        counts = Counter(f.rule for f in self.findings)
        return {rule: counts[rule] for rule in sorted(counts)}
