"""The control-flow graph and the forward solver, construct by construct."""

from __future__ import annotations

import textwrap

import hypothesis
import hypothesmith
import libcst as cst
import pytest

from analyzer.flow.cfg import CFG, Edge, Node, build_cfg, cfg_for, node_text
from analyzer.flow.dataflow import ForwardAnalysis, solve
from analyzer.model import ActionModule, SourceFile


def graph(body: str) -> CFG:
    source = "def f(x):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    function = cst.ensure_type(cst.parse_module(source).body[0], cst.FunctionDef)
    return build_cfg(function)


def label(node: Node) -> str:
    if node.stmt is None:
        return node.kind
    return node_text(node.stmt)


def edges(cfg: CFG) -> set[tuple[str, str, str]]:
    return {(label(e.src), label(e.dst), e.kind) for e in cfg.edges()}


def node(cfg: CFG, text: str) -> Node:
    found = [n for n in cfg.nodes if label(n) == text]
    assert len(found) == 1, (text, [label(n) for n in cfg.nodes])
    return found[0]


def test_straight_line_and_small_statements() -> None:
    cfg = graph("a = 1; b = 2\nc()")
    assert [label(n) for n in cfg.nodes] == ["entry", "a = 1", "b = 2", "c()", "exit", "raise"]
    assert [n.id for n in cfg.nodes] == list(range(6))
    assert edges(cfg) == {
        ("entry", "a = 1", "normal"),
        ("a = 1", "b = 2", "normal"),
        ("b = 2", "c()", "normal"),
        ("c()", "exit", "normal"),
    }
    assert cfg.returns() == [node(cfg, "c()")]


def test_if_elif_else() -> None:
    cfg = graph(
        """
        if a:
            p()
        elif b:
            q()
        else:
            r()
        s()
        """
    )
    assert {
        ("a", "p()", "true"),
        ("a", "b", "false"),
        ("b", "q()", "true"),
        ("b", "r()", "false"),
        ("p()", "s()", "normal"),
        ("q()", "s()", "normal"),
        ("r()", "s()", "normal"),
    } <= edges(cfg)
    true_edge = node(cfg, "a").succs[0]
    assert true_edge.kind == "true" and isinstance(true_edge.condition, cst.Name)


def test_early_return_and_raise() -> None:
    cfg = graph(
        """
        if x["role"] != "admin":
            return None
        if not ok:
            raise PermissionError("no")
        work()
        """
    )
    e = edges(cfg)
    assert ('x["role"] != "admin"', "return None", "true") in e
    assert ("return None", "exit", "normal") in e
    assert ('raise PermissionError("no")', "raise", "exception") in e
    assert ("not ok", "work()", "false") in e
    assert {label(n) for n in cfg.returns()} == {"return None", "work()"}


def test_short_circuit_conditions_are_split() -> None:
    cfg = graph(
        """
        if a and not b:
            p()
        if c or d:
            q()
        if not (e and f):
            r()
        """
    )
    e = edges(cfg)
    assert {("a", "not b", "true"), ("a", "c", "false"), ("not b", "p()", "true")} <= e
    assert ("not b", "c", "false") in e
    assert {("c", "q()", "true"), ("c", "d", "false"), ("d", "q()", "true")} <= e
    assert ("d", "e", "false") in e
    # `not (e and f)`: the atoms are tested, the edges swapped.
    assert {("e", "r()", "false"), ("e", "f", "true"), ("f", "r()", "false")} <= e
    assert ("f", "exit", "true") in e


def test_walrus_stays_in_its_test() -> None:
    cfg = graph(
        """
        if (user := get()) and user.ok:
            p()
        """
    )
    first = node(cfg, "(user := get())")
    assert first.kind == "test" and isinstance(first.stmt, cst.NamedExpr)
    assert ("(user := get())", "user.ok", "true") in edges(cfg)


def test_ternary_is_not_split() -> None:
    cfg = graph("y = a if b and c else d")
    assert [n.kind for n in cfg.nodes] == ["entry", "stmt", "exit", "raise"]


def test_assert_false_edge_raises() -> None:
    cfg = graph(
        """
        assert x and y, "bad"
        p()
        """
    )
    assert node(cfg, "x").kind == "assert"
    e = edges(cfg)
    assert {("x", "raise", "false"), ("y", "raise", "false"), ("y", "p()", "true")} <= e


def test_try_except_else_finally() -> None:
    cfg = graph(
        """
        try:
            a()
            b()
        except ValueError as err:
            h()
        else:
            el()
        finally:
            fin()
        after()
        """
    )
    e = edges(cfg)
    assert {
        ("a()", "except ValueError", "exception"),
        ("b()", "except ValueError", "exception"),
    } <= e
    # ValueError is not a catch-all: an exception may also leave through the finally.
    assert ("a()", "join", "exception") in e
    assert {("b()", "el()", "normal"), ("el()", "join", "normal"), ("h()", "join", "normal")} <= e
    assert {("join", "fin()", "normal"), ("fin()", "after()", "normal")} <= e
    assert ("fin()", "raise", "normal") in e  # the re-raise continuation
    assert node(cfg, "except ValueError").kind == "except"


def test_catch_all_handler_stops_propagation_and_no_try_no_exception_edges() -> None:
    cfg = graph(
        """
        try:
            a()
        except Exception:
            pass
        b()
        """
    )
    e = edges(cfg)
    assert ("a()", "except Exception", "exception") in e
    assert not [x for x in e if x[0] == "b()" and x[2] == "exception"]
    assert not [x for x in e if x[1] == "raise"]


def test_nested_try_propagates_to_outer_handler() -> None:
    cfg = graph(
        """
        try:
            try:
                a()
            except KeyError:
                k()
        except Exception:
            o()
        """
    )
    e = edges(cfg)
    assert {("a()", "except KeyError", "exception"), ("a()", "except Exception", "exception")} <= e
    assert ("k()", "except Exception", "exception") in e


def test_return_through_finally() -> None:
    cfg = graph(
        """
        try:
            return a()
        finally:
            fin()
        dead()
        """
    )
    e = edges(cfg)
    assert ("return a()", "join", "normal") in e
    assert ("fin()", "exit", "normal") in e
    assert node(cfg, "dead()").preds == []  # nothing completes the try normally


def test_with_items_then_body() -> None:
    cfg = graph(
        """
        async with a() as x, b() as y:
            use(x, y)
        """
    )
    assert [n.kind for n in cfg.nodes[1:4]] == ["with", "with", "stmt"]
    assert isinstance(cfg.nodes[1].stmt, cst.WithItem)
    assert ("a() as x", "b() as y", "normal") in edges(cfg)


def test_for_break_continue_else() -> None:
    cfg = graph(
        """
        for item in items:
            if item.skip:
                continue
            if item.stop:
                break
            handle(item)
        else:
            done()
        after()
        """
    )
    e = edges(cfg)
    header = node(cfg, "items")
    assert header.kind == "for"
    assert {
        ("items", "item.skip", "true"),
        ("continue", "items", "normal"),
        ("handle(item)", "items", "normal"),
        ("items", "done()", "false"),
        ("break", "after()", "normal"),
        ("done()", "after()", "normal"),
    } <= e
    assert ("break", "done()", "normal") not in e


def test_while_loop_and_while_true() -> None:
    cfg = graph(
        """
        while a and b:
            step()
        while True:
            if c:
                break
        after()
        """
    )
    e = edges(cfg)
    assert {("a", "b", "true"), ("b", "step()", "true"), ("step()", "a", "normal")} <= e
    assert {("a", "True", "false"), ("b", "True", "false")} <= e
    true_node = node(cfg, "True")
    assert [x.kind for x in true_node.succs] == ["true"]
    assert {("break", "after()", "normal"), ("c", "True", "false")} <= e


def test_while_else() -> None:
    cfg = graph(
        """
        while a:
            if b:
                break
        else:
            e()
        f()
        """
    )
    e = edges(cfg)
    assert {("a", "e()", "false"), ("e()", "f()", "normal"), ("break", "f()", "normal")} <= e


def test_match_cases_guard_and_wildcard() -> None:
    cfg = graph(
        """
        match x:
            case {"role": "admin"} if ok:
                a()
            case "user":
                u()
            case _:
                w()
        end()
        """
    )
    e = edges(cfg)
    subject = node(cfg, "x")
    assert subject.kind == "match"
    cases = [n for n in cfg.nodes if n.kind == "case"]
    assert len(cases) == 3 and isinstance(cases[0].stmt, cst.MatchCase)
    assert ("ok", "a()", "true") in e
    assert (label(cases[0]), label(cases[1]), "false") in e
    assert ("ok", label(cases[1]), "false") in e
    assert [x.kind for x in cases[2].succs] == ["true"]  # the wildcard always matches
    assert ("w()", "end()", "normal") in e


def test_nested_def_is_one_node() -> None:
    cfg = graph(
        """
        def inner():
            return secret()
        inner()
        """
    )
    assert [label(n) for n in cfg.nodes] == ["entry", "def inner", "inner()", "exit", "raise"]


def _model(source: str) -> ActionModule:
    text = textwrap.dedent(source)
    return ActionModule(SourceFile("t.py", text), cst.parse_module(text))


def test_node_of_and_cache() -> None:
    model = _model(
        """
        class Action:
            async def action(self, body, __user__=None):
                if __user__["role"] == "admin":
                    await run(body["x"])
                def inner():
                    return leak()
        """
    )
    info = model.action_method
    assert info is not None
    cfg = cfg_for(model, info)
    assert cfg is cfg_for(model, info)
    target = None
    leak = None
    for candidate in _walk(info.node):
        if isinstance(candidate, cst.Subscript) and candidate.value.deep_equals(cst.Name("body")):
            target = candidate
        if isinstance(candidate, cst.Call) and candidate.func.deep_equals(cst.Name("leak")):
            leak = candidate
    assert target is not None and leak is not None
    found = cfg.node_of(target, model)
    assert found is not None and isinstance(found.stmt, cst.Expr)
    assert cfg.node_of(leak, model) is None  # in a nested function: another graph


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out = [node]
    for child in node.children:
        out += _walk(child)
    return out


# --- the solver -----------------------------------------------------------------------


class _MustAssign(ForwardAnalysis[frozenset[str]]):
    """Names assigned on every path; `if flag:` is infeasible on its false edge."""

    def initial(self) -> frozenset[str]:
        return frozenset()

    def transfer(self, node: Node, state: frozenset[str]) -> frozenset[str]:
        if isinstance(node.stmt, cst.Assign):
            target = node.stmt.targets[0].target
            if isinstance(target, cst.Name):
                return state | {target.value}
        return state

    def refine(self, edge: Edge, state: frozenset[str]) -> frozenset[str] | None:
        if (
            edge.kind == "false"
            and isinstance(edge.condition, cst.Name)
            and edge.condition.value == "flag"
        ):
            return None
        return state

    def join(self, a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
        return a & b


def test_solver_must_analysis_with_infeasible_edge() -> None:
    cfg = graph(
        """
        a = 1
        if c:
            b = 1
        if flag:
            d = 1
        else:
            never()
        for i in x:
            e = 1
            if q:
                break
        end()
        """
    )
    states = solve(cfg, _MustAssign())
    assert states[node(cfg, "end()")] == {"a", "d"}
    assert node(cfg, "never()") not in states


def test_solver_exception_edge_carries_in_state() -> None:
    cfg = graph(
        """
        try:
            a = 1
        except Exception:
            h()
        """
    )
    states = solve(cfg, _MustAssign())
    assert states[node(cfg, "h()")] == frozenset()
    assert states[node(cfg, "exit")] == frozenset()


@pytest.mark.parametrize("loops", [1, 5])
def test_solver_terminates_on_nested_loops(loops: int) -> None:
    body = ""
    for depth in range(loops):
        body += "    " * depth + f"while c{depth}:\n"
    body += "    " * loops + "a = 1\n"
    cfg = graph(body)
    states = solve(cfg, _MustAssign())
    assert states[cfg.exit] == frozenset()


# --- robustness on arbitrary code -------------------------------------------------------


def _check_invariants(cfg: CFG) -> None:
    assert cfg.entry is cfg.nodes[0] and cfg.entry.kind == "entry"
    assert [n.id for n in cfg.nodes] == list(range(len(cfg.nodes)))
    assert cfg.exit.kind == "exit" and cfg.raise_exit.kind == "raise"
    members = set(cfg.nodes)
    for edge in cfg.edges():
        assert edge.dst in members and edge in edge.dst.preds
        assert (edge.condition is not None) == (
            edge.kind in ("true", "false") and edge.src.kind in ("test", "assert")
        )
    assert not cfg.exit.succs and not cfg.raise_exit.succs
    solve(cfg, _MustAssign())


@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
@hypothesis.given(hypothesmith.from_node(node=cst.Module))
def test_any_function_builds_and_solves(code: str) -> None:
    body = code if code.strip() else "pass\n"
    source = "def f():\n" + textwrap.indent(body, "    ", lambda line: True)
    try:
        function = cst.ensure_type(cst.parse_module(source).body[0], cst.FunctionDef)
    except Exception:
        return  # not valid inside a function (e.g. `from x import *`)
    _check_invariants(build_cfg(function))
