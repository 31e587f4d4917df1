"""The index (one traversal) answers as LibCST's metadata providers did, where rules ask.

Positions and parents must be exactly LibCST's; names (what a read refers to, qualified
names of what is read) must agree on every example module and every rule example, so that
replacing the providers changed no finding.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from analyzer.index import UNINDEXED, Index, TooDeep
from analyzer.names import BUILTIN
from analyzer.registry import all_rules
from analyzer.rule import Invalid, Valid

ROOT = Path(__file__).resolve().parent.parent


def _sources() -> list[tuple[str, str]]:
    out = [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        for p in sorted((ROOT / "examples").rglob("*.py"))
    ]
    for rule in all_rules():
        examples: list[Valid | Invalid] = [*rule.VALID, *rule.INVALID]
        for i, example in enumerate(examples):
            out.append((f"{rule.code}-{i}", example.source))
    # Punctuation LibCST ends a position at (`from m import (a, b)` ends at its `)`).
    out.append(
        (
            "punctuation",
            "from os.path import (\n    join,\n    dirname,\n)\nimport os; x = (1, [2], {3: 4})\n"
            "y = not x; z = -x + x ** 2 if x else ~x\n",
        )
    )
    return out


SOURCES = _sources()


def _reads(index: Index, node: cst.CSTNode) -> bool:
    """A name read outside any dotted import path (what the rules resolve)."""
    return isinstance(node, cst.Name) and index.context.get(node) == "load"


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[n for n, _ in SOURCES])
def test_positions_parents_and_names_agree_with_libcst(name: str, text: str) -> None:
    module = cst.parse_module(text)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    scopes = wrapper.resolve(ScopeProvider)
    qualified = wrapper.resolve(QualifiedNameProvider)
    index = Index(module)
    assert len(index.nodes) == len(set(index.nodes))
    # Every node but spaces, line ends, punctuation and operators is indexed.
    assert {id(n) for n in index.nodes} == {id(n) for n in positions if type(n) not in UNINDEXED}
    for node in index.nodes:
        where = positions[node]
        assert index.range(node) == (
            where.start.line,
            where.start.column,
            where.end.line,
            where.end.column,
        ), node
        # The parent is the nearest indexed ancestor (a `Comma` is passed over).
        parent = parents.get(node)
        while parent is not None and type(parent) in UNINDEXED:
            parent = parents.get(parent)
        assert index.parent(node) is parent
        if not isinstance(node, cst.Name) or not _reads(index, node):
            continue
        scope = scopes.get(node)
        accesses = [a for a in scope.accesses[node.value] if a.node is node] if scope else []
        if accesses:  # LibCST moves dotted import reads to the attribute: not compared
            want = {id(getattr(r, "node", BUILTIN)) for r in accesses[0].referents}
            got = index.names.referents(node) or []
            assert {id(r) for r in got} == want, (name, node.value, index.range(node))
        names = qualified.get(node)
        if names is not None and not callable(names):
            want_names = {(q.name, q.source.name.lower()) for q in names}
            assert index.names.qualified_names(node) == want_names, (name, node.value)


def test_own_nodes_leave_nested_definitions_out() -> None:
    text = textwrap.dedent(
        """
        def outer(x):
            a = f(x)
            g = lambda y: h(y)
            def inner():
                return k()
            class C:
                v = m()
            return n(a)
        """
    )
    module = cst.parse_module(text)
    index = Index(module)
    outer = index.of_type(cst.FunctionDef)[0]

    def names(calls: list[cst.Call]) -> list[str]:
        return [cst.ensure_type(c.func, cst.Name).value for c in calls]

    assert names(index.own_of(outer.body, cst.Call)) == ["f", "h", "n"]
    assert names(index.own_of(outer.body, cst.Call, lambdas=False)) == ["f", "n"]
    assert names(index.under(outer, cst.Call)) == ["f", "h", "k", "m", "n"]


def test_depth_bound_names_the_line_and_elif_ladders_do_not_count() -> None:
    deep = "x = (" + " ".join(f'"s{i}"' for i in range(50)) + ")\n"
    with pytest.raises(TooDeep) as raised:
        Index(cst.parse_module("\n\n" + deep), max_depth=30)
    assert raised.value.line == 3
    ladder = "if a == 0:\n    pass\n" + "".join(f"elif a == {i}:\n    pass\n" for i in range(60))
    Index(cst.parse_module(ladder), max_depth=30)


def test_has_says_whether_the_module_holds_a_kind() -> None:
    index = Index(cst.parse_module("if (n := len(x)) > 3:\n    print(n)\n"))
    assert index.has(cst.NamedExpr) and index.has(cst.If)
    assert not index.has(cst.Lambda) and not index.has(cst.SimpleWhitespace)  # unindexed


def test_libcst_generates_code_and_positions_as_usual_after_indexing() -> None:
    """The index short-cuts LibCST's per-node code-generation overhead only while it
    runs, even when it stops with an error: afterwards LibCST's own positions (which
    need every node's hooks) and code are what they always were."""
    source = "x = (a + b)  # sum\nprint([x, (y)])\n"
    module = cst.parse_module(source)
    with pytest.raises(TooDeep):
        Index(cst.parse_module("x = ((((((((1))))))))\n"), max_depth=3)
    Index(module)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    spaces = [n for n in positions if isinstance(n, cst.SimpleWhitespace)]
    assert spaces, "LibCST recorded no position for whitespace: its hooks were left out"
    paren = next(n for n in positions if isinstance(n, cst.BinaryOperation))
    assert (positions[paren].start.column, positions[paren].end.column) == (5, 10)
    assert module.code == source


@pytest.mark.parametrize(
    "literal",
    [
        '"plain"',
        "'it''s'",
        '"with \\\\n escape"',
        'r"raw \\\\d+"',
        'R"raw"',
        'u"unicode é"',
        '"""triple\nline"""',
        "'''a \"quoted\" word'''",
        'b"bytes"',
        'rb"raw bytes"',
        '"\\\\x41\\\\u00e9"',
        '""',
    ],
)
def test_string_value_is_what_python_evaluates(literal: str) -> None:
    from analyzer.model import string_value

    node = cst.parse_expression(literal)
    value = ast.literal_eval(literal)
    assert string_value(node) == (value if isinstance(value, str) else None)
