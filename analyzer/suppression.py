"""`# noqa: OWA301` suppressions, read from real comment tokens (never from strings).

A suppression applies on the line that holds it, and, when it sits on the first line of a
multi-line statement, to every line of that statement. A line inside a multi-line string
(a docstring, the frontmatter) cannot hold a comment: there, as in Ruff, the directive goes
after the string, on the line where it ends. A bare `# noqa` suppresses nothing:
owui-lint is a security linter, and a blanket waiver written for another tool must not
silence it. A comment `# owui-lint: noqa` (every rule) or `# owui-lint: noqa: OWA301`
(those rules) anywhere in a file applies to the whole file, like Ruff's `# ruff: noqa`.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from analyzer.findings import Location
from analyzer.lines import LINE_BREAK

_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)", re.I)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")
_FILE_NOQA = re.compile(
    r"#\s*owui-lint\s*:\s*noqa(?:\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?",
    re.I,
)


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
    # Physical line whose end lies inside a multi-line string -> the line the string ends on.
    string_end: dict[int, int] = field(default_factory=dict)
    used: set[Directive] = field(default_factory=set)
    # `# owui-lint: noqa`: the whole file; `# owui-lint: noqa: OWA301`: those rules.
    whole_file: bool = False
    file_level: list[Directive] = field(default_factory=list)

    def match(self, rule: str, line: int) -> Directive | None:
        """The directive that suppresses `rule` at `line`, marked as used, or None."""
        candidates = [line]
        start = self.statement_start.get(line, line)
        if start != line:
            candidates.append(start)
        if line in self.string_end:
            candidates.append(_after_strings(line, self.string_end))
        for candidate in candidates:
            for directive in self.by_line.get(candidate, []):
                if directive.code == rule:
                    self.used.add(directive)
                    return directive
        for directive in self.file_level:
            if directive.code == rule:
                self.used.add(directive)
                return directive
        return None

    def unused(self) -> list[Directive]:
        all_directives = [d for ds in self.by_line.values() for d in ds] + self.file_level
        return [d for d in all_directives if d not in self.used]


def parse_suppressions(text: str) -> Suppressions:
    result = Suppressions()
    if _NOQA.search(text) is None and _FILE_NOQA.search(text) is None:
        return result  # no directive anywhere: nothing to tokenize (most files)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return result
    _layout(tokens, result)
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            _add_directives(result, tok)
    return result


def _layout(tokens: list[tokenize.TokenInfo], result: Suppressions) -> None:
    """Fill `statement_start` and `string_end` from the tokens."""
    logical_start: int | None = None
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE)
    for tok in tokens:
        if tok.end[0] > tok.start[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
            for line in range(tok.start[0], tok.end[0]):
                result.string_end[line] = tok.end[0]
        if tok.type not in skip and tok.type != tokenize.ENDMARKER and logical_start is None:
            logical_start = tok.start[0]
        if tok.type == tokenize.NEWLINE and logical_start is not None:
            for line in range(logical_start, tok.end[0] + 1):
                result.statement_start[line] = logical_start
            logical_start = None


def _after_strings(line: int, string_end: dict[int, int]) -> int:
    """The first line from `line` on whose end is not inside a string (f-string parts and
    strings that start where another ends are followed to the last one)."""
    while line in string_end:
        line = string_end[line]
    return line


def _add_directives(result: Suppressions, tok: tokenize.TokenInfo) -> None:
    line, col = tok.start
    for match in _FILE_NOQA.finditer(tok.string):
        if match.group("codes") is None:
            result.whole_file = True
            continue
        codes_start = match.start("codes")
        for code in _CODE.finditer(match.group("codes")):
            begin = col + codes_start + code.start()
            loc = Location(line, begin + 1, line, begin + len(code.group()) + 1)
            result.file_level.append(Directive(line, code.group().upper(), loc))
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


def add_noqa_comments(data: bytes, wanted: dict[int, set[str]]) -> tuple[bytes, int, list[int]]:
    """`data` with `# noqa: CODES` added to each wanted line (Ruff's `--add-noqa`).

    A code already on the line's directive is not added twice; an existing comment is kept
    and the directive follows it. A line that ends inside a multi-line string gets the
    directive on the line where the string ends (where `Suppressions.match` looks). Only
    UTF-8 files are edited (ValueError otherwise); line endings and a BOM are kept.
    Returns (new data, directives added or extended, missed lines).
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8") from None
    parts = LINE_BREAK.split(text)
    ends = [*LINE_BREAK.findall(text), ""]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(parts)).readline))
    except (tokenize.TokenError, SyntaxError):
        raise ValueError("the file cannot be tokenized") from None
    layout = Suppressions()
    _layout(tokens, layout)
    targets: dict[int, set[str]] = {}
    missed: list[int] = []
    for line, codes in sorted(wanted.items()):
        # Where `match` looks: the line, else after the string the line ends in.
        target = _after_strings(line, layout.string_end)
        if not 1 <= target <= len(parts):
            missed.append(line)
            continue
        targets.setdefault(target, set()).update(codes)
    added = 0
    for target, codes in targets.items():
        current = parts[target - 1]
        present = {
            code.group().upper()
            for match in _NOQA.finditer(current)
            for code in _CODE.finditer(match.group("codes"))
        }
        new = sorted(codes - present)
        if not new:
            continue
        existing = _NOQA.search(current)
        if existing is not None and current[existing.end() :].strip() == "":
            parts[target - 1] = current.rstrip() + ", " + ", ".join(new)
        else:
            parts[target - 1] = current.rstrip() + "  # noqa: " + ", ".join(new)
        added += 1
    out = "".join(part + end for part, end in zip(parts, ends, strict=True))
    return (b"\xef\xbb\xbf" if bom else b"") + out.encode("utf-8"), added, missed
