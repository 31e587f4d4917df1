"""One file through the pipeline: decode → parse → model → rules → suppression → findings.

Nothing here runs analyzed code: the source is decoded and parsed (`ast.parse` for
CPython's own verdict and messages, LibCST for the tree the rules read), never compiled
to bytecode, imported or executed.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from analyzer.config import Settings
from analyzer.findings import Confidence, Finding, Location, with_fingerprints
from analyzer.model import ActionModule, SourceFile, split_lines
from analyzer.registry import enabled_rules, is_enabled, rule_by_code, rule_by_role
from analyzer.rule import LintRule, Report, RuleContext
from analyzer.suppression import parse_suppressions

Status = Literal["action", "skipped", "error", "unreadable"]

_ACTION_WORD = re.compile(rb"\bAction\b")


@dataclass
class FileResult:
    path: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    # Problems that are not findings, one line each, for stderr (rule crashes, I/O errors).
    errors: list[str] = field(default_factory=list)
    # True when a rule raised: the run must exit 2 so the bug is not hidden.
    internal_error: bool = False


class SourceError(Exception):
    """The bytes cannot become a parsed module; carries where and why."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = max(line, 1)
        self.column = max(column, 1)


def decode(data: bytes) -> str:
    """Decode like Python does: BOM, then a PEP 263 coding cookie, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceError(f"cannot decode: {error.msg}", error.lineno or 1) from None
    try:
        codecs.lookup(encoding)
        text = data.decode(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise SourceError(
            f"cannot decode as {encoding}: byte 0x{data[error.start]:02x} is invalid "
            "(declare the encoding with a `# -*- coding: ... -*-` line or save as UTF-8)",
            line,
            column,
        ) from None
    # `utf-8-sig` strips the BOM; tokenize's `utf-8` for a BOM file would keep it.
    return text.removeprefix("\ufeff")


def parse(text: str) -> cst.Module:
    """Parse without running anything; CPython's message wins where it has one."""
    if "\0" in text:
        index = text.index("\0")
        line = text.count("\n", 0, index) + 1
        raise SourceError("source contains a NUL byte", line, index - text.rfind("\n", 0, index))
    try:
        ast.parse(text)
    except SyntaxError as error:
        # CPython's offset is 1-based; a few errors (e.g. in f-strings) report 0.
        raise SourceError(error.msg, error.lineno or 1, error.offset or 1) from None
    except (RecursionError, MemoryError):
        raise SourceError("the file is nested too deeply to analyse") from None
    except ValueError as error:
        raise SourceError(str(error)) from None
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        raise SourceError(error.message, error.raw_line, error.raw_column + 1) from None
    except (RecursionError, MemoryError):
        raise SourceError("the file is nested too deeply to analyse") from None


def lint_bytes(path: str, data: bytes, settings: Settings, *, explicit: bool) -> FileResult:
    """Lint one file's bytes. `explicit`: named on the command line (OWA001 always applies)."""
    if not explicit and not _ACTION_WORD.search(data):
        return FileResult(path, "skipped")
    try:
        text = decode(data)
        module = parse(text)
    except SourceError as error:
        return _syntax_error(path, error)
    model = ActionModule(SourceFile(path, text), module)
    if not model.is_action_module:
        return FileResult(path, "skipped")
    return _run_rules(model, settings)


def _syntax_error(path: str, error: SourceError) -> FileResult:
    rule = rule_by_role("syntax-error")
    loc = Location(error.line, error.column, error.line, error.column + 1)
    finding = Finding(rule.code, rule.name, rule.level, Confidence.HIGH, path, loc, error.message)
    return FileResult(path, "error", with_fingerprints([finding], []))


def _run_rules(model: ActionModule, settings: Settings) -> FileResult:
    path = model.source.path
    per_file = settings.ignored_for(path)
    rules: list[LintRule] = []
    contexts: dict[str, RuleContext] = {}
    for rule_cls in enabled_rules(settings):
        if rule_cls.engine_role is not None or not is_enabled(rule_cls.code, settings, per_file):
            continue
        context = RuleContext(model, settings)
        contexts[rule_cls.code] = context
        rules.append(rule_cls(context))

    result = FileResult(path, "action")
    visitors = [rule for rule in rules if rule.get_visitors()]
    if visitors:
        try:
            model.wrapper.visit_batched(visitors)
        except RecursionError:
            result.errors.append(f"{path}: the file is nested too deeply; some rules were skipped")
            result.internal_error = True
    for rule in rules:
        rule.run_check()
        if rule.crash is not None:
            result.errors.append(f"{path}: rule {rule.crash} (please report this bug)")
            result.internal_error = True

    raw: list[tuple[type[LintRule], Report]] = [
        (type(rule), report) for rule in rules for report in rule.context.reports
    ]
    result.findings = _apply_suppressions(model, raw, {type(r).code for r in rules}, settings)
    return result


def _apply_suppressions(
    model: ActionModule,
    raw: list[tuple[type[LintRule], Report]],
    ran: set[str],
    settings: Settings,
) -> list[Finding]:
    path = model.source.path
    suppressions = parse_suppressions(model.source.text)
    findings: list[Finding] = []
    seen: set[tuple[str, Location, str]] = set()
    for rule_cls, report in raw:
        key = (rule_cls.code, report.location, report.message)
        if key in seen:  # a rule that reaches one node twice reports it once
            continue
        seen.add(key)
        if suppressions.match(rule_cls.code, report.location.line) is not None:
            continue
        findings.append(
            Finding(
                rule_cls.code,
                rule_cls.name,
                rule_cls.level,
                report.confidence,
                path,
                report.location,
                report.message,
            )
        )

    unused_rule = rule_by_role("unused-suppression")
    if is_enabled(unused_rule.code, settings, settings.ignored_for(path)):
        for directive in suppressions.unused():
            if directive.code == unused_rule.code:
                continue
            known = directive.code in ran
            if not known and rule_by_code(directive.code) is not None:
                continue  # the rule did not run here, so we cannot tell whether it is used
            why = "suppressed nothing on this line" if known else "names no owui-lint rule"
            message = f"`# noqa: {directive.code}` {why}; remove it"
            if suppressions.match(unused_rule.code, directive.line) is None:
                findings.append(
                    Finding(
                        unused_rule.code,
                        unused_rule.name,
                        unused_rule.level,
                        Confidence.HIGH,
                        path,
                        directive.location,
                        message,
                    )
                )
    return with_fingerprints(findings, split_lines(model.source.text))
