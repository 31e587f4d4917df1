"""Large modules are parsed in pieces (to bound LibCST's memory) and put back together:
the tree must be the file, node for node where positions are concerned, and the findings
those of a parse of the whole file."""

from __future__ import annotations

import ast
import textwrap
import warnings

import libcst as cst
import pytest

import analyzer.engine
import analyzer.pieces
from analyzer.api import lint_text
from analyzer.engine import parse
from analyzer.index import Index
from analyzer.pieces import MIN_LINES, plan


def _method(i: int) -> str:
    kinds = [
        f"""
        async def _step_{i}(self, body, __event_emitter__=None):
            # status for step {i}
            await __event_emitter__({{"type": "status", "data": {{"description": "step {i}", "done": False}}}})
            text = body.get("messages", [{{}}])[-1].get("content", "")
            return text.upper()
        """,
        f"""
        @staticmethod
        def _fmt_{i}(value: str, limit: int = {i}) -> str:
            '''Shorten a value.

            Kept as it is:   a docstring over several lines.
            '''
            return value[:limit]
        """,
        f"""
        def _html_{i}(self, rows: list) -> str:
            cells = "".join(f"<td>{{r}}</td>" for r in rows)
            return f\"\"\"<table>
        <tr>{{cells}}</tr>
        </table>\"\"\"
        """,
        f"""
        async def _purge_{i}(self, body, __user__=None):
            if __user__.get("role") != "admin":
                return None
            from open_webui.models.chats import Chats

            return Chats.delete_chat_by_id(body["chat_id"])
        """,
    ]
    return textwrap.indent(textwrap.dedent(kinds[i % len(kinds)]).strip("\n"), "    ")


def big_module(methods: int = 260, *, newline: str = "\n", between: str = "\n") -> str:
    parts = [
        '"""\ntitle: Big\nauthor: tests\nversion: 1.0\n"""\n',
        "# module comment\n\nimport json\nfrom pydantic import BaseModel, Field\n\n\n",
        "class Action:\n    class Valves(BaseModel):\n        limit: int = Field(default=3)\n\n",
        "    def __init__(self):\n        self.valves = self.Valves()\n",
    ]
    for i in range(methods):
        parts.append(between + _method(i) + "\n")
        if i % 37 == 5:
            parts.append("# a comment at column 0 inside the class\n")
        if i % 41 == 7:
            parts.append("    \n        # a comment indented deeper than the methods\n")
    parts.append(
        "\n    async def action(self, body, __user__=None, __event_emitter__=None):\n"
        "        return await self._step_0(body, __event_emitter__)\n"
    )
    parts.append("\n\n# after the class\nHELPER = json.dumps({})\n# the end, no newline")
    return "".join(parts).replace("\n", newline)


SHAPES = {
    "lf": big_module(),
    "crlf": big_module(newline="\r\n"),
    "blank-lines-with-spaces": big_module(between="    \n\n"),
    "two-classes": big_module(140) + "\n\n\n" + big_module(140).replace("class Action", "class B"),
}


@pytest.mark.parametrize("text", SHAPES.values(), ids=SHAPES.keys())
def test_pieces_make_the_same_tree_as_a_whole_parse(text: str) -> None:
    pieces = plan(ast.parse(text), len(text.splitlines()))
    assert pieces is not None and len(pieces) > 3  # the case really is cut
    module, index = parse(text)
    assert module.code == text
    whole = Index(cst.parse_module(text))
    # The same nodes, in the same order, at the same places.
    assert [type(n) for n in index.nodes] == [type(n) for n in whole.nodes]
    assert [index.range(n) for n in index.nodes] == [whole.range(n) for n in whole.nodes]


@pytest.mark.parametrize("text", [SHAPES["lf"], SHAPES["crlf"]], ids=["lf", "crlf"])
def test_findings_of_a_module_parsed_in_pieces_are_those_of_a_whole_parse(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieced = lint_text(text)
    monkeypatch.setattr(analyzer.pieces, "MIN_LINES", 10**9)
    whole = lint_text(text)
    assert pieced.findings and pieced.findings == whole.findings


def test_a_tree_that_is_not_the_file_is_parsed_again_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = SHAPES["lf"]
    expected = lint_text(text).findings
    real = analyzer.pieces._assemble

    def lossy(parsed: list[tuple[analyzer.pieces.Kind, cst.Module]]) -> cst.Module:
        module = real(parsed)
        return module.with_changes(body=module.body[:-1])  # a statement lost

    monkeypatch.setattr(analyzer.pieces, "_assemble", lossy)
    assert lint_text(text).findings == expected


def test_tiny_pieces_give_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    text = SHAPES["lf"]
    expected = lint_text(text).findings
    monkeypatch.setattr(analyzer.pieces, "PIECE_LINES", 3)  # a cut at nearly every method
    assert lint_text(text).findings == expected


@pytest.mark.parametrize(
    "error", [analyzer.pieces.PieceFailed("no"), RecursionError(), ValueError("odd")]
)
def test_a_piece_that_does_not_parse_alone_falls_back_to_a_whole_parse(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = SHAPES["lf"]
    expected = lint_text(text).findings

    def fails(text: str, pieces: list[analyzer.pieces.Piece]) -> cst.Module:
        raise error

    monkeypatch.setattr(analyzer.engine, "parse_in_pieces", fails)
    assert lint_text(text).findings == expected


def test_small_files_are_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(analyzer.engine, "parse_in_pieces", lambda text, pieces: calls.append(text))
    text = big_module(8)
    assert text.count("\n") < MIN_LINES
    lint_text(text)
    assert calls == []


def test_nodes_built_after_a_parse_are_still_validated() -> None:
    """The parse skips the per-node validation LibCST's parser does not need; every node
    built elsewhere (fixes) is still checked, also after a parse that failed."""
    assert analyzer.pieces.parse_module(SHAPES["lf"]).code == SHAPES["lf"]
    with pytest.raises(cst.ParserSyntaxError):
        analyzer.pieces.parse_module("def f(:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def _project_sources() -> list[tuple[str, str]]:
    from pathlib import Path

    from analyzer.registry import all_rules
    from analyzer.rule import Invalid, Valid

    root = Path(__file__).resolve().parent.parent
    out = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(root.rglob("examples/**/*.py"))]
    for rule in all_rules():
        examples: list[Valid | Invalid] = [*rule.VALID, *rule.INVALID]
        out += [(f"{rule.code}-{i}", e.source) for i, e in enumerate(examples)]
    return out


def test_every_project_source_cut_small_is_put_back_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cut far smaller than in use, every example and rule snippet (decorators, comments,
    nested classes, one-line bodies, semicolons...) is reassembled into itself, or is
    declined by the plan; none is left to the whole-parse fallback."""
    monkeypatch.setattr(analyzer.pieces, "MIN_LINES", 0)
    monkeypatch.setattr(analyzer.pieces, "PIECE_LINES", 2)
    cut = 0
    for name, text in _project_sources():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes some snippets show
                tree = ast.parse(text)
        except SyntaxError:
            continue  # OWA001's examples
        pieces = plan(tree, len(text.splitlines()))
        if pieces is None:
            continue
        cut += 1
        module = analyzer.pieces.parse_in_pieces(text, pieces)
        assert module.code == text, name
        Index(module, expect=text)
    assert cut > 100


def test_examples_cut_small_give_the_findings_of_a_whole_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = [(n, t) for n, t in _project_sources() if n.endswith(".py")]
    whole = [lint_text(t, path=n).findings for n, t in sources]
    monkeypatch.setattr(analyzer.pieces, "MIN_LINES", 0)
    monkeypatch.setattr(analyzer.pieces, "PIECE_LINES", 2)
    assert [lint_text(t, path=n).findings for n, t in sources] == whole
