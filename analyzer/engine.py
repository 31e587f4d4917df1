"""One file through the pipeline: decode → parse → model → rules → suppression → findings.

Nothing here runs analyzed code: the source is decoded and parsed (`ast.parse` for
CPython's own verdict and messages, LibCST for the tree the rules read), never compiled
to bytecode, imported or executed.

Hostile input is refused before it can hurt: NUL bytes, nesting deeper than the engine
analyses (LibCST's parser and traversals are recursive), and match patterns nested deeply
enough to make LibCST's parser take exponential time all become OWA001 at a real position.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import time
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from analyzer import budget
from analyzer.config import Settings
from analyzer.findings import Confidence, Edit, Finding, Fix, Location, with_fingerprints
from analyzer.index import Index, TooDeep
from analyzer.lines import split_lines
from analyzer.model import ActionModule, SourceFile
from analyzer.pieces import parse_in_pieces, parse_module, plan
from analyzer.registry import enabled_rules, is_enabled, rule_by_code, rule_by_role
from analyzer.rule import LintRule, Report, RuleContext, RuleCrash
from analyzer.suppression import parse_suppressions, removal

Status = Literal["action", "skipped", "error", "unreadable"]

_ACTION_WORD = re.compile(rb"\bAction\b")
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.M)
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_END = re.compile(rb"\r\n?|\n")

# Nesting the engine analyses, counted on CPython's tree where one level of `a and b and c`
# or of a comprehension's `for` clauses counts once per operand or clause (LibCST nests
# those). CPython itself refuses more than 200 nested brackets and 100 indentation levels,
# which stay far below this; only machine-made chains reach it.
MAX_NESTING = 1000
# Depth of the LibCST tree handed to rules (a second net for what CPython's tree hides,
# such as thousands of implicitly concatenated strings). See budget.RECURSION_LIMIT.
MAX_TREE_DEPTH = 3000
# LibCST's parser takes time exponential in the nesting of match patterns (mapping
# patterns: about 8x per level); real code nests two or three.
MAX_PATTERN_NESTING = 8
# LibCST's parser is about five times slower than CPython's, and uninterruptible.
_CST_PARSE_FACTOR = 6.0


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


# Characters that would let text from an analysed file act on a terminal or a CI log
# (ANSI escapes, OSC sequences, line breaks that start a `::workflow-command::`) or
# reorder what is displayed (bidirectional overrides). Tabs are harmless.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe for any output."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str, limit: int = 300) -> str:
    """A message safe for a one-line diagnostic: whitespace collapsed, length capped."""
    flat = inert(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _line_start(data: bytes, index: int) -> int:
    return max(data.rfind(b"\n", 0, index), data.rfind(b"\r", 0, index)) + 1


def _bad_byte(data: bytes, index: int, encoding: str) -> SourceError:
    start = _line_start(data, index)
    line = len(split_lines(data[:start].decode("latin-1")))
    column = len(data[start:index].decode(encoding, errors="replace")) + 1
    return SourceError(
        f"cannot decode as {encoding}: byte 0x{data[index]:02x} is invalid "
        "(declare the encoding with a `# -*- coding: ... -*-` line or save as UTF-8)",
        line,
        column,
    )


def decode(data: bytes) -> str:
    """Decode like Python does: BOM, then a PEP 263 coding cookie, else UTF-8."""
    return decode_source(data)[0]


def decode_source(data: bytes) -> tuple[str, str]:
    """`decode(data)` and the encoding it used (to write a fixed file back alike)."""
    # detect_encoding splits lines on b"\n" only; CPython also honours a cookie in a file
    # whose lines end with a lone CR. Only the first two lines matter.
    ends = _LINE_END.finditer(data)
    second = next(ends, None) and next(ends, None)
    head = _LINE_END.sub(b"\n", data[: second.end()] if second else data)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
    except SyntaxError as error:
        # detect_encoding rejects invalid UTF-8 in the first two lines without a position.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise _bad_byte(data, bad.start, "utf-8") from None
        cookie = _CODING.search(data, 0, len(data))
        line = data[: cookie.start()].count(b"\n") + 1 if cookie else 1
        raise SourceError(f"cannot decode: {one_line(error.msg)}", min(line, 2)) from None
    try:
        codecs.lookup(encoding)
        text = data.decode(encoding)
    except LookupError as error:  # unknown, or not a text encoding (`rot13`, `zlib`)
        raise SourceError(f"cannot decode: {one_line(str(error))}") from None
    except UnicodeDecodeError as error:
        raise _bad_byte(data, error.start, encoding) from None
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:  # only exotic codecs (`unicode_escape`) produce these
        before = text[: surrogate.start()]
        lines = split_lines(before)
        raise SourceError(
            f"decoding as {encoding} gives an unpaired surrogate"
            f" (U+{ord(surrogate.group()):04X}), which is not valid Python source",
            len(lines),
            len(lines[-1]) + 1,
        )
    # `utf-8-sig` strips the BOM; tokenize's `utf-8` for a BOM file would keep it.
    return text.removeprefix("\ufeff"), encoding


def parse(text: str) -> tuple[cst.Module, Index]:
    """Parse without running anything (CPython's message wins where it has one), and index
    the module: its one traversal, which also bounds the depth of the tree."""
    if "\0" in text:
        nul = text.index("\0")
        line = len(split_lines(text[:nul]))
        start = max(text.rfind("\n", 0, nul), text.rfind("\r", 0, nul)) + 1
        raise SourceError("source contains a NUL byte", line, nul - start + 1)
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            # `invalid escape sequence` and friends must not become errors under -W error.
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError as error:
        # CPython's offset is 1-based; a few errors (e.g. in f-strings) report 0.
        raise SourceError(one_line(error.msg), error.lineno or 1, error.offset or 1) from None
    except (RecursionError, MemoryError):
        raise SourceError("the file is nested too deeply to analyse") from None
    except ValueError as error:  # e.g. a lone surrogate from an exotic source encoding
        raise SourceError(one_line(str(error))) from None
    _check_nesting(tree, text)
    pieces = plan(tree, len(split_lines(text)))
    del tree  # not needed any more: do not hold two trees of a large file at once
    # The LibCST parse runs in C and cannot be interrupted: skip it when it cannot fit.
    budget.expect((time.monotonic() - started) * _CST_PARSE_FACTOR)
    if pieces is not None:  # a large file: parsed in pieces, to bound the parser's memory
        try:
            module = parse_in_pieces(text, pieces)
            return module, _index(module, text)
        except SourceError:
            raise
        except Exception:  # a piece that does not parse alone, or a tree that is not the file
            pass  # parsed whole below, as if it were small
        except BaseException as error:  # a Rust panic in LibCST is a BaseException (pyo3)
            if type(error).__name__ != "PanicException":
                raise
    try:
        module = parse_module(text)
    except cst.ParserSyntaxError as error:
        raise SourceError(
            f"owui-lint's parser (LibCST) cannot parse this file: {one_line(error.message)}",
            error.raw_line,
            error.raw_column + 1,
        ) from None
    except (RecursionError, MemoryError):
        raise SourceError("the file is nested too deeply to analyse") from None
    except Exception as error:
        raise SourceError(f"owui-lint's parser (LibCST) failed: {_reason(error)}") from None
    except BaseException as error:  # a Rust panic in LibCST is a BaseException (pyo3)
        if type(error).__name__ != "PanicException":
            raise
        raise SourceError(f"owui-lint's parser (LibCST) failed: {_reason(error)}") from None
    return module, _index(module)


def _index(module: cst.Module, expect: str | None = None) -> Index:
    try:
        return Index(module, max_depth=MAX_TREE_DEPTH, expect=expect)
    except TooDeep as error:
        raise SourceError(
            f"nesting deeper than {MAX_TREE_DEPTH} syntax levels (for example thousands "
            "of implicitly concatenated strings); owui-lint does not analyse such code",
            error.line,
        ) from None


def _column(text_line: str, byte_offset: int) -> int:
    """1-based character column of a UTF-8 byte offset (CPython's `col_offset`)."""
    return (
        len(text_line.encode("utf-8", "surrogatepass")[:byte_offset].decode("utf-8", "ignore")) + 1
    )


def _check_nesting(tree: ast.AST, text: str) -> None:
    """Refuse nesting deeper than the engine analyses, at the position where it starts."""

    def refuse(message: str, line: int, col: int) -> SourceError:
        lines = split_lines(text)
        column = _column(lines[line - 1], col) if 0 < line <= len(lines) else 1
        return SourceError(message, line, column)

    # (node, depth, match patterns around it, line, column, positions below it trusted)
    stack: list[tuple[ast.AST, int, int, int, int, bool]] = [(tree, 0, 0, 1, 0, True)]
    while stack:
        node, depth, patterns, line, col, exact = stack.pop()
        line = getattr(node, "lineno", line)
        col = getattr(node, "col_offset", col)
        if isinstance(node, ast.pattern):
            patterns += 1
            if patterns > MAX_PATTERN_NESTING:
                raise refuse(
                    f"match pattern nested more than {MAX_PATTERN_NESTING} levels deep;"
                    " owui-lint's parser (LibCST) would take exponential time on it",
                    line,
                    col,
                )
        step = 1
        if isinstance(node, ast.BoolOp):
            step = len(node.values)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            step = len(node.generators) + 1
        children = [c for c in ast.iter_child_nodes(node) if not isinstance(c, _TOKENS)]
        if children and depth + step > MAX_NESTING:
            raise refuse(
                f"nesting deeper than {MAX_NESTING} levels (brackets, blocks, operator or call"
                " chains); owui-lint does not analyse such code",
                line,
                col,
            )
        # An `elif` is CPython's `If` alone in its parent's `orelse`: a chain, not nesting.
        elif_ = _elif_of(node)
        # Python 3.11 and older may misplace what an f-string holds: walk it whole.
        exact = exact and not isinstance(node, ast.JoinedStr)
        for child in children:
            child_depth = depth if child is elif_ else depth + step
            # Each level of nesting inside an expression takes at least one character of its
            # own (a bracket, an operator, a keyword), so an expression on one line cannot
            # nest deeper than its length: most need no walk. Patterns are never in one.
            if (
                exact
                and isinstance(child, ast.expr)
                and child.lineno == child.end_lineno
                and child_depth + 2 * ((child.end_col_offset or 0) - child.col_offset) + 8
                < MAX_NESTING
            ):
                continue
            stack.append((child, child_depth, patterns, line, col, exact))


def _elif_of(node: ast.AST) -> ast.AST | None:
    """The `If` an `elif` (or an `else:` holding only an `if`) continues `node` with."""
    if isinstance(node, ast.If) and len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
        return node.orelse[0]
    return None


# Leaves of CPython's tree that stand for a token, not for nesting.
_TOKENS = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


def _reason(error: BaseException) -> str:
    return one_line(f"{type(error).__name__}: {error}", 200)


def lint_bytes(
    path: str, data: bytes, settings: Settings, *, explicit: bool, kind: str = "action"
) -> FileResult:
    """Lint one file's bytes. `explicit`: named on the command line (OWA001 always applies).
    `kind`: "action", or "filter" / "pipe" (an audited function): only the rules that apply
    to that kind run, on its `Filter` / `Pipe` class."""
    if not explicit and not _ACTION_WORD.search(data):
        return FileResult(path, "skipped")
    text: str | None = None
    try:
        text = decode(data)
        module, index = parse(text)
    except SourceError as error:
        return _syntax_error(path, error, text if text is not None else data.decode("latin-1"))
    model = ActionModule(SourceFile(path, text), module, index, kind)
    try:
        if not model.is_action_module if kind == "action" else model.plugin_class is None:
            return FileResult(path, "skipped")
        return _run_rules(model, settings)
    finally:
        model.release()  # the tree is freed now, not by the cyclic collector's next pass


def _syntax_error(path: str, error: SourceError, text: str) -> FileResult:
    """OWA001 at the error, clamped to a position that exists in the file."""
    rule = rule_by_role("syntax-error")
    lines = split_lines(text)
    line = min(error.line, len(lines))
    column = min(error.column, len(lines[line - 1]) + 1)
    loc = Location(line, column, line, column + 1)
    finding = Finding(rule.code, rule.name, rule.level, Confidence.HIGH, path, loc, error.message)
    return FileResult(path, "error", with_fingerprints([finding], []))


def _crash_line(path: str, rule: str, error: BaseException) -> str:
    return (
        f"{path}: internal error in rule {rule}: {_reason(error)}; its findings for this file"
        " may be incomplete (please report this bug)"
    )


def _fatal(error: BaseException) -> bool:
    """What must stop the whole file (the budget, Ctrl-C) rather than count as a rule bug.

    Anything else a rule raises, `SystemExit` included, is that rule's crash: it must not
    end the run or take the other rules' findings with it.
    """
    return isinstance(error, (budget.BudgetExceeded, KeyboardInterrupt))


def _run_rules(model: ActionModule, settings: Settings) -> FileResult:
    path = model.source.path
    per_file = settings.ignored_for(path)
    result = FileResult(path, "action")
    rules: list[LintRule] = []
    for rule_cls in enabled_rules(settings):
        if rule_cls.engine_role is not None or not is_enabled(rule_cls.code, settings, per_file):
            continue
        if model.kind not in rule_cls.kinds:
            continue
        try:
            rules.append(rule_cls(RuleContext(model, settings)))
        except BaseException as error:  # a rule that cannot even start; the others still run
            if _fatal(error):
                raise
            result.errors.append(_crash_line(path, rule_cls.code, error))
            result.internal_error = True

    visitors: list[LintRule] = []
    for rule in rules:
        try:
            if rule.get_visitors():
                visitors.append(rule)
        except BaseException as error:
            if _fatal(error):
                raise
            rule.crash = RuleCrash(rule.code, error)
    if visitors:
        try:
            cst.visit_batched(model.module, visitors)
        except BaseException as error:  # LibCST failed, or a visitor raised a BaseException
            if _fatal(error):
                raise
            result.errors.append(
                f"{path}: internal error during the traversal: {_reason(error)}; findings for"
                " this file may be incomplete (please report this bug)"
            )
            result.internal_error = True
    for rule in rules:
        try:
            rule.run_check()
        except BaseException as error:  # run_check keeps only `Exception`s
            if _fatal(error):
                raise
            rule.crash = RuleCrash(rule.code, error)
        if rule.crash is not None:
            result.errors.append(_crash_line(path, rule.code, rule.crash.error))
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
    # The tokenizer behind the suppressions splits lines on `\n` only: give it one line
    # break per line (a lone-CR file would otherwise be one long line). Columns stay put.
    suppressions = parse_suppressions("\n".join(model.source.lines))
    if suppressions.whole_file:  # `# owui-lint: noqa`: the file is waived as a whole
        return []
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
                inert(report.message),  # rules quote source text; it must stay text
                fix=report.fix,
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
            comment = f"# noqa: {directive.code}"
            fix = None
            if directive in suppressions.file_level:
                comment = f"# owui-lint: noqa: {directive.code}"
                why = "suppressed nothing in this file" if known else why
            else:
                edit = removal(directive, model.source.lines[directive.line - 1])
                if edit is not None:
                    fix = Fix(f"Remove `{directive.code}` from the `# noqa`", (Edit(*edit),))
            message = f"`{comment}` {why}; remove it"
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
                        fix=fix,
                    )
                )
    return with_fingerprints(findings, split_lines(model.source.text))
