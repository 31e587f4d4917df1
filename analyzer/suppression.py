"""`# noqa: OWA301` suppressions, read from real comment tokens (never from strings).

A suppression applies on the line that holds it, and, when it sits on the first line of a
multi-line statement, to every line of that statement. A bare `# noqa` suppresses nothing:
owui-lint is a security linter, and a blanket waiver written for another tool must not
silence it.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from analyzer.findings import Location

_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)", re.I)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")


@dataclass(frozen=True)
class Directive:
    line: int
    code: str
    location: Location
    # The comment that holds it: its text and 0-based start column (on `line`).
    comment: str = ""
    comment_column: int = 0


@dataclass
class Suppressions:
    by_line: dict[int, list[Directive]] = field(default_factory=dict)
    # Physical line -> first line of the logical line (statement) that contains it.
    statement_start: dict[int, int] = field(default_factory=dict)
    used: set[Directive] = field(default_factory=set)

    def match(self, rule: str, line: int) -> Directive | None:
        """The directive that suppresses `rule` at `line`, marked as used, or None."""
        candidates = [line]
        start = self.statement_start.get(line, line)
        if start != line:
            candidates.append(start)
        for candidate in candidates:
            for directive in self.by_line.get(candidate, []):
                if directive.code == rule:
                    self.used.add(directive)
                    return directive
        return None

    def unused(self) -> list[Directive]:
        all_directives = [d for ds in self.by_line.values() for d in ds]
        return [d for d in all_directives if d not in self.used]


def parse_suppressions(text: str) -> Suppressions:
    result = Suppressions()
    if _NOQA.search(text) is None:
        return result  # no directive anywhere: nothing to tokenize (most files)
    logical_start: int | None = None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return result
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE)
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            _add_directives(result, tok)
        if tok.type not in skip and tok.type != tokenize.ENDMARKER and logical_start is None:
            logical_start = tok.start[0]
        if tok.type == tokenize.NEWLINE and logical_start is not None:
            for line in range(logical_start, tok.end[0] + 1):
                result.statement_start[line] = logical_start
            logical_start = None
    return result


def _add_directives(result: Suppressions, tok: tokenize.TokenInfo) -> None:
    line, col = tok.start
    for match in _NOQA.finditer(tok.string):
        codes_start = match.start("codes")
        for code in _CODE.finditer(match.group("codes")):
            if not code.group().upper().startswith("OWA"):
                continue
            begin = col + codes_start + code.start()
            loc = Location(line, begin + 1, line, begin + len(code.group()) + 1)
            directive = Directive(line, code.group().upper(), loc, tok.string, col)
            result.by_line.setdefault(line, []).append(directive)


# A comment that is one noqa directive (codes only) and nothing else.
_ONLY_NOQA = re.compile(r"#\s*noqa\s*:\s*[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*\s*\Z", re.I)


def removal(directive: Directive, line_text: str) -> tuple[Location, str] | None:
    """The edit that removes `directive`'s code from its comment: the whole comment (and
    the blanks before it, or its whole line when it stands alone) when the comment held
    only that code, else the code and one separator. None when that is not certain."""
    comment, col = directive.comment, directive.comment_column
    if line_text[col : col + len(comment)] != comment or _ONLY_NOQA.match(comment) is None:
        return None
    match = _NOQA.match(comment)
    if match is None:
        return None
    codes = list(_CODE.finditer(match.group("codes")))
    base = match.start("codes")
    mine = [c for c in codes if base + c.start() + col + 1 == directive.location.column]
    if len(mine) != 1:
        return None
    line = directive.line
    if len(codes) == 1:
        before = line_text[:col]
        if not before.strip():  # a comment on a line of its own: the line goes
            return Location(line, 1, line + 1, 1), ""
        start = len(before.rstrip())
        end = col + len(comment)
        return Location(line, start + 1, line, end + 1), ""
    index = codes.index(mine[0])
    if index + 1 < len(codes):  # the code and the separator after it
        start, end = codes[index].start(), codes[index + 1].start()
    else:  # the last code: the separator before it
        start, end = codes[index - 1].end(), codes[index].end()
    offset = col + base
    return Location(line, offset + start + 1, line, offset + end + 1), ""
