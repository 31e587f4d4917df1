"""Parse a large module in pieces, to bound the parser's memory.

While LibCST's parser works it holds about twenty-five times the size of the text it parses
(its tokens and intermediate tree), and the process keeps that memory afterwards: a
5,000-line module's parse peaks over 140 MB, while the tree it returns takes under 20 MB.
Parsed a few hundred lines at a time, the same module peaks at the tree's size plus one
piece's worth.

The pieces are cut where CPython's tree says a statement starts: between top-level
statements, and between the statements of a large top-level class's body (each such piece
is parsed under a stand-in `class _:` line, its statements taken out of it). The parsed
statements are put back together in order; the blank and comment lines a piece ends with
go before the next piece's first statement, where a parse of the whole file puts them.

Nothing here is trusted blindly: the index regenerates the source from the tree it walks,
and the engine parses the whole file at once when that text differs from the file's
(`Index(..., expect=text)`), or when a piece does not parse on its own.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Literal, cast

import libcst as cst

from analyzer.lines import first_newline, line_starts

# Files shorter than this are parsed whole; pieces hold about this many lines.
MIN_LINES = 200
PIECE_LINES = 100

Kind = Literal["module", "class", "body"]
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement
# (kind, first line, line after the last), 1-based. "class" starts a class whose body
# goes on in the "body" pieces after it.
Piece = tuple[Kind, int, int]


class PieceFailed(Exception):
    """A piece does not parse on its own: parse the whole file instead."""


def plan(tree: ast.Module, line_count: int) -> list[Piece] | None:
    """Where to cut a module into pieces, from CPython's tree; None to parse it whole."""
    if line_count < MIN_LINES or not tree.body:
        return None
    pieces: list[Piece] = []
    statements = tree.body
    start = 1  # the current piece's first line
    for i, stmt in enumerate(statements):
        first = _first_line(stmt)
        after = _first_line(statements[i + 1]) if i + 1 < len(statements) else line_count + 1
        cuts = _class_cuts(stmt, after) if after - first > PIECE_LINES else []
        if cuts:
            if start < first and _cuttable(statements, i):
                pieces.append(("module", start, first))
                start = first
            pieces.append(("class", start, cuts[0]))
            pieces += [("body", a, b) for a, b in zip(cuts, [*cuts[1:], after], strict=True)]
            start = after
        elif first - start >= PIECE_LINES and _cuttable(statements, i):
            pieces.append(("module", start, first))
            start = first
    if start <= line_count:
        pieces.append(("module", start, line_count + 1))
    return pieces if len(pieces) > 1 else None


def _first_line(stmt: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _cuttable(statements: Sequence[ast.stmt], i: int) -> bool:
    """The text may be cut just before statement `i`: no earlier statement reaches its line."""
    return i == 0 or (statements[i - 1].end_lineno or 0) < _first_line(statements[i])


def _class_cuts(stmt: ast.stmt, after: int) -> list[int]:
    """Lines to cut a large top-level class's body at, about every PIECE_LINES lines."""
    if not isinstance(stmt, ast.ClassDef) or len(stmt.body) < 2 or stmt.col_offset != 0:
        return []
    body = stmt.body
    if body[0].lineno == stmt.lineno:  # `class A: x = 1; ...` on one line
        return []
    cuts: list[int] = []
    last = _first_line(stmt)
    for i in range(1, len(body)):
        first = _first_line(body[i])
        if first - last >= PIECE_LINES and after - first >= PIECE_LINES // 4 and _cuttable(body, i):
            cuts.append(first)
            last = first
    return cuts


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module`, without each node the parser builds validating itself.

    A node checks its own fields when it is constructed (`CSTNode.__post_init__`), which is
    about an eighth of a parse, and can only fail for a hand-built node: what LibCST's
    parser builds is valid by construction (LibCST's own source suggests skipping it when
    parsing). Nodes built anywhere else, by the fixes for one, are still validated; the
    engine parses in one thread at a time.
    """
    node = cst.CSTNode
    validate = node.__dict__["__post_init__"]
    node.__post_init__ = _unchecked  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    finally:
        node.__post_init__ = validate  # type: ignore[method-assign]


def _unchecked(self: cst.CSTNode) -> None:
    return None


def parse_in_pieces(text: str, pieces: list[Piece]) -> cst.Module:
    """The module `pieces` cut `text` into, parsed piece by piece and put back together."""
    starts = [*line_starts(text), len(text)]
    stand_in = "class _:" + first_newline(text)
    parsed: list[tuple[Kind, cst.Module]] = []
    for kind, first, after in pieces:
        chunk = text[starts[first - 1] : starts[after - 1]]
        try:
            parsed.append((kind, parse_module(stand_in + chunk if kind == "body" else chunk)))
        except cst.ParserSyntaxError as error:
            raise PieceFailed(str(error)) from None
    return _assemble(parsed)


def _assemble(parsed: list[tuple[Kind, cst.Module]]) -> cst.Module:
    body: list[Statement] = []
    pending: list[cst.EmptyLine] = []  # blank and comment lines before the next statement
    split: cst.ClassDef | None = None  # the class whose body the "body" pieces go on with
    split_body: list[Statement] = []
    split_footer: Sequence[cst.EmptyLine] = []
    for number, (kind, module) in enumerate(parsed):
        lead = [*pending, *module.header] if number else []
        if kind == "body":
            if split is None or len(module.body) != 1:
                raise PieceFailed("a class body piece without its class")
            block = _block(module.body[0])
            statements = _statements(block)
            # Lines a module kept at its own level keep their text in the class's block only
            # unindented (`indent=True` would add the block's indentation).
            outdented = [line.with_changes(indent=False) for line in lead]
            statements[0] = _lead(statements[0], [*split_footer, *outdented])
            split_body += statements
            split_footer = block.footer
            pending = list(module.footer)
            continue
        if split is not None:
            body.append(_rebuilt(split, split_body, split_footer))
            split = None
        statements = list(module.body)
        if not statements:
            pending = [*lead, *module.footer]
            continue
        statements[0] = _lead(statements[0], lead)
        if kind == "class":
            last = statements.pop()
            if not isinstance(last, cst.ClassDef):
                raise PieceFailed("a class piece that does not end with its class")
            split = last
            split_body = _statements(_block(last))
            split_footer = _block(last).footer
        body += statements
        pending = list(module.footer)
    if split is not None:
        body.append(_rebuilt(split, split_body, split_footer))
    first, last_module = parsed[0][1], parsed[-1][1]
    return cst.Module(
        body=body,
        header=first.header,
        footer=pending,
        encoding=first.encoding,
        default_indent=first.default_indent,
        default_newline=first.default_newline,
        has_trailing_newline=last_module.has_trailing_newline,
    )


def _statements(block: cst.IndentedBlock) -> list[Statement]:
    return cast(list[Statement], list(block.body))  # a block holds only statements


def _block(node: Statement) -> cst.IndentedBlock:
    if not isinstance(node, cst.ClassDef) or not isinstance(node.body, cst.IndentedBlock):
        raise PieceFailed("a class without an indented body")
    return node.body


def _lead(stmt: Statement, lines: list[cst.EmptyLine]) -> Statement:
    if not lines:
        return stmt
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines])


def _rebuilt(
    cls: cst.ClassDef, body: list[Statement], footer: Sequence[cst.EmptyLine]
) -> cst.ClassDef:
    return cls.with_changes(body=_block(cls).with_changes(body=body, footer=footer))
