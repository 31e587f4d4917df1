"""The rule base class (Fixit's style): metadata, docs, visitors and examples in one class.

A rule subclasses `LintRule`, sets its metadata as class attributes, writes its docs as the
class docstring (Ruff's template: *What it does / Why is this bad? / Example / Use instead*),
and finds problems either in `visit_*` / `leave_*` methods (run in one batched traversal
shared by every rule) or in `check()`, which runs after the traversal and may query the
semantic model. It reports with `self.report(node, message)`. It never parses, reads
configuration, touches the file system or prints.
"""

from __future__ import annotations

import functools
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import libcst as cst

from analyzer.budget import BudgetExceeded
from analyzer.findings import Confidence, Edit, Fix, Level, Location

if TYPE_CHECKING:
    from analyzer.config import Settings
    from analyzer.model import ActionModule


@dataclass(frozen=True)
class Valid:
    """A snippet on which the rule must report nothing."""

    code: str

    @property
    def source(self) -> str:
        return dedent_example(self.code)


@dataclass(frozen=True)
class Invalid:
    """A snippet on which the rule must report exactly on `lines` (1-based, after dedent).

    `message` is an optional substring that every finding's message must contain.
    `fixed` (Fixit's `expected_replacement`): the source after `--fix` with only this rule
    enabled; None when the rule offers no fix here (then it must offer none).
    """

    code: str
    lines: tuple[int, ...]
    message: str | None = None
    fixed: str | None = None

    @property
    def source(self) -> str:
        return dedent_example(self.code)

    @property
    def fixed_source(self) -> str | None:
        return None if self.fixed is None else dedent_example(self.fixed)


def dedent_example(code: str) -> str:
    """Dedent an example; a single leading newline is dropped so line 1 is the first line."""
    text = textwrap.dedent(code)
    return text[1:] if text.startswith("\n") else text


@dataclass(frozen=True)
class Report:
    """What a rule reported, before the engine turns it into a `Finding`."""

    location: Location
    message: str
    confidence: Confidence
    fix: Fix | None = None


@dataclass
class RuleContext:
    """What a rule may see: the file's semantic model and the validated settings."""

    module: ActionModule
    settings: Settings
    reports: list[Report] = field(default_factory=list)


class RuleCrash(Exception):
    """A rule raised while analysing a file; carries the rule's id for the report."""

    def __init__(self, rule: str, error: BaseException) -> None:
        super().__init__(f"{rule}: {type(error).__name__}: {error}")
        self.rule = rule
        self.error = error


@functools.cache
def _visitor_names(cls: type[LintRule]) -> tuple[str, ...]:
    """The `visit_*` / `leave_*` methods a rule class defines (LibCST's no-op stubs excluded)."""
    # Only the classes above LibCST's define visitors: `dir(cls)` would list LibCST's 1,700
    # stubs too, and checking them took a fifth of a one-file check.
    candidates = {
        name
        for klass in cls.__mro__
        if not klass.__module__.startswith("libcst.")
        for name in vars(klass)
        if name.startswith(("visit_", "leave_"))
    }
    names = []
    for name in sorted(candidates):
        method = getattr(cls, name)
        if callable(method) and not getattr(method, "_is_no_op", False):
            names.append(name)
    return tuple(names)


class LintRule(cst.BatchableCSTVisitor):
    """Base class of every owui-lint rule."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    level: ClassVar[Level] = Level.WARNING
    confidence: ClassVar[Confidence] = Confidence.HIGH
    summary: ClassVar[str] = ""
    cwe: ClassVar[tuple[int, ...]] = ()
    security: ClassVar[bool] = False
    # SARIF `security-severity` (0.0-10.0, as a string); derived from the level when unset.
    security_severity: ClassVar[str | None] = None
    # Engine-level rules (syntax errors, unused suppressions) are found by role, not by id.
    engine_role: ClassVar[str | None] = None
    # The kinds of Open WebUI function the rule applies to: actions, unless it checks what
    # filters and pipes share with them (`audit --all-types` lints those too).
    kinds: ClassVar[frozenset[str]] = frozenset({"action"})
    # Extra options this rule reads from the settings, for `explain` (key -> description).
    options: ClassVar[Mapping[str, str]] = {}
    # Whether the rule offers a safe autofix (`check --fix`) where it can; for `explain`.
    fixable: ClassVar[bool] = False
    VALID: ClassVar[list[Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context
        self.module = context.module
        self.settings = context.settings

    # --- metadata helpers -------------------------------------------------------------

    @classmethod
    def family(cls) -> str:
        return cls.__module__.rsplit(".", 1)[-1]

    @classmethod
    def docs(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def doc_section(cls, title: str) -> str:
        """The text under `## title` in the docs, or "" when there is none."""
        match = re.search(rf"^## {re.escape(title)}\s*\n(.*?)(?=^## |\Z)", cls.docs(), re.M | re.S)
        return match.group(1).strip() if match else ""

    @classmethod
    def full_description(cls) -> str:
        return cls.doc_section("What it does") or cls.summary

    @classmethod
    def tags(cls) -> list[str]:
        tags = ["security"] if cls.security else []
        tags += [f"external/cwe/cwe-{n}" for n in cls.cwe]
        return [*tags, cls.family()]

    @classmethod
    def severity_score(cls) -> str | None:
        if not cls.security:
            return None
        if cls.security_severity is not None:
            return cls.security_severity
        return {Level.ERROR: "8.0", Level.WARNING: "5.5", Level.NOTE: "3.0"}[cls.level]

    # --- reporting --------------------------------------------------------------------

    def report(
        self,
        node: cst.CSTNode | None,
        message: str,
        *,
        confidence: Confidence | None = None,
        location: Location | None = None,
        fix: Fix | None = None,
    ) -> None:
        """Report a finding at `node` (its full range) or at an explicit `location`,
        with the safe `fix` the rule offers for it, if any."""
        if location is None:
            if node is None:
                raise ValueError("report() needs a node or a location")
            location = self.module.location(node)
        self.context.reports.append(Report(location, message, confidence or self.confidence, fix))

    # --- fixes (text edits located with the CST; the engine applies them) -------------

    def code_of(self, node: cst.CSTNode) -> str:
        """The source text of `node` (its syntactic range, as in the file)."""
        loc = self.module.location(node)
        lines = self.module.source.lines
        if loc.line == loc.end_line:
            return lines[loc.line - 1][loc.column - 1 : loc.end_column - 1]
        first = lines[loc.line - 1][loc.column - 1 :]
        middle = lines[loc.line : loc.end_line - 1]
        last = lines[loc.end_line - 1][: loc.end_column - 1]
        return "\n".join([first, *middle, last])

    def replace(self, node: cst.CSTNode, text: str) -> Edit:
        """Replace the text of `node` with `text`."""
        return Edit(self.module.location(node), text)

    def insert_before(self, node: cst.CSTNode, text: str) -> Edit:
        loc = self.module.location(node)
        return Edit(Location(loc.line, loc.column, loc.line, loc.column), text)

    def insert_after(self, node: cst.CSTNode, text: str) -> Edit:
        loc = self.module.location(node)
        return Edit(Location(loc.end_line, loc.end_column, loc.end_line, loc.end_column), text)

    def indent_of(self, node: cst.CSTNode) -> str:
        """The whitespace that starts the line `node` starts on."""
        line = self.module.source.lines[self.module.location(node).line - 1]
        return line[: len(line) - len(line.lstrip())]

    def check(self) -> None:
        """Called once after the traversal; override to query the semantic model."""

    # --- crash isolation --------------------------------------------------------------

    def get_visitors(self) -> Mapping[str, Callable[[cst.CSTNode], None]]:
        # One rule raising must not abort the batched traversal for the others: wrap each
        # visitor so the first exception is kept, and the rule goes quiet from then on.
        # The method names are found once per class (LibCST's `inspect.getmembers` per
        # instance cost more than some rules).
        return {name: self._guarded(getattr(self, name)) for name in _visitor_names(type(self))}

    crash: RuleCrash | None = None

    def _guarded(self, fn: Callable[[Any], None]) -> Callable[[cst.CSTNode], None]:
        @functools.wraps(fn)
        def run(node: cst.CSTNode) -> None:
            if self.crash is not None:
                return
            try:
                fn(node)
            except (KeyboardInterrupt, BudgetExceeded):
                raise
            except BaseException as error:  # SystemExit too: a rule bug, not the run's end
                self.crash = RuleCrash(self.code, error)

        return run

    def run_check(self) -> None:
        if self.crash is not None:
            return
        try:
            self.check()
        except (KeyboardInterrupt, BudgetExceeded):
            raise
        except BaseException as error:
            self.crash = RuleCrash(self.code, error)
