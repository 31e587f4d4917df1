"""The index: one traversal of a parsed module that every rule and analysis queries.

LibCST's metadata providers (positions, parents, scopes, qualified names) each walk the
whole tree again, and `.children` is itself a full visit; on a 3,000-line module that was
most of the analysis time. Here a single code-generation pass (the same pass LibCST's own
`PositionProvider` makes, so positions are exactly LibCST's) visits every node once, in
source order, and records:

- the node list in source order, each node's number in it and where its subtree ends, so
  "every node under X" is a list slice and "every call under X" a binary search;
- parents;
- positions (numbers in typed arrays; `CodeRange` objects only for the nodes asked about);
- the function, class or lambda each node runs in ("fences"), so "the nodes of this
  function, nested definitions excluded" is a lookup;
- each node's name scope and each `Name`'s expression context, from which
  `analyzer.names.Scopes` resolves names, bindings and qualified names the way LibCST's
  `ScopeProvider` and `QualifiedNameProvider` do, without their extra traversals.

Code generation recurses, like LibCST's parser; the engine bounds the depth of the trees
it hands over (see `analyzer.engine.MAX_TREE_DEPTH`).
"""

from __future__ import annotations

import contextlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any, Literal, TypeVar, cast

import libcst as cst
from libcst._nodes.expression import _BaseParenthesizedNode
from libcst._nodes.internal import CodegenState

from analyzer.lines import line_starts, split_lines
from analyzer.names import Scope, ScopeKind, Scopes

# What opens a new region of code that runs on its own (a fence between it and its parent).
FENCES: tuple[type[cst.CSTNode], ...] = (cst.FunctionDef, cst.ClassDef)
LAMBDA_FENCES: tuple[type[cst.CSTNode], ...] = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
N = TypeVar("N", bound=cst.CSTNode)
Context = Literal["store", "load", "del"]

Range = tuple[int, int, int, int]  # start line, start column, end line, end column


class TooDeep(Exception):
    """The tree nests deeper than the index was allowed to follow; `line` is where."""

    def __init__(self, line: int) -> None:
        super().__init__(f"nesting too deep at line {line}")
        self.line = line


class NotTheSource(Exception):
    """The module does not generate the text it was expected to come from."""


class _Syntactic:
    """`record_syntactic_position` as a plain context manager (a generator-based one costs
    more than the rest of the traversal's work for that node), one per traversal: what
    each `with` records waits on a stack (they nest), not in an object of its own."""

    __slots__ = ("ix", "pending", "tokens")

    def __init__(self, ix: Index, tokens: list[str]) -> None:
        # Not the state itself: a reference back to it would be a cycle keeping the tree.
        self.ix = ix
        self.tokens = tokens
        self.pending: list[tuple[cst.CSTNode, cst.CSTNode | None, cst.CSTNode | None, int]] = []

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        # The position of a node without the whitespace it owns (LibCST's PositionProvider),
        # as token numbers: turned into lines and columns when asked for.
        node, start_node, end_node, start = self.pending.pop()
        ix = self.ix
        end = len(self.tokens)
        if start_node is not None:
            start = ix._tokens_of(start_node)[0]
        if end_node is not None:
            end = ix._tokens_of(end_node)[1]
        ix._syntactic[ix._numbers[id(node)]] = (start, end)


class _IndexState(CodegenState):
    """A code-generation state that indexes instead of only printing.

    `before_codegen` and `after_codegen` run for every node of the module: they are closures
    over the index's lists (local names are faster than attributes on this hot path).
    """

    def __init__(self, module: cst.Module, index: Index, max_depth: int | None) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.ix = index
        # Tokens are only collected: positions are token numbers, made into lines and
        # columns once the whole text is known (a Python `add_token` per token cost more).
        self.add_token = self.tokens.append  # type: ignore[method-assign,assignment]
        self.popped: list[str] = []
        self.syntactic = _Syntactic(index, self.tokens)
        tokens = self.tokens
        limit = max_depth if max_depth is not None else 1 << 60
        ix = index
        nodes = ix.nodes
        numbers_by_id = ix._numbers
        by_type = ix._by_type
        parents = ix._parent
        fences = ix._fence
        lfences = ix._lfence
        scopes = ix._scope
        ends = ix._end
        first_tokens = ix._first_token
        end_tokens = ix._end_token
        stack: list[int] = []
        # `elif`s on the stack: an `If` in its parent `If`'s `orelse` continues a chain and
        # does not count as a level of nesting.
        elifs = [0]
        fence_types = _FENCE_TYPES
        unindexed = UNINDEXED
        scope_parents = _SCOPE_PARENTS
        lambda_type, name_type, if_type = cst.Lambda, cst.Name, cst.If

        def before_codegen(node: cst.CSTNode) -> None:
            kind = type(node)
            if kind in unindexed:
                return
            number = len(nodes)
            numbers_by_id[id(node)] = number
            nodes.append(node)
            ends.append(0)
            first_tokens.append(len(tokens))
            end_tokens.append(0)
            numbers = by_type.get(kind)
            if numbers is None:
                by_type[kind] = [number]
            else:
                numbers.append(number)
            if stack:
                parent = stack[-1]
                parents.append(parent)
                if kind in fence_types:
                    fences.append(number)
                    lfences.append(number)
                else:
                    fences.append(fences[parent])
                    lfences.append(number if kind is lambda_type else lfences[parent])
                parent_node = nodes[parent]
                parent_kind = type(parent_node)
                if parent_kind in scope_parents:
                    ix._enter(node, parent_node, parent_kind)
                else:
                    scopes.append(scopes[parent])
                if kind is name_type:
                    ix._name_context(cast(cst.Name, node), parent_node)
                elif kind is if_type and parent_kind is if_type:
                    elifs[0] += 1
                if len(stack) + 1 - elifs[0] > limit:
                    raise TooDeep(len(split_lines("".join(tokens))))
            else:
                parents.append(-1)
                fences.append(number)
                lfences.append(number)
                scope = Scope("module", node, None, None)
                ix.scopes.append(scope)
                scopes.append(scope)
            stack.append(number)

        def after_codegen(node: cst.CSTNode) -> None:
            if type(node) in unindexed:
                return
            number = stack.pop()
            ends[number] = len(nodes)
            end_tokens[number] = len(tokens)
            if type(node) is if_type and stack and type(nodes[stack[-1]]) is if_type:
                elifs[0] -= 1

        self.before_codegen = before_codegen  # type: ignore[method-assign]
        self.after_codegen = after_codegen  # type: ignore[method-assign]

    def pop_trailing_newline(self) -> None:
        # A file without a final newline: the module removes the last one it wrote, after
        # the positions around it were taken (they count it, as LibCST's do).
        if self.tokens:
            self.popped.append(self.tokens.pop())

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic | contextlib.nullcontext[None]:
        if type(node) in UNINDEXED:
            return _UNRECORDED
        syntactic = self.syntactic
        syntactic.pending.append((node, start_node, end_node, len(self.tokens)))
        return syntactic


_FENCE_TYPES = frozenset(FENCES)
# Parents whose `target` a name is stored to (read elsewhere in them).
_TARGET_PARENTS: frozenset[type[cst.CSTNode]] = frozenset(
    {cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr}
)
# Parents where a name names something rather than reading a variable.
_NAMING_PARENTS: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.FunctionDef,
        cst.ClassDef,
        cst.ImportAlias,
        cst.Global,
        cst.Nonlocal,
        cst.NameItem,
        cst.ImportFrom,
        cst.Import,
        cst.MatchKeywordElement,
        cst.MatchMappingElement,
        cst.TypeVar,
        cst.TypeVarTuple,
        cst.ParamSpec,
        cst.TypeAlias,
    }
)
_AS_STORES: frozenset[type[cst.CSTNode] | None] = frozenset(
    {cst.WithItem, cst.ExceptHandler, cst.ExceptStarHandler}
)
_UNRECORDED: contextlib.nullcontext[None] = contextlib.nullcontext()


def _concrete(*bases: type[object]) -> set[type[cst.CSTNode]]:
    """LibCST's public classes derived from `bases` (its `__subclasses__()` also holds the
    classes its dataclass decorator replaced; `issubclass` on its ABCs is slow at import)."""
    found: set[type[cst.CSTNode]] = set()
    todo = list(bases)
    while todo:
        kind = todo.pop()
        todo += kind.__subclasses__()
        if getattr(cst, kind.__name__, None) is kind and not getattr(
            kind, "__abstractmethods__", None
        ):
            found.add(cast(type[cst.CSTNode], kind))
    return found


# Spaces, line ends, punctuation and operators are well over half of a module's nodes, and
# no rule looks one up (operators are read from their expression's `operator`): the
# traversal passes over them; they still move the position. Comments, and the blank lines
# and line ends that hold them, are indexed; so are parentheses, as LibCST ends the position
# of a parenthesized `from ... import (...)` at its `)`.
UNINDEXED: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.SimpleWhitespace,
        cst.Newline,
        cst.Comma,
        cst.Dot,
        cst.Colon,
        cst.Semicolon,
        cst.AssignEqual,
        cst.LeftSquareBracket,
        cst.RightSquareBracket,
        cst.LeftCurlyBrace,
        cst.RightCurlyBrace,
        *_concrete(
            cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp
        ),
    }
)
# Parents under which a child may be evaluated in another scope than its parent's.
_SCOPE_PARENTS = frozenset(
    {cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Param, cst.CompFor, *_COMPREHENSIONS}
)


class _Parenthesized:
    """LibCST's `_parenthesize`, the context manager around every expression's code, as a
    plain one rather than a generator: the same tokens in the same order, at a fraction of
    the cost (it ran for a third of all nodes)."""

    __slots__ = ("node", "state", "syntactic")

    def __init__(self, node: _BaseParenthesizedNode, state: CodegenState) -> None:
        self.node = node
        self.state = state

    def __enter__(self) -> None:
        node, state = self.node, self.state
        for lpar in node.lpar:
            lpar._codegen(state)
        self.syntactic = state.record_syntactic_position(node)
        self.syntactic.__enter__()

    def __exit__(self, kind: type[BaseException] | None, *rest: Any) -> None:
        self.syntactic.__exit__(kind, *rest)
        if kind is None:  # as the generator: no closing parenthesis after an exception
            state = self.state
            for rpar in self.node.rpar:
                rpar._codegen(state)


def _parenthesized(
    node: _BaseParenthesizedNode, state: CodegenState
) -> _Parenthesized | contextlib.AbstractContextManager[object]:
    if node.lpar:
        return _Parenthesized(node, state)
    return state.record_syntactic_position(node)  # no parentheses: only the position


# Classes whose `_codegen` may go straight to `_codegen_impl` (none overrides `_codegen`).
_STRAIGHT = [kind for kind in UNINDEXED if "_codegen" not in kind.__dict__]
_LIBCST_PARENTHESIZE = _BaseParenthesizedNode.__dict__["_parenthesize"]


@contextlib.contextmanager
def _lean_codegen() -> Iterator[None]:
    """While indexing: unindexed nodes generate their code without the before/after hooks
    (which would only return), and parentheses use `_Parenthesized`. The code generated is
    the same; only LibCST's per-node overhead goes. Restored afterwards, so LibCST behaves
    as documented everywhere else (the fixes generate code too). Should a file's thread
    abandoned over its budget restore LibCST while the next file is indexed, that index
    only pays the usual overhead: the hooks pass over unindexed nodes anyway."""
    for kind in _STRAIGHT:
        kind._codegen = kind._codegen_impl  # type: ignore[assignment,method-assign]
    _BaseParenthesizedNode._parenthesize = _parenthesized  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        _BaseParenthesizedNode._parenthesize = _LIBCST_PARENTHESIZE  # type: ignore[method-assign]
        for kind in _STRAIGHT:
            if "_codegen" in kind.__dict__:
                del kind._codegen


class Index:
    """Built once per module by `Index(module)`; read-only afterwards.

    Per-node facts live in lists indexed by the node's number (its place in source order):
    one dict from node to number, instead of a dict per fact, keeps memory in bounds.
    """

    def __init__(
        self, module: cst.Module, *, max_depth: int | None = None, expect: str | None = None
    ) -> None:
        """Index `module`; `max_depth` bounds the nesting followed (`TooDeep` beyond it).
        With `expect`, the code the module generates must be that text (`NotTheSource`)."""
        self.module = module
        self.nodes: list[cst.CSTNode] = []
        # Each node's number, by `id(node)`: LibCST's `CSTNode.__hash__` is Python code, and
        # this is asked for millions of times (every node in `nodes` stays alive, so ids do).
        self._numbers: dict[int, int] = {}
        # Numbers in typed arrays, not lists of int objects: a fifth of the memory.
        self._end = array("i")
        self._parent = array("i")
        self._fence = array("i")
        self._lfence = array("i")
        # Where each node's code starts and ends, as numbers of the tokens written before.
        self._first_token = array("i")
        self._end_token = array("i")
        # Positions without the whitespace a node owns, where LibCST records them apart.
        self._syntactic: dict[int, tuple[int, int]] = {}
        self._scope: list[Scope] = []
        self.context: dict[cst.Name, Context] = {}
        self.scopes: list[Scope] = []
        self._scope_for: dict[cst.CSTNode, Scope] = {}
        self._by_type: dict[type[cst.CSTNode], list[int]] = {}
        # Keyed by `id(root)` (the roots are nodes of the module, alive while it is).
        self._own: dict[tuple[int, type[cst.CSTNode] | None, bool], list[Any]] = {}
        self._scoped: dict[tuple[int, type[cst.CSTNode], bool], list[Any]] = {}
        state = _IndexState(module, self, max_depth)
        with _lean_codegen():
            module._codegen(state)
        text = "".join(state.tokens)
        if expect is not None and text != expect:
            raise NotTheSource
        tokens = [*state.tokens, *state.popped] if state.popped else state.tokens
        text += "".join(state.popped)
        # Token number -> offset in the text, and where each line starts.
        self._offsets = array("i", accumulate(map(len, tokens), initial=0))
        self._line_starts = array("i", line_starts(text))
        self.names = Scopes(self)

    def release(self) -> None:
        """Drop everything held (the index cannot be used afterwards): its name scopes
        refer back to it, so it would otherwise wait for the cyclic collector, tree and all."""
        self.__dict__.clear()

    # --- per-node facts -----------------------------------------------------------------

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        number = self._numbers.get(id(node))
        if number is None:
            return None
        parent = self._parent[number]
        return self.nodes[parent] if parent >= 0 else None

    def number(self, node: cst.CSTNode) -> int:
        """`node`'s place in source order (KeyError for a node not in the module)."""
        return self._numbers[id(node)]

    def number_of(self, node: cst.CSTNode) -> int | None:
        """`node`'s place in source order, or None for a node not in the module."""
        return self._numbers.get(id(node))

    def end(self, node: cst.CSTNode) -> int:
        """The number after the last node of `node`'s subtree."""
        return self._end[self._numbers[id(node)]]

    def range(self, node: cst.CSTNode) -> Range:
        """(start line, start column, end line, end column): LibCST's syntactic position."""
        first, end = self._tokens_of(node)
        starts = self._line_starts
        start_offset = self._offsets[first]
        end_offset = self._offsets[end]
        start_line = bisect_right(starts, start_offset)
        end_line = bisect_right(starts, end_offset, start_line - 1)
        return (
            start_line,
            start_offset - starts[start_line - 1],
            end_line,
            end_offset - starts[end_line - 1],
        )

    def _tokens_of(self, node: cst.CSTNode) -> tuple[int, int]:
        """The numbers of `node`'s first token and of the token after its last."""
        number = self._numbers[id(node)]
        syntactic = self._syntactic.get(number)
        if syntactic is not None:
            return syntactic
        return self._first_token[number], self._end_token[number]

    def fence(self, node: cst.CSTNode, *, lambdas: bool = False) -> cst.CSTNode:
        """The function or class (or, with `lambdas`, lambda) `node` is part of, or that it
        is itself; the module at top level."""
        fences = self._lfence if lambdas else self._fence
        return self.nodes[fences[self._numbers[id(node)]]]

    def scope_of(self, node: cst.CSTNode) -> Scope | None:
        number = self._numbers.get(id(node))
        return self._scope[number] if number is not None else None

    # --- the traversal's per-node work (scope and expression context) --------------------

    def _enter(self, node: cst.CSTNode, parent: cst.CSTNode, kind: type[cst.CSTNode]) -> None:
        scope = self._scope[self._numbers[id(parent)]]
        # Which scope `node` is evaluated in: mostly its parent's, except where a
        # definition's body, parameters or comprehension opens a new one.
        if kind is cst.FunctionDef:
            fn = cast(cst.FunctionDef, parent)
            if node is fn.body or node is fn.params:
                scope = self._new_scope("function", fn, scope, fn.name.value)
        elif kind is cst.Lambda:
            lam = cast(cst.Lambda, parent)
            if node is lam.params or node is lam.body:
                scope = self._new_scope("function", lam, scope, None)
        elif kind is cst.ClassDef:
            if node is cast(cst.ClassDef, parent).body:
                scope = self._new_scope(
                    "class", parent, scope, cast(cst.ClassDef, parent).name.value
                )
        elif kind is cst.Param:
            param = cast(cst.Param, parent)
            if node is param.default or node is param.annotation:
                scope = _outside_function(scope)
        elif kind is cst.CompFor:
            comp_for = cast(cst.CompFor, parent)
            grand = self.parent(parent)
            if (
                isinstance(grand, _COMPREHENSIONS)
                and grand.for_in is comp_for
                and node is not comp_for.iter
            ):
                scope = self._new_scope("comprehension", grand, scope, None)
        elif node is not cast(cst.ListComp, parent).for_in:  # a comprehension
            scope = self._new_scope("comprehension", parent, scope, None)
        self._scope.append(scope)

    def _new_scope(
        self, kind: ScopeKind, owner: cst.CSTNode, parent: Scope, name: str | None
    ) -> Scope:
        # A definition's parts (params, body) share one scope.
        scope = self._scope_for.get(owner)
        if scope is None:
            scope = self._scope_for[owner] = Scope(kind, owner, parent, name)
            self.scopes.append(scope)
        return scope

    def _name_context(self, node: cst.Name, parent: cst.CSTNode) -> None:
        # Dispatch on the parent's exact class: LibCST's classes are ABCs, so each failed
        # `isinstance` would run Python code, and this runs for every name of the module.
        kind = type(parent)
        context: Context | None
        if kind is cst.Attribute:
            attribute = cast(cst.Attribute, parent)
            context = "load" if node is attribute.value and not self._in_import(attribute) else None
        elif kind is cst.Arg:
            context = "load" if node is cast(cst.Arg, parent).value else None
        elif kind in _TARGET_PARENTS:
            context = "store" if node is getattr(parent, "target", None) else "load"
        elif kind is cst.Param:
            context = "load" if node is cast(cst.Param, parent).default else None
        elif kind in _NAMING_PARENTS:
            context = None
        elif kind is cst.AsName:
            grand = type(self.parent(parent))
            context = "store" if grand in _AS_STORES else None
        elif kind is cst.Del:
            context = "del"
        elif kind is cst.Element or kind is cst.StarredElement:
            context = self._container_context(parent)
        elif kind is cst.MatchAs or kind is cst.MatchStar:
            context = "store"
        else:
            context = "load"
        if context is not None:
            self.context[node] = context

    def _in_import(self, attribute: cst.Attribute) -> bool:
        """True for the dotted module names of an import (`import a.b`, `from a.b import c`)."""
        top: cst.CSTNode = attribute
        parent = self.parent(top)
        while isinstance(parent, cst.Attribute):
            top, parent = parent, self.parent(parent)
        return isinstance(parent, (cst.ImportAlias, cst.ImportFrom))

    def _container_context(self, element: cst.CSTNode) -> Context:
        container = self.parent(element)
        if isinstance(container, (cst.Tuple, cst.List)):
            outer = self.parent(container)
            if isinstance(outer, (cst.AssignTarget, cst.For, cst.CompFor)) and (
                outer.target is container
            ):
                return "store"
            if isinstance(outer, cst.AsName) and outer.name is container:
                return "store"
            if isinstance(outer, cst.Del):
                return "del"
            if isinstance(outer, (cst.Element, cst.StarredElement)):
                return self._container_context(outer)
        if isinstance(container, cst.StarredElement):  # pragma: no cover - nested stars
            return self._container_context(container)
        return "load"

    # --- queries ----------------------------------------------------------------------

    def __contains__(self, node: object) -> bool:
        return id(node) in self._numbers

    def subtree(self, node: cst.CSTNode) -> Sequence[cst.CSTNode]:
        """`node` and every node under it, in source order."""
        start = self._numbers[id(node)]
        return self.nodes[start : self._end[start]]

    def under(self, node: cst.CSTNode, kind: type[N]) -> list[N]:
        """The nodes of exactly type `kind` under `node` (itself included), in source order."""
        numbers = self._by_type.get(kind)
        if not numbers:
            return []
        start = self._numbers[id(node)]
        lo = bisect_left(numbers, start)
        hi = bisect_left(numbers, self._end[start], lo)
        nodes = self.nodes
        return [cast(N, nodes[i]) for i in numbers[lo:hi]]

    def has(self, kind: type[cst.CSTNode]) -> bool:
        """Some node of the module is of exactly type `kind` (analyses skip looking for
        a kind the module does not have)."""
        return kind in self._by_type

    def of_type(self, kind: type[N]) -> list[N]:
        """Every node of exactly type `kind` in the module, in source order."""
        return [cast(N, self.nodes[i]) for i in self._by_type.get(kind, ())]

    def _home(self, root: int, lambdas: bool) -> tuple[array[int], int]:
        fences = self._fence if lambdas else self._lfence
        return fences, fences[root]

    def own(self, root: cst.CSTNode, *, lambdas: bool = True) -> list[cst.CSTNode]:
        """Nodes under `root` (not `root`) that run with it: nested defs and classes left out.

        `lambdas=False` leaves lambda bodies out too. A definition under `root` is left out
        whole, decorators and defaults included, as the tree walks this replaces did.
        """
        start = self._numbers[id(root)]
        fences, home = self._home(start, lambdas)
        nodes = self.nodes
        end = self._end
        out: list[cst.CSTNode] = []
        i = start + 1
        stop = end[start]
        while i < stop:
            if fences[i] == home:
                out.append(nodes[i])
                i += 1
            else:
                i = end[i]  # a nested definition: skip its whole subtree
        return out

    def scope_nodes(self, root: cst.CSTNode, *, lambdas: bool = False) -> list[cst.CSTNode]:
        """`root` and `own(root)`; cached."""
        key = (id(root), None, lambdas)
        found = self._own.get(key)
        if found is None:
            found = self._own[key] = [root, *self.own(root, lambdas=lambdas)]
        return found

    def own_of(
        self, root: cst.CSTNode, kind: type[cst.CSTNode], *, lambdas: bool = True
    ) -> list[Any]:
        """`own(root)` restricted to nodes of exactly type `kind`; cached."""
        key = (id(root), kind, lambdas)
        found = self._own.get(key)
        if found is None:
            numbers = self._by_type.get(kind)
            found = []
            if numbers:
                start = self._numbers[id(root)]
                fences, home = self._home(start, lambdas)
                lo = bisect_left(numbers, start + 1)
                hi = bisect_left(numbers, self._end[start], lo)
                nodes = self.nodes
                found = [nodes[i] for i in numbers[lo:hi] if fences[i] == home]
            self._own[key] = found
        return found

    def scoped(self, node: cst.CSTNode, kind: type[N], *, lambdas: bool = True) -> list[N]:
        """`node` itself if it is exactly a `kind`, then `own_of(node, kind)`; cached."""
        own = self.own_of(node, kind, lambdas=lambdas)
        if type(node) is not kind:
            return own
        key = (id(node), kind, lambdas)
        found = self._scoped.get(key)
        if found is None:
            found = self._scoped[key] = [node, *own]
        return found

    def own_of_types(
        self, root: cst.CSTNode, kinds: tuple[type[cst.CSTNode], ...], *, lambdas: bool = True
    ) -> list[cst.CSTNode]:
        """`own(root)` restricted to nodes of exactly one of `kinds`, in source order."""
        if len(kinds) == 1:
            return self.own_of(root, kinds[0], lambdas=lambdas)
        found = [n for kind in kinds for n in self.own_of(root, kind, lambdas=lambdas)]
        found.sort(key=self.number)
        return found

    def under_types(
        self, root: cst.CSTNode, kinds: tuple[type[cst.CSTNode], ...]
    ) -> list[cst.CSTNode]:
        """The nodes of exactly one of `kinds` under `root` (itself included), in order."""
        found = [n for kind in kinds for n in self.under(root, kind)]
        if len(kinds) > 1:
            found.sort(key=self.number)
        return found

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        number = self._numbers.get(id(node))
        if number is None:
            return
        parents = self._parent
        nodes = self.nodes
        number = parents[number]
        while number >= 0:
            yield nodes[number]
            number = parents[number]


def _outside_function(scope: Scope) -> Scope:
    """Where a parameter's default and annotation are evaluated: outside its function."""
    return scope.parent if scope.kind == "function" and scope.parent is not None else scope
