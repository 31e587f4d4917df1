"""The control-flow graph of one function, built from its LibCST tree.

One node per small statement; compound statements become header / test nodes plus their
bodies. Conditions of `if` / `elif` / `while` / `assert` are split at `and` / `or` (and
`not (a and b)` is split too, its edges swapped), so each test node holds one atomic
expression and guard-like facts can be attached to the exact edge where they hold.

Edges:
- "normal": fall-through, jumps (`return` to `exit`, `break`, `continue`, loop back-edges);
- "true" / "false": out of a test or assert node (`condition` is its atomic test), and out
  of `for` headers (true: one more iteration, false: the iterator is exhausted) and `case`
  nodes (true: the pattern matched) where `condition` is None;
- "exception": from every node inside a `try` body to the handlers (or to the `finally`),
  and from `raise` statements. An exception edge carries the IN state of its source node,
  because the statement may fail before it has any effect (see `dataflow.solve`).

Known over-approximations (sound for "must" analyses, slightly imprecise):
- a `finally` body is built once; its end flows to every continuation that entered it
  (fall-through, `return`, re-raise, `break`, `continue`);
- an exception is assumed to reach every handler of the innermost `try` and, unless one
  handler is a catch-all (`except:`, `except Exception`, `except BaseException`), the
  enclosing ones as well;
- `with` blocks are assumed not to swallow exceptions.
Statements outside any `try` get no exception edges: an exception simply ends the function.

The builder follows chains with loops (an `elif` ladder, `a and b and c ...`); it recurses
only into the body of a compound statement, as deep as the code is indented (CPython allows
100 levels).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

import libcst as cst

if TYPE_CHECKING:
    from analyzer.model import ActionModule, FunctionInfo

T = TypeVar("T")

EdgeKind = Literal["normal", "true", "false", "exception"]
NodeKind = Literal[
    "entry",
    "exit",
    "raise",
    "stmt",
    "test",
    "assert",
    "for",
    "with",
    "except",
    "match",
    "case",
    "join",
]


@dataclass(eq=False)
class Node:
    """A CFG node (identity-hashed).

    `stmt` is the small statement (or a nested `def` / `class`), the atomic test expression
    of a test / assert node, the iterable of a `for`, the `WithItem` of a `with`, the
    `ExceptHandler` of an `except`, the subject of a `match`, the `MatchCase` of a `case`;
    None for entry / exit / raise / join. `owner` is the statement the node comes from
    (the `SimpleStatementLine`, or the compound statement whose header it is).
    """

    id: int
    kind: NodeKind
    stmt: cst.CSTNode | None
    owner: cst.CSTNode | None = None
    succs: list[Edge] = field(default_factory=list)
    preds: list[Edge] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.kind})"


@dataclass(frozen=True, eq=False)
class Edge:
    src: Node
    dst: Node
    kind: EdgeKind
    # The atomic test on "true"/"false" edges out of test and assert nodes; else None.
    condition: cst.BaseExpression | None = None

    def __repr__(self) -> str:
        return f"Edge({self.src.id}->{self.dst.id}, {self.kind})"


# A dangling edge waiting for its destination: (source, kind, condition).
_Pending = tuple[Node, EdgeKind, cst.BaseExpression | None]
_Frontier = list[_Pending]


class CFG:
    """The control-flow graph of `function` (its body only; nested defs are one node)."""

    def __init__(self, function: cst.FunctionDef) -> None:
        self.function = function
        self.nodes: list[Node] = []
        self.entry: Node = self._make("entry", None, None)
        # Created by the builder once the body is done, so ids stay in source order.
        self.exit: Node
        self.raise_exit: Node
        # By id (CSTNode hashes in Python); the nodes keep their statements alive.
        self._by_stmt: dict[int, Node] = {}

    def _make(self, kind: NodeKind, stmt: cst.CSTNode | None, owner: cst.CSTNode | None) -> Node:
        node = Node(len(self.nodes), kind, stmt, owner)
        self.nodes.append(node)
        return node

    def release(self) -> None:
        """Unlink the nodes (each edge refers to both its ends, a cycle), so the graph and
        the statements it holds are freed at once rather than by the cyclic collector."""
        for node in self.nodes:
            node.succs = node.preds = []

    def node_of(self, node: cst.CSTNode, model: ActionModule) -> Node | None:
        """The CFG node whose `stmt` contains `node` (walks ancestors); None when `node`
        is not in this function's body or sits in a nested function."""
        current: cst.CSTNode | None = node
        by_stmt = self._by_stmt
        while current is not None:
            if current is not node and type(current) in _DEFINITIONS:
                # Inside a nested def/class (or this function's own header): not ours.
                return None
            found = by_stmt.get(id(current))
            if found is not None:
                return found
            current = model.parent(current)
        return None

    def returns(self) -> list[Node]:
        """Nodes whose normal completion ends the function: the `return` statements and
        the last nodes of paths that fall off the end (the predecessors of `exit`).
        Test `isinstance(node.stmt, cst.Return)` to tell them apart; through a `finally`
        the predecessor is the last node of the `finally` body."""
        out: list[Node] = []
        for edge in self.exit.preds:
            if edge.src not in out:
                out.append(edge.src)
        return out

    def reachable_nodes(self) -> list[Node]:
        """Nodes reachable from `entry` along any edge (ignoring conditions)."""
        seen = {self.entry}
        stack = [self.entry]
        while stack:
            for edge in stack.pop().succs:
                if edge.dst not in seen:
                    seen.add(edge.dst)
                    stack.append(edge.dst)
        return [n for n in self.nodes if n in seen]

    def edges(self) -> Iterator[Edge]:
        for node in self.nodes:
            yield from node.succs


@dataclass
class _Loop:
    header: Node | None = None  # `continue` target
    breaks: _Frontier = field(default_factory=list)


@dataclass
class _Try:
    has_handlers: bool
    catch_all: bool
    has_finally: bool
    phase: Literal["body", "handlers", "finally"] = "body"
    # Nodes whose exceptions go to the handlers / to the finally (resolved later).
    to_handlers: _Frontier = field(default_factory=list)
    to_finally: _Frontier = field(default_factory=list)
    # Which continuations entered the finally ("return", "raise", "break", "continue").
    continuations: set[str] = field(default_factory=set)


_Frame = _Loop | _Try

_CATCH_ALL = {"Exception", "BaseException"}
_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef})


def _is_catch_all(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    if handler.type is None:
        return True
    names = (
        [e.value for e in handler.type.elements]
        if isinstance(handler.type, cst.Tuple)
        else [handler.type]
    )
    for name in names:
        dotted = name.attr.value if isinstance(name, cst.Attribute) else None
        if isinstance(name, cst.Name):
            dotted = name.value
        if dotted in _CATCH_ALL:
            return True
    return False


def _is_constant_true(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Name):
        return expr.value == "True"
    if isinstance(expr, cst.Integer):
        return expr.evaluated_value != 0
    return False


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    """`case _:` and `case x:` always match (also `case (_ | y)` style or-patterns)."""
    pending = [pattern]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.MatchAs):
            if current.pattern is None:
                return True
            pending.append(current.pattern)
        elif isinstance(current, cst.MatchOr):
            pending += [p.pattern for p in current.patterns]
    return False


class _Builder:
    def __init__(self, function: cst.FunctionDef) -> None:
        self.cfg = CFG(function)
        self.frames: list[_Frame] = []
        self.to_exit: _Frontier = []
        self.to_raise: _Frontier = []

    # --- plumbing -----------------------------------------------------------------------

    def build(self) -> CFG:
        front: _Frontier = [(self.cfg.entry, "normal", None)]
        body = self.cfg.function.body
        front = self._suite(body, front)
        cfg = self.cfg
        cfg.exit = cfg._make("exit", None, None)
        cfg.raise_exit = cfg._make("raise", None, None)
        self._connect(front + self.to_exit, cfg.exit)
        self._connect(self.to_raise, cfg.raise_exit)
        return cfg

    @staticmethod
    def _connect(front: _Frontier, dst: Node) -> None:
        for src, kind, cond in front:
            edge = Edge(src, dst, kind, cond)
            src.succs.append(edge)
            dst.preds.append(edge)

    def _node(
        self,
        kind: NodeKind,
        stmt: cst.CSTNode | None,
        owner: cst.CSTNode | None,
        front: _Frontier,
        *,
        may_raise: bool = True,
    ) -> Node:
        node = self.cfg._make(kind, stmt, owner)
        if stmt is not None:
            self.cfg._by_stmt[id(stmt)] = node
        self._connect(front, node)
        if may_raise:
            self._route_exception([(node, "exception", None)], to_exit=False)
        return node

    def _route_exception(self, items: _Frontier, *, to_exit: bool) -> None:
        """Send an exception leaving `items` to the handlers / finally that would see it.

        Ordinary statements (`to_exit=False`) only get edges inside a `try`; a `raise`, a
        failed `assert` or a re-raise at the end of a `finally` also reach `raise_exit`.
        """
        for frame in reversed(self.frames):
            if not isinstance(frame, _Try):
                continue
            if frame.phase == "body" and frame.has_handlers:
                frame.to_handlers += items
                if frame.catch_all:
                    return
            if frame.phase in ("body", "handlers") and frame.has_finally:
                frame.to_finally += items
                frame.continuations.add("raise")
                return
        if to_exit:
            self.to_raise += items

    def _route_jump(self, items: _Frontier, jump: Literal["return", "break", "continue"]) -> None:
        """`return` / `break` / `continue`, through any `finally` on the way."""
        for frame in reversed(self.frames):
            if isinstance(frame, _Try):
                if frame.phase in ("body", "handlers") and frame.has_finally:
                    frame.to_finally += items
                    frame.continuations.add(jump)
                    return
            elif jump != "return":
                if jump == "break":
                    frame.breaks += items
                elif frame.header is not None:
                    self._connect(items, frame.header)
                return
        if jump == "return":
            self.to_exit += items

    # --- statements ---------------------------------------------------------------------

    # Exact-type tests below: a failed isinstance against LibCST's ABCs runs Python code.

    def _suite(self, suite: cst.BaseSuite, front: _Frontier) -> _Frontier:
        if type(suite) is cst.SimpleStatementSuite:
            return self._smalls(suite.body, suite, front)
        return self._block(cst.ensure_type(suite, cst.IndentedBlock).body, front)

    def _block(self, stmts: Sequence[cst.BaseStatement], front: _Frontier) -> _Frontier:
        for stmt in stmts:
            front = self._statement(stmt, front)
        return front

    def _smalls(
        self,
        smalls: Sequence[cst.BaseSmallStatement],
        owner: cst.CSTNode,
        front: _Frontier,
    ) -> _Frontier:
        for small in smalls:
            front = self._small(small, owner, front)
        return front

    def _small(
        self, small: cst.BaseSmallStatement, owner: cst.CSTNode, front: _Frontier
    ) -> _Frontier:
        kind = type(small)
        if type(small) is cst.Assert:
            return self._assert(small, owner, front)
        node = self._node("stmt", small, owner, front, may_raise=kind is not cst.Raise)
        out: _Frontier = [(node, "normal", None)]
        if kind is cst.Return:
            self._route_jump(out, "return")
            return []
        if kind is cst.Raise:
            self._route_exception([(node, "exception", None)], to_exit=True)
            return []
        if kind is cst.Break:
            self._route_jump(out, "break")
            return []
        if kind is cst.Continue:
            self._route_jump(out, "continue")
            return []
        return out

    def _assert(self, small: cst.Assert, owner: cst.CSTNode, front: _Frontier) -> _Frontier:
        true, false = self._condition(small.test, owner, front, "assert")
        self._route_exception(false, to_exit=True)
        return true

    def _statement(self, stmt: cst.BaseStatement, front: _Frontier) -> _Frontier:
        if type(stmt) is cst.SimpleStatementLine:
            return self._smalls(stmt.body, stmt, front)
        if type(stmt) is cst.If:
            return self._if(stmt, front)
        if type(stmt) is cst.While:
            return self._while(stmt, front)
        if type(stmt) is cst.For:
            return self._for(stmt, front)
        if type(stmt) is cst.Try or type(stmt) is cst.TryStar:
            return self._try(stmt, front)
        if type(stmt) is cst.With:
            return self._with(stmt, front)
        if type(stmt) is cst.Match:
            return self._match(stmt, front)
        # Nested def / class: one binding statement (their bodies are separate graphs).
        node = self._node("stmt", stmt, stmt, front)
        return [(node, "normal", None)]

    def _condition(
        self,
        expr: cst.BaseExpression,
        owner: cst.CSTNode,
        front: _Frontier,
        kind: Literal["test", "assert"] = "test",
    ) -> tuple[_Frontier, _Frontier]:
        """Test nodes for `expr`, split at `and`/`or`: (true frontier, false frontier).

        Operands left to right, as written; `a and b and c` nests to the left, so the
        chain is walked with an explicit stack, however long it is.
        """
        done: list[tuple[_Frontier, _Frontier]] = []  # (true, false) of finished operands
        # ("test", e, front): build `e` from `front`; ("right", op): the left operand of
        # `op` is on `done`, build its right one; ("join", op): both are, combine them;
        # ("swap", _): `not (...)` of the operand on `done`.
        todo: list[tuple[str, cst.BaseExpression, _Frontier]] = [("test", expr, front)]
        while todo:
            step, current, start = todo.pop()
            if step == "test":
                if type(current) is cst.BooleanOperation:
                    todo.append(("right", current, []))
                    todo.append(("test", current.left, start))
                elif (
                    type(current) is cst.UnaryOperation
                    and type(current.operator) is cst.Not
                    and type(current.expression) is cst.BooleanOperation
                ):
                    todo.append(("swap", current, []))
                    todo.append(("test", current.expression, start))
                else:
                    node = self._node(kind, current, owner, start)
                    done.append(([(node, "true", current)], [(node, "false", current)]))
            elif step == "right":
                assert isinstance(current, cst.BooleanOperation)
                left_t, left_f = done[-1]
                todo.append(("join", current, []))
                on_and = isinstance(current.operator, cst.And)
                todo.append(("test", current.right, left_t if on_and else left_f))
            elif step == "join":
                assert isinstance(current, cst.BooleanOperation)
                right_t, right_f = done.pop()
                left_t, left_f = done.pop()
                if isinstance(current.operator, cst.And):
                    done.append((right_t, left_f + right_f))
                else:
                    done.append((left_t + right_t, right_f))
            else:  # swap
                inner_t, inner_f = done.pop()
                done.append((inner_f, inner_t))
        return done[0]

    def _if(self, stmt: cst.If, front: _Frontier) -> _Frontier:
        # An `elif` chain is walked in a loop: thousands of branches are no deeper than one.
        out: _Frontier = []
        current = stmt
        while True:
            true, false = self._condition(current.test, current, front)
            out += self._suite(current.body, true)
            orelse = current.orelse
            if isinstance(orelse, cst.If):
                current, front = orelse, false
                continue
            if isinstance(orelse, cst.Else):
                out += self._suite(orelse.body, false)
            else:
                out += false
            return out

    def _while(self, stmt: cst.While, front: _Frontier) -> _Frontier:
        loop = _Loop()
        first = len(self.cfg.nodes)
        if _is_constant_true(stmt.test):
            node = self._node("test", stmt.test, stmt, front)
            true: _Frontier = [(node, "true", stmt.test)]
            false: _Frontier = []
        else:
            true, false = self._condition(stmt.test, stmt, front)
        loop.header = self.cfg.nodes[first]
        self.frames.append(loop)
        body_end = self._suite(stmt.body, true)
        self.frames.pop()
        self._connect(body_end, loop.header)
        out = self._suite(stmt.orelse.body, false) if stmt.orelse else false
        return out + loop.breaks

    def _for(self, stmt: cst.For, front: _Frontier) -> _Frontier:
        header = self._node("for", stmt.iter, stmt, front)
        self.cfg._by_stmt[id(stmt.target)] = header
        loop = _Loop(header)
        self.frames.append(loop)
        body_end = self._suite(stmt.body, [(header, "true", None)])
        self.frames.pop()
        self._connect(body_end, header)
        false: _Frontier = [(header, "false", None)]
        out = self._suite(stmt.orelse.body, false) if stmt.orelse else false
        return out + loop.breaks

    def _with(self, stmt: cst.With, front: _Frontier) -> _Frontier:
        for item in stmt.items:
            node = self._node("with", item, stmt, front)
            front = [(node, "normal", None)]
        return self._suite(stmt.body, front)

    def _try(self, stmt: cst.Try | cst.TryStar, front: _Frontier) -> _Frontier:
        handlers: Sequence[cst.ExceptHandler | cst.ExceptStarHandler] = stmt.handlers
        frame = _Try(
            has_handlers=bool(handlers),
            catch_all=any(_is_catch_all(h) for h in handlers),
            has_finally=stmt.finalbody is not None,
        )
        self.frames.append(frame)
        out = self._suite(stmt.body, front)
        frame.phase = "handlers"
        if stmt.orelse is not None:
            out = self._suite(stmt.orelse.body, out)
        for handler in handlers:
            node = self._node("except", handler, handler, frame.to_handlers, may_raise=False)
            out += self._suite(handler.body, [(node, "normal", None)])
        frame.phase = "finally"
        if stmt.finalbody is not None:
            join = self._node("join", None, stmt.finalbody, out + frame.to_finally, may_raise=False)
            end = self._suite(stmt.finalbody.body, [(join, "normal", None)])
            # Built once: the end of the finally flows to every continuation that entered.
            self.frames.pop()
            jumps: tuple[Literal["return", "break", "continue"], ...] = (
                "return",
                "break",
                "continue",
            )
            for jump in jumps:
                if jump in frame.continuations:
                    self._route_jump(list(end), jump)
            if "raise" in frame.continuations:
                self._route_exception(list(end), to_exit=True)
            # Fall-through after the try only when something completed normally.
            return end if out else []
        self.frames.pop()
        return out

    def _match(self, stmt: cst.Match, front: _Frontier) -> _Frontier:
        subject = self._node("match", stmt.subject, stmt, front)
        nxt: _Frontier = [(subject, "normal", None)]
        out: _Frontier = []
        for case in stmt.cases:
            node = self._node("case", case, case, nxt, may_raise=False)
            body_front: _Frontier = [(node, "true", None)]
            nxt = [] if _irrefutable(case.pattern) else [(node, "false", None)]
            if case.guard is not None:
                body_front, guard_false = self._condition(case.guard, case, body_front)
                nxt += guard_false
            out += self._suite(case.body, body_front)
        return out + nxt


def build_cfg(function: cst.FunctionDef) -> CFG:
    """The control-flow graph of `function`'s body."""
    return _Builder(function).build()


# The model's table of every graph built (it releases them with the tree).
CACHE_KEY = "_flow_cfg_cache"


def cfg_for(model: ActionModule, info: FunctionInfo) -> CFG:
    """`build_cfg(info.node)`, built once per model whoever asks."""
    cache: dict[cst.FunctionDef, CFG] = model.memo_table(CACHE_KEY)
    cfg = cache.get(info.node)
    if cfg is None:
        cfg = cache[info.node] = build_cfg(info.node)
    return cfg


def describe_node(node: Node, model: ActionModule | None = None) -> str:
    """A one-line label: `12 test L41 role != "admin"` (for debug output and tests)."""
    label = f"{node.id} {node.kind}"
    target = node.stmt if node.stmt is not None else node.owner
    if model is not None and target is not None:
        with contextlib.suppress(KeyError):
            label += f" L{model.position(target).start.line}"
    if node.stmt is not None:
        label += " " + node_text(node.stmt)
    return label


def node_text(stmt: cst.CSTNode, limit: int = 60) -> str:
    """The first line of `stmt`'s source (headers only for compound statements)."""
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        keyword = "class" if isinstance(stmt, cst.ClassDef) else "def"
        return f"{keyword} {stmt.name.value}"
    if isinstance(stmt, cst.ExceptHandler | cst.ExceptStarHandler):
        text = "except"
        if stmt.type is not None:
            text += " " + cst.Module([]).code_for_node(stmt.type)
        return text
    if isinstance(stmt, cst.MatchCase):
        return "case " + cst.Module([]).code_for_node(stmt.pattern).strip()
    code = cst.Module([]).code_for_node(stmt).strip()
    # Small statements and with-items print their separator (`a = 1;`, `x() as y,`).
    first = code.splitlines()[0].rstrip(";,").rstrip() if code else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


# --- correlated conditions ---------------------------------------------------------------------

# rules.md "Correlated conditions": two tests of the same side-effect-free condition on a path,
# with no assignment to its names between them, have the same outcome. A path fact is
# (condition key, outcome); analyses that want the convention carry a set of them per path.
Fact = tuple[str, bool]

# Calls a side-effect-free condition may make (builtins that only read their arguments).
_PURE_CALLS = frozenset({"len", "isinstance", "hasattr", "getattr", "bool", "str", "type"})
_PURE_NODES: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.Name,
        cst.Attribute,
        cst.Dot,
        cst.Subscript,
        cst.SubscriptElement,
        cst.Index,
        cst.SimpleString,
        cst.ConcatenatedString,
        cst.Integer,
        cst.Float,
        cst.Comparison,
        cst.ComparisonTarget,
        cst.Equal,
        cst.NotEqual,
        cst.LessThan,
        cst.LessThanEqual,
        cst.GreaterThan,
        cst.GreaterThanEqual,
        cst.In,
        cst.NotIn,
        cst.Is,
        cst.IsNot,
        cst.UnaryOperation,
        cst.Not,
        cst.Minus,
        cst.Tuple,
        cst.List,
        cst.Set,
        cst.Element,
        cst.Call,
        cst.Arg,
        cst.LeftParen,
        cst.RightParen,
        cst.LeftSquareBracket,
        cst.RightSquareBracket,
        cst.LeftCurlyBrace,
        cst.RightCurlyBrace,
        cst.Comma,
        cst.AssignEqual,
        cst.SimpleWhitespace,
        cst.ParenthesizedWhitespace,
        cst.EmptyLine,
        cst.Comment,
        cst.Newline,
        cst.TrailingWhitespace,
    }
)
_NEGATED_OPS: dict[type[cst.BaseCompOp], str] = {
    cst.NotEqual: "==",
    cst.IsNot: "is",
    cst.NotIn: "in",
}
_MAX_FACT_SETS = 64
_PUNCTUATION_SPACE = re.compile(r"\s*([.()\[\],])\s*")


def _code(model: ActionModule, node: cst.CSTNode) -> str:
    """`node`'s source text, whitespace collapsed, outer parentheses dropped."""
    start, end = model.position(node).start, model.position(node).end
    lines = model.source.lines[start.line - 1 : end.line]
    if not lines:
        return ""
    if len(lines) == 1:
        text = lines[0][start.column : end.column]
    else:
        text = "\n".join([lines[0][start.column :], *lines[1:-1], lines[-1][: end.column]])
    text = _PUNCTUATION_SPACE.sub(r"\1", " ".join(text.split()))
    if text.startswith("(") and text.endswith(")") and getattr(node, "lpar", None):
        text = text[1:-1].strip()
    return text


def access_path(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a chain of attributes on a name, the chain's base for a subscript
    (`a.b["k"]` -> `a.b`); None for anything else."""
    parts: list[str] = []
    current: cst.BaseExpression = expr
    while True:
        if isinstance(current, cst.Subscript):
            parts = []
            current = current.value
        elif isinstance(current, cst.Attribute):
            parts.append(current.attr.value)
            current = current.value
        elif isinstance(current, cst.Name):
            parts.append(current.value)
            return ".".join(reversed(parts))
        else:
            return None


def _overlaps(path: str, other: str) -> bool:
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")


class Correlations:
    """The `if` / `elif` tests of one function that repeat a side-effect-free condition,
    and what each node assigns (use `correlations_for(model, cfg)`).

    `while` tests are left out: a loop's own condition is meant to change between its tests.
    A node "kills" a condition when it assigns one of the names it reads (any binding: `=`,
    `+=`, `:=`, `for`, `with ... as`, `except ... as`, `del`, `import`, `def`), or calls a
    method on an object the condition reads (`items.pop()` may empty `items`).
    """

    def __init__(self, model: ActionModule, cfg: CFG) -> None:
        self.model = model
        self.cfg = cfg
        # A cheap first count on the source text (polarity folded) finds the candidates;
        # only those are checked for side effects and keyed exactly.
        rough: dict[Node, str] = {}
        counts: dict[str, int] = {}
        for node in cfg.nodes:
            if node.kind != "test" or type(node.owner) is not cst.If:
                continue
            assert isinstance(node.stmt, cst.BaseExpression)
            text = _code(model, node.stmt)
            while True:
                if text.startswith(("not ", "not(")):
                    text = text[3:].strip()
                elif text.startswith("(") and text.endswith(")"):
                    text = text[1:-1].strip()
                else:
                    break
            for negated, plain in ((" != ", " == "), (" is not ", " is "), (" not in ", " in ")):
                text = text.replace(negated, plain)
            rough[node] = text
            counts[text] = counts.get(text, 0) + 1
        found: dict[Node, tuple[str, bool, frozenset[str]]] = {}
        exact: dict[str, int] = {}
        for node, text in rough.items():
            if counts[text] < 2:
                continue
            assert isinstance(node.stmt, cst.BaseExpression)
            keyed = self._key(node.stmt)
            if keyed is not None:
                found[node] = keyed
                exact[keyed[0]] = exact.get(keyed[0], 0) + 1
        # Only conditions tested more than once can correlate anything.
        self.tests: dict[Node, tuple[str, bool]] = {
            node: (key, positive) for node, (key, positive, _) in found.items() if exact[key] > 1
        }
        self.paths: dict[str, frozenset[str]] = {
            key: paths for key, _, paths in found.values() if exact[key] > 1
        }
        self._kills: dict[Node, frozenset[str]] = {}

    def _key(self, expr: cst.BaseExpression) -> tuple[str, bool, frozenset[str]] | None:
        """(key, polarity, access paths read) of a side-effect-free atomic test."""
        positive = True
        while isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            positive = not positive
            expr = expr.expression
        paths: set[str] = set()
        model = self.model
        for child in model.walk(expr):
            if type(child) not in _PURE_NODES:
                return None
            if isinstance(child, cst.Call):
                func = child.func
                if isinstance(func, cst.Name):
                    if func.value not in _PURE_CALLS:
                        return None
                elif not (
                    isinstance(func, cst.Attribute)
                    and func.attr.value == "get"
                    and all(
                        isinstance(a.value, (cst.SimpleString, cst.Integer, cst.Name))
                        for a in child.args
                    )
                ):
                    return None
            if isinstance(child, (cst.Name, cst.Attribute, cst.Subscript)):
                parent = model.parent(child)
                if isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is child:
                    continue  # part of a longer chain
                if isinstance(parent, cst.Attribute) and parent.attr is child:
                    continue
                if isinstance(parent, cst.Call) and parent.func is child:
                    continue
                path = access_path(child)
                if path is not None and path not in ("True", "False", "None"):
                    paths.add(path)
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
            target = expr.comparisons[0]
            op = _NEGATED_OPS.get(type(target.operator))
            if op is not None:
                key = f"{_code(model, expr.left)} {op} {_code(model, target.comparator)}"
                return key, not positive, frozenset(paths)
        return _code(model, expr), positive, frozenset(paths)

    def fact(self, edge: Edge) -> Fact | None:
        """What taking `edge` says about a repeated condition: (key, outcome)."""
        if edge.kind not in ("true", "false"):
            return None
        keyed = self.tests.get(edge.src)
        if keyed is None:
            return None
        key, positive = keyed
        return key, (edge.kind == "true") == positive

    def kills(self, node: Node) -> frozenset[str]:
        """The repeated conditions whose names `node` assigns or may mutate."""
        if not self.paths or node.stmt is None:
            return frozenset()
        known = self._kills.get(node)
        if known is None:
            touched = self._touched(node)
            known = frozenset(
                key
                for key, paths in self.paths.items()
                if any(_overlaps(p, t) for p in paths for t in touched)
            )
            self._kills[node] = known
        return known

    def _touched(self, node: Node) -> set[str]:
        model = self.model
        stmt = node.stmt
        assert stmt is not None
        targets: list[cst.CSTNode] = []
        touched: set[str] = set()
        scope: cst.CSTNode | None = stmt
        # Exact-type tests: a failed isinstance against LibCST's ABCs runs Python code.
        if type(stmt) is cst.FunctionDef or type(stmt) is cst.ClassDef:
            return {stmt.name.value}
        if type(stmt) is cst.ExceptHandler:
            scope = None  # its body is other nodes
            if stmt.name is not None:
                targets.append(stmt.name.name)
        elif type(stmt) is cst.MatchCase:
            scope = stmt.pattern
            for child in model.walk_of(stmt.pattern, cst.MatchAs):
                assert isinstance(child, cst.MatchAs)
                if child.name is not None:
                    targets.append(child.name)
        if node.kind == "for" and type(node.owner) is cst.For:
            targets.append(node.owner.target)
        elif type(stmt) is cst.Assign:
            targets += [t.target for t in stmt.targets]
        elif type(stmt) is cst.AnnAssign or type(stmt) is cst.AugAssign or type(stmt) is cst.Del:
            targets.append(stmt.target)
        elif (type(stmt) is cst.Import or type(stmt) is cst.ImportFrom) and not isinstance(
            stmt.names, cst.ImportStar
        ):
            for alias in stmt.names:
                bound = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(bound, cst.BaseExpression):
                    path = access_path(bound)
                    if path is not None:
                        touched.add(path.split(".")[0])
        # Only the three kinds below matter: the index finds them without a walk (the order
        # does not matter, `touched` is a set).
        found = (
            model.walk_of(scope, cst.NamedExpr, cst.AsName, cst.Call) if scope is not None else ()
        )
        for child in found:
            if type(child) is cst.NamedExpr:
                targets.append(child.target)
            elif type(child) is cst.AsName:
                targets.append(child.name)
            elif type(child) is cst.Call and type(child.func) is cst.Attribute:
                # A method call may change its receiver (`items.pop()`).
                receiver = access_path(child.func.value)
                if receiver is not None:
                    touched.add(receiver)
        pending = list(targets)
        while pending:
            target = pending.pop()
            if isinstance(target, (cst.Tuple, cst.List)):
                pending += [e.value for e in target.elements]
            elif isinstance(target, cst.StarredElement):
                pending.append(target.value)
            elif isinstance(target, cst.BaseExpression):
                path = access_path(target)
                if path is not None:
                    touched.add(path)
        return touched

    def feasible(self, facts: frozenset[Fact], fact: Fact) -> bool:
        """False when the path already took the other outcome of the same condition."""
        return (fact[0], not fact[1]) not in facts


def correlations_for(model: ActionModule, cfg: CFG) -> Correlations:
    """`Correlations` of `cfg`, computed once per model."""
    cache: dict[CFG, Correlations] = model.memo_table("_flow_correlations")
    found = cache.get(cfg)
    if found is None:
        found = cache[cfg] = Correlations(model, cfg)
    return found


def limit_fact_sets(
    items: frozenset[tuple[T, frozenset[Fact]]],
) -> frozenset[tuple[T, frozenset[Fact]]]:
    """Drop path facts subsumed by a weaker set on the same base state, and all of them
    when there are too many sets (sound: a path without facts is feasible everywhere)."""
    if len(items) < 2 or not any(facts for _, facts in items):
        return items
    by_base: dict[T, list[frozenset[Fact]]] = {}
    for base, facts in items:
        by_base.setdefault(base, []).append(facts)
    if len(items) > _MAX_FACT_SETS:
        return frozenset((base, frozenset()) for base in by_base)
    out: set[tuple[T, frozenset[Fact]]] = set()
    for base, sets in by_base.items():
        for facts in sets:
            if not any(other < facts for other in sets):
                out.add((base, facts))
    return frozenset(out)
