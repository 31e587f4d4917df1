"""The semantic model of one action module, built once per file and shared by every rule.

It answers the questions most rules ask: where is `class Action` and its `action` method,
which names the module binds, what a name or call resolves to through imports and aliases,
which functions of the module `action` reaches and through which calls. Everything is
computed lazily, so a rule that needs little costs little.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar, cast

import libcst as cst
from libcst._position import CodePosition, CodeRange

from analyzer.findings import Location
from analyzer.index import Index
from analyzer.lines import split_lines
from analyzer.names import BUILTIN

# §3 of the action contract: the only names Open WebUI passes to `action` (matched by name).
INJECTED_PARAMS: frozenset[str] = frozenset(
    {
        "body",
        "__model__",
        "__id__",
        "__event_emitter__",
        "__event_call__",
        "__request__",
        "__user__",
    }
)
# Injected names that are never None when declared (the flow rules rely on it).
NEVER_NONE_PARAMS: frozenset[str] = frozenset(
    {"__user__", "__event_emitter__", "__event_call__", "__request__", "__model__", "__id__"}
)
# Reserved names other plugin types receive but actions never do.
NEVER_INJECTED_PARAMS: frozenset[str] = frozenset(
    {
        "__metadata__",
        "__files__",
        "__messages__",
        "__chat_id__",
        "__session_id__",
        "__message_id__",
        "__oauth_token__",
        "__task__",
        "__tools__",
    }
)

T = TypeVar("T")
_MISSING: Any = object()  # "not cached yet" where None is a cached answer
N = TypeVar("N", bound=cst.CSTNode)


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)


@dataclass
class FunctionInfo:
    """A function or method of the module, with the class it belongs to (if any)."""

    qualname: str
    node: cst.FunctionDef
    class_name: str | None
    parent: FunctionInfo | None = None

    @property
    def name(self) -> str:
        return self.node.name.value

    @property
    def is_async(self) -> bool:
        return self.node.asynchronous is not None

    def param_names(self) -> list[str]:
        p = self.node.params
        return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]


CallKind = Literal["call", "offload", "reference"]
# Call paths longer than this are shortened in messages.
MAX_PATH_SHOWN = 6


@dataclass(frozen=True)
class CallSite:
    """`caller` reaches `callee` at `node`: a direct call, an offload or a passed reference."""

    caller: str
    callee: str
    node: cst.CSTNode
    kind: CallKind


@dataclass
class Reach:
    """How `action` reaches a function: the chain of call sites from `action` to it."""

    function: FunctionInfo
    path: tuple[CallSite, ...] = field(default_factory=tuple)


# Callables that run a function or coroutine they are handed (reachability follows them).
OFFLOADERS: frozenset[str] = frozenset(
    {
        "asyncio.to_thread",
        "asyncio.create_task",
        "asyncio.ensure_future",
        "asyncio.gather",
        "asyncio.wait_for",
        "asyncio.shield",
        "functools.partial",
        "threading.Thread",
    }
)
OFFLOAD_METHODS: frozenset[str] = frozenset({"run_in_executor", "submit", "create_task", "map"})

# "Calls made for you" (catalog: Analysis conventions): callables that call the function they
# are handed, with the arguments handed along, in a worker thread ...
THREAD_RUNNERS: dict[str, int] = {
    # qualified name -> index of the function among the positional arguments
    "asyncio.to_thread": 0,
    "anyio.to_thread.run_sync": 0,
    "starlette.concurrency.run_in_threadpool": 0,
    "fastapi.concurrency.run_in_threadpool": 0,
}
# ... methods of an event loop or an executor (`loop.run_in_executor(None, f, *args)`,
# `pool.submit(f, *args)`) ...
THREAD_RUNNER_METHODS: dict[str, int] = {"run_in_executor": 1, "submit": 0}
# ... and `functools.partial(f, *args)`, a call of `f` with those arguments and the ones the
# partial object is called with later (counted where the partial is made).
PARTIALS: frozenset[str] = frozenset({"functools.partial"})

DeferredKind = Literal["thread", "partial"]


@dataclass(frozen=True)
class DeferredCall:
    """A call the code asks another callable to make for it: `asyncio.to_thread(f, a, k=b)`
    calls `f(a, k=b)` at that site, in a thread.

    `site` is the call written in the code (where findings go); `target` is `f` as written
    (a name, an attribute, a lambda); `args` are the arguments `f` receives. `call` is a
    synthetic `f(*args)` node built from those same nodes, for analyses that classify calls
    by their callee and arguments: it is not part of the module (no position, no parent),
    so report at `site` (`ActionModule.real_call`).
    """

    site: cst.Call
    target: cst.BaseExpression
    args: tuple[cst.Arg, ...]
    kind: DeferredKind
    call: cst.Call

    @property
    def in_thread(self) -> bool:
        """The target runs in a worker thread (not on the event loop)."""
        return self.kind == "thread"


# The class Open WebUI's loader looks for, by kind of function.
PLUGIN_CLASSES = {"action": "Action", "filter": "Filter", "pipe": "Pipe"}


class ActionModule:
    """Facts about one parsed module. Construct with `ActionModule(source, cst_module)`."""

    def __init__(
        self,
        source: SourceFile,
        module: cst.Module,
        index: Index | None = None,
        kind: str = "action",
    ) -> None:
        self.source = source
        self.module = module
        # "action", or "filter" / "pipe" for `audit --all-types` (see `plugin_class`).
        self.kind = kind
        if index is not None:
            self.__dict__["index"] = index  # built with the parse (see engine.parse)
        self._memo: dict[Hashable, Any] = {}
        self._tables: dict[str, dict[Any, Any]] = {}
        # Per-node caches keyed by `id(node)` (LibCST's `__hash__` is Python code). Every
        # node asked about is kept in `_keep`, so an id is never reused while it is cached
        # (one list, not a tuple per entry: fewer objects for the garbage collector).
        self._keep: list[cst.CSTNode] = []
        self._resolved: dict[int, frozenset[str]] = {}
        self._imported: dict[int, frozenset[str]] = {}
        self._codes: dict[int, CodeRange] = {}

    @cached_property
    def index(self) -> Index:
        """The one traversal of the module every query below reads (built on first use)."""
        return Index(self.module)

    def release(self) -> None:
        """Let go of the tree, the index and every fact derived from them; the model cannot
        be used afterwards. The analyses' objects refer back to the model, the index's name
        scopes to the index and control-flow edges to their nodes, so without this a file's
        whole tree waited for the cyclic collector, whose pass over it cost about a tenth of
        the run."""
        index = self.__dict__.get("index")
        if index is not None:
            index.release()
        from analyzer.flow.cfg import CACHE_KEY  # (the flow package imports this module)

        for graph in self._tables.get(CACHE_KEY, {}).values():
            graph.release()
        self.__dict__.clear()

    # --- per-file caches for facts other modules derive (flow analyses) ------------------

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The fact stored under `key`, computed by `compute()` the first time it is asked."""
        memo = self._memo
        if key not in memo:
            memo[key] = compute()
        return cast(T, memo[key])

    def memo_table(self, key: str) -> dict[Any, Any]:
        """A dict cache for facts computed per function or per node, one per `key`."""
        found = self._tables.get(key)  # asked per node: one dict lookup, no tuple key
        if found is None:
            found = self._tables[key] = {}
        return found

    # --- positions, parents, names (all read from the index) ------------------------------

    def position(self, node: cst.CSTNode) -> CodeRange:
        found = self._codes.get(id(node))
        if found is None:
            sl, sc, el, ec = self.index.range(node)
            found = self._codes[id(node)] = CodeRange(CodePosition(sl, sc), CodePosition(el, ec))
            self._keep.append(node)
        return found

    def location(self, node: cst.CSTNode) -> Location:
        """1-based line and column, exclusive end column (LibCST columns are 0-based)."""
        sl, sc, el, ec = self.index.range(node)
        return Location(sl, sc + 1, el, ec + 1)

    def line_location(self, line: int) -> Location:
        """The whole of source line `line` (1-based)."""
        text = self.source.lines[line - 1] if 0 < line <= len(self.source.lines) else ""
        return Location(line, 1, line, len(text) + 1)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.index.parent(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        return self.index.ancestors(node)

    def walk(self, node: cst.CSTNode) -> Sequence[cst.CSTNode]:
        """`node` and every node under it, in source order (a slice of the index)."""
        if node in self.index:
            return self.index.subtree(node)
        return list(_walk(node))  # a node built by a rule, not part of the module

    def own_nodes(self, root: cst.CSTNode, *, lambdas: bool = True) -> list[cst.CSTNode]:
        """Nodes under `root` that run with it (nested defs and classes, and with
        `lambdas=False` lambda bodies, left out), in source order."""
        return self.index.own(root, lambdas=lambdas)

    def scope_nodes(self, root: cst.CSTNode, *, lambdas: bool = False) -> list[cst.CSTNode]:
        """`root` and the nodes under it that run with it (not in nested defs or classes;
        lambda bodies only with `lambdas=True`), in source order; cached."""
        if root in self.index:
            return self.index.scope_nodes(root, lambdas=lambdas)
        return [root]

    def own_nodes_of(
        self, root: cst.CSTNode, *kinds: type[cst.CSTNode], lambdas: bool = True
    ) -> list[cst.CSTNode]:
        """`own_nodes(root)` of exactly one of `kinds` (concrete node classes), in order."""
        return self.index.own_of_types(root, kinds, lambdas=lambdas)

    def walk_of(self, root: cst.CSTNode, *kinds: type[cst.CSTNode]) -> list[cst.CSTNode]:
        """`walk(root)` of exactly one of `kinds` (concrete node classes), in order."""
        return self.index.under_types(root, kinds)

    def scoped(self, node: cst.CSTNode, kind: type[N], *, lambdas: bool = True) -> list[N]:
        """`node` itself if it is exactly a `kind`, then `own_of(node, kind)`; cached."""
        return self.index.scoped(node, kind, lambdas=lambdas)

    def own_of(self, root: cst.CSTNode, kind: type[N], *, lambdas: bool = True) -> list[N]:
        """`own_nodes(root)` of exactly type `kind`; cached."""
        return self.index.own_of(root, kind, lambdas=lambdas)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement holding `node`: a simple statement line or a compound statement."""
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node
        for parent in self.ancestors(node):
            if isinstance(parent, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return parent
        return node

    def statement_location(self, node: cst.CSTNode) -> Location:
        """The first line of the statement holding `node` (where expression findings go)."""
        stmt = self.statement_of(node)
        if isinstance(stmt, cst.BaseCompoundStatement):
            line = self.position(node).start.line
        else:
            line = self.position(stmt).start.line
        text = self.source.lines[line - 1]
        indent = len(text) - len(text.lstrip())
        return Location(line, indent + 1, line, len(text.rstrip()) + 1)

    def referents(self, name: cst.Name) -> list[cst.CSTNode | None] | None:
        """The bindings a read of `name` may refer to (None for a builtin), like LibCST's
        scope accesses; None when `name` is not a read."""
        found = self.index.names.referents(name)
        if found is None:
            return None
        return [None if r == BUILTIN else cast(cst.CSTNode, r) for r in found]

    def qualified_names(self, node: cst.CSTNode) -> frozenset[tuple[str, str]]:
        """(qualified name, source) pairs; source is "import", "builtin" or "local"."""
        return self.index.names.qualified_names(node)

    def resolve_name(self, node: cst.CSTNode) -> frozenset[str]:
        """Dotted names `node` may refer to, imports and aliases resolved.

        `from pydantic import BaseModel as BM; BM` gives {"pydantic.BaseModel"}; a local
        name gives its own dotted name; anything else (calls, subscripts) gives nothing.
        Cached per node: rules ask about the same callee again and again.
        """
        found = self._resolved.get(id(node))
        if found is None:
            names = {name for name, _ in self.qualified_names(node)}
            if not names:
                dotted = dotted_name(node)
                if dotted:
                    names = {dotted}
            found = self._resolved[id(node)] = frozenset(names)
            self._keep.append(node)
        return found

    def imported_name(self, node: cst.CSTNode) -> frozenset[str]:
        """Like `resolve_name` but only names that come from an import (cached)."""
        found = self._imported.get(id(node))
        if found is None:
            names = frozenset(
                name
                for name, source in self.qualified_names(node)
                if source in ("import", "builtin")
            )
            found = self._imported[id(node)] = names
            self._keep.append(node)
        return found

    # --- module-level bindings -----------------------------------------------------------

    @cached_property
    def bindings(self) -> dict[str, list[cst.CSTNode]]:
        """Every module-level binding by name: classes, defs, imports, assignments, loops."""
        return self.index.names.module_bindings()

    @cached_property
    def is_action_module(self) -> bool:
        return "Action" in self.bindings

    @cached_property
    def classes(self) -> dict[str, cst.ClassDef]:
        """Classes defined at module level (also inside module-level if/try blocks)."""
        out: dict[str, cst.ClassDef] = {}
        for name, nodes in self.bindings.items():
            for node in nodes:
                if type(node) is cst.ClassDef:
                    out[name] = node
        return out

    @cached_property
    def action_class(self) -> cst.ClassDef | None:
        """The class `Action` is bound to: `class Action` or `Action = SomeClass`."""
        return self._bound_class("Action")

    @cached_property
    def plugin_class(self) -> cst.ClassDef | None:
        """The class Open WebUI instantiates for this module's kind of function: `Action`,
        or `Filter` / `Pipe` for a filter or pipe (audited with --all-types)."""
        if self.kind == "action":
            return self.action_class
        name = PLUGIN_CLASSES.get(self.kind)
        return None if name is None else self._bound_class(name)

    def _bound_class(self, name: str) -> cst.ClassDef | None:
        nodes = self.bindings.get(name, [])
        if not nodes:
            return None
        last = nodes[-1]
        if type(last) is cst.ClassDef:
            return last
        value = assigned_value(last, self)
        if type(value) is cst.Name and value.value in self.classes:
            return self.classes[value.value]
        return None

    def class_methods(self, cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
        out: dict[str, cst.FunctionDef] = {}
        for stmt in cls.body.body:
            if type(stmt) is cst.FunctionDef:
                out[stmt.name.value] = stmt
        return out

    def nested_class(self, cls: cst.ClassDef, name: str) -> cst.ClassDef | None:
        found = None
        for stmt in cls.body.body:
            if type(stmt) is cst.ClassDef and stmt.name.value == name:
                found = stmt
        return found

    @cached_property
    def valves_class(self) -> cst.ClassDef | None:
        cls = self.plugin_class
        return self.nested_class(cls, "Valves") if cls else None

    @cached_property
    def user_valves_class(self) -> cst.ClassDef | None:
        cls = self.plugin_class
        return self.nested_class(cls, "UserValves") if cls else None

    # --- functions and the call graph ------------------------------------------------------

    @cached_property
    def functions(self) -> dict[str, FunctionInfo]:
        """Module functions (`f`), methods (`Class.m`) and nested functions (`f.inner`)."""
        out: dict[str, FunctionInfo] = {}

        def add(
            node: cst.FunctionDef, qual: str, cls: str | None, parent: FunctionInfo | None
        ) -> None:
            # Depth-first, nested functions right after their parent, without recursion.
            stack = [(node, qual, cls, parent)]
            while stack:
                node, qual, cls, parent = stack.pop()
                info = FunctionInfo(qual, node, cls, parent)
                out[qual] = info
                inner = self.nested_defs(node)
                stack += [(d, f"{qual}.{d.name.value}", None, info) for d in reversed(inner)]

        for name, nodes in self.bindings.items():
            for node in nodes:
                if type(node) is cst.FunctionDef:
                    add(node, name, None, None)
        for cname, cls in self.classes.items():
            for mname, fn in self.class_methods(cls).items():
                add(fn, f"{cname}.{mname}", cname, None)
        return out

    def nested_defs(self, fn: cst.FunctionDef) -> list[cst.FunctionDef]:
        """Functions defined directly in `fn`'s body (in any block, not in a nested class)."""
        index = self.index
        return [
            d
            for d in index.under(fn.body, cst.FunctionDef)
            if index.fence(index.parent(d) or d) is fn
        ]

    @cached_property
    def function_of_node(self) -> dict[cst.FunctionDef, FunctionInfo]:
        return {info.node: info for info in self.functions.values()}

    def enclosing_function(self, node: cst.CSTNode) -> FunctionInfo | None:
        for parent in self.ancestors(node):
            if type(parent) is cst.FunctionDef:
                return self.function_of_node.get(parent)
        return None

    @cached_property
    def action_method(self) -> FunctionInfo | None:
        cls = self.action_class
        if cls is None:
            return None
        return self.functions.get(f"{cls.name.value}.action")

    @cached_property
    def attribute_classes(self) -> dict[tuple[str, str], str]:
        """`self.attr = SomeClass(...)` in class C: (C, attr) -> SomeClass."""
        out: dict[tuple[str, str], str] = {}
        for info in self.functions.values():
            if info.class_name is None:
                continue
            for target, value in self.assignments_under(info.node.body):
                if (
                    type(target) is cst.Attribute
                    and type(target.value) is cst.Name
                    and target.value.value == "self"
                ):
                    found = self._constructed_class(value, info)
                    if found is not None:
                        attr = cst.ensure_type(target, cst.Attribute).attr.value
                        out.setdefault((info.class_name, attr), found)
        return out

    # --- which module class a value is an instance of (reachability through objects) -----

    def _constructed_class(self, value: cst.BaseExpression, within: FunctionInfo) -> str | None:
        """The module class `value` makes an instance of: `Fetcher(...)`, or a call of a
        module function or method that returns one (`self._fetcher()`, `Fetcher.create()`:
        by its return annotation, else every `return Fetcher(...)`)."""
        while type(value) is cst.Await:
            value = value.expression
        if type(value) is not cst.Call:
            return None
        func = value.func
        if type(func) is cst.Name and func.value in self.classes:
            return func.value
        qual: str | None = None
        if type(func) is cst.Name and func.value in self.functions:
            qual = func.value
        elif type(func) is cst.Attribute and type(func.value) is cst.Name:
            base = func.value.value
            owner = within
            while owner.parent is not None:
                owner = owner.parent
            if base in ("self", "cls") and owner.class_name:
                qual = self._method_in_class(owner.class_name, func.attr.value)
            elif base in self.classes:
                qual = self._method_in_class(base, func.attr.value)
        return self._returned_class(qual) if qual else None

    def _returned_class(self, qual: str) -> str | None:
        """The module class the function `qual` returns an instance of (cached)."""
        cache = self.memo_table("returned_class")
        if qual not in cache:
            cache[qual] = None  # while computing (a factory calling itself)
            info = self.functions[qual]
            found: str | None = None
            if info.node.returns is not None:
                found = self.class_in_annotation(info.node.returns.annotation)
            else:
                made = set()
                for ret in self.own_of(info.node.body, cst.Return):
                    value = ret.value
                    if value is None or (type(value) is cst.Name and value.value == "None"):
                        continue
                    made.add(
                        value.func.value
                        if type(value) is cst.Call
                        and type(value.func) is cst.Name
                        and value.func.value in self.classes
                        else ""
                    )
                found = made.pop() if len(made) == 1 and "" not in made else None
            cache[qual] = found
        result: str | None = cache[qual]
        return result

    def class_in_annotation(self, annotation: cst.BaseExpression) -> str | None:
        """`Fetcher`, `"Fetcher"`, `Optional[Fetcher]`, `Fetcher | None`: the module class."""
        pending = [annotation]
        found: set[str] = set()
        while pending:
            node = pending.pop()
            text = string_value(node)
            if text is not None:
                name = text.strip()
                if name in self.classes:
                    found.add(name)
                continue
            if type(node) is cst.Name:
                if node.value in self.classes:
                    found.add(node.value)
                elif node.value != "None":
                    return None
            elif type(node) is cst.BinaryOperation and type(node.operator) is cst.BitOr:
                pending += [node.left, node.right]
            elif type(node) is cst.Subscript and dotted_name(node.value) in (
                "Optional",
                "typing.Optional",
                "Union",
                "typing.Union",
            ):
                pending += [e.slice.value for e in node.slice if type(e.slice) is cst.Index]
            else:
                return None
        return found.pop() if len(found) == 1 else None

    def resolve_callable(self, expr: cst.BaseExpression, within: FunctionInfo) -> str | None:
        """The qualname of the module function that `expr` (a callee or reference) denotes.

        Cached per (expression, function): the flow analyses ask it on every fixpoint round.
        """
        cache = self.memo_table("resolve_callable")
        key = (id(expr), within.qualname)  # by `id`, `expr` kept (see `_keep`)
        found = cache.get(key, _MISSING)
        if found is _MISSING:
            found = cache[key] = self._resolve_callable(expr, within)
            self._keep.append(expr)
        result: str | None = found
        return result

    def _resolve_callable(self, expr: cst.BaseExpression, within: FunctionInfo) -> str | None:
        if type(expr) is cst.Name:
            name = expr.value
            scope: FunctionInfo | None = within
            while scope is not None:
                nested = f"{scope.qualname}.{name}"
                if nested in self.functions:
                    return nested
                scope = scope.parent
            if name in self.functions:
                return name
            if name in self.classes and f"{name}.__init__" in self.functions:
                return f"{name}.__init__"
            return None
        if type(expr) is cst.Attribute:
            attr = expr.attr.value
            base = expr.value
            owner = within
            while owner.parent is not None:
                owner = owner.parent
            if type(base) is cst.Name and base.value in ("self", "cls"):
                cls = owner.class_name
                return self._method_in_class(cls, attr) if cls else None
            if type(base) is cst.Name and base.value in self.classes:
                return self._method_in_class(base.value, attr)
            if (
                type(base) is cst.Attribute
                and type(base.value) is cst.Name
                and base.value.value == "self"
                and owner.class_name
            ):
                target = self.attribute_classes.get((owner.class_name, base.attr.value))
                return self._method_in_class(target, attr) if target else None
            if type(base) is cst.Name:
                target = self._local_instance_class(within, base.value)
                return self._method_in_class(target, attr) if target else None
            if isinstance(base, (cst.Call, cst.Await)):  # `Fetcher(url).download()`
                target = self._constructed_class(base, within)
                return self._method_in_class(target, attr) if target else None
        return None

    def _method_in_class(self, cls: str, method: str) -> str | None:
        seen: set[str] = set()
        queue = [cls]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            qual = f"{current}.{method}"
            if qual in self.functions:
                return qual
            node = self.classes.get(current)
            if node is not None:
                queue += [b.value.value for b in node.bases if type(b.value) is cst.Name]
        return None

    def _local_instance_class(self, within: FunctionInfo, var: str) -> str | None:
        scope: FunctionInfo | None = within
        while scope is not None:  # a closure sees its parent's locals
            found = self._local_instances.get(scope.qualname, {}).get(var)
            if found is not None:
                return found
            if var in scope.param_names():
                return None
            scope = scope.parent
        return self._module_instances.get(var)

    @cached_property
    def _module_instances(self) -> dict[str, str]:
        """`fetcher = Fetcher(...)` at module level, bound once: name -> Fetcher."""
        out: dict[str, str] = {}
        for name, nodes in self.bindings.items():
            if len(nodes) != 1:
                continue
            value = assigned_value(nodes[0], self)
            if (
                type(value) is cst.Call
                and type(value.func) is cst.Name
                and value.func.value in self.classes
            ):
                out[name] = value.func.value
        return out

    @cached_property
    def _local_instances(self) -> dict[str, dict[str, str]]:
        """Locals holding an instance of a module class, in each function: qualname ->
        {x: SomeClass} (first wins). `x = SomeClass(...)`, `x = self._make_client()` (a
        factory, see `_constructed_class`), `x = self.client` (an attribute set that way),
        `x: SomeClass = ...`, and parameters annotated `x: SomeClass`."""
        out: dict[str, dict[str, str]] = {}
        for qual, info in self.functions.items():
            found: dict[str, str] = {}
            for param in (*info.node.params.params, *info.node.params.kwonly_params):
                if param.annotation is not None:
                    named = self.class_in_annotation(param.annotation.annotation)
                    if named is not None:
                        found.setdefault(param.name.value, named)
            for node in self.walk_of(info.node.body, cst.Assign, cst.AnnAssign):
                if type(node) is cst.AnnAssign and type(node.target) is cst.Name:
                    named = self.class_in_annotation(node.annotation.annotation)
                    if named is not None:
                        found.setdefault(node.target.value, named)
            for target, value in self.assignments_under(info.node.body):
                if type(target) is not cst.Name:
                    continue
                named = self._constructed_class(value, info)
                owner = info
                while owner.parent is not None:
                    owner = owner.parent
                if (
                    named is None
                    and type(value) is cst.Attribute
                    and type(value.value) is cst.Name
                    and value.value.value == "self"
                    and owner.class_name
                ):
                    named = self.attribute_classes.get((owner.class_name, value.attr.value))
                if named is not None:
                    found.setdefault(target.value, named)
            out[qual] = found
        return out

    @cached_property
    def call_sites(self) -> dict[str, list[CallSite]]:
        """For each function, the module functions it calls, offloads or hands on."""
        out: dict[str, list[CallSite]] = {}
        for qual, info in self.functions.items():
            calls = [
                *self.own_of(info.node.body, cst.Call),
                *(c for d in info.node.decorators for c in self.own_of(d, cst.Call)),
            ]
            sites: list[CallSite] = []
            for call in calls:
                sites += self._sites_of(call, info)
            out[qual] = sorted(sites, key=lambda s: self.index.number(s.node))
        return out

    def _sites_of(self, node: cst.Call, info: FunctionInfo) -> list[CallSite]:
        sites = []
        callee = self.resolve_callable(node.func, info)
        if callee is not None:
            sites.append(CallSite(info.qualname, callee, node, "call"))
        for method in self._context_methods(node, info):
            sites.append(CallSite(info.qualname, method, node, "call"))
        if self._is_offloader(node):
            for arg in node.args:
                target = self.resolve_callable(arg.value, info)
                if target is not None:
                    sites.append(CallSite(info.qualname, target, node, "offload"))
        return sites

    def _context_methods(self, node: cst.Call, info: FunctionInfo) -> list[str]:
        """`with Fetcher(...) as f:` runs `Fetcher.__enter__` and `__exit__` (`__aenter__`
        and `__aexit__` under `async with`) when the module defines them."""
        item = self.parent(node)
        statement = self.parent(item) if type(item) is cst.WithItem else None
        if type(statement) is not cst.With or cst.ensure_type(item, cst.WithItem).item is not node:
            return []
        made = self._constructed_class(node, info)
        if made is None:
            return []
        names = ("__aenter__", "__aexit__") if statement.asynchronous else ("__enter__", "__exit__")
        found = [self._method_in_class(made, name) for name in names]
        return [qual for qual in found if qual is not None]

    def _is_offloader(self, node: cst.Call) -> bool:
        if self.imported_name(node.func) & OFFLOADERS:
            return True
        return type(node.func) is cst.Attribute and node.func.attr.value in OFFLOAD_METHODS

    # --- calls made for you ------------------------------------------------------------

    def deferred_call(self, call: cst.Call) -> DeferredCall | None:
        """The call `call` makes for the code, if it is a thread runner or a partial:
        `asyncio.to_thread(f, *a)`, `loop.run_in_executor(ex, f, *a)`, `pool.submit(f, *a)`,
        `threading.Thread(target=f, args=a)`, `functools.partial(f, *a)` (and
        `functools.partial(f, a)(b)`). A partial handed to
        a runner is one deferred call of `f` with both argument lists, at the runner (the
        partial inside it then is none of its own). Cached."""
        table = self.memo_table("deferred_call")
        found = table.get(id(call), _MISSING)  # by `id`, `call` kept (see `_keep`)
        if found is _MISSING:
            found = self._deferred(call)
            if found is not None and found.kind == "partial" and self._absorbed(call):
                found = None
            table[id(call)] = found
            self._keep.append(call)
        result: DeferredCall | None = found
        return result

    def real_call(self, call: cst.Call) -> cst.Call:
        """The call written in the code for a synthetic `DeferredCall.call`, else `call`."""
        found: cst.Call | None = self.memo_table("deferred_site").get(call)
        return call if found is None else found

    def _deferred(self, call: cst.Call) -> DeferredCall | None:
        kind: DeferredKind
        names = self.imported_name(call.func)
        index: int | None = None
        if names & PARTIALS:
            kind, index = "partial", 0
        else:
            kind = "thread"
            for name in sorted(names):
                if name in THREAD_RUNNERS:
                    index = THREAD_RUNNERS[name]
            if index is None and type(call.func) is cst.Attribute:
                index = THREAD_RUNNER_METHODS.get(call.func.attr.value)
        if index is None and "threading.Thread" in names:
            return self._thread_target(call)
        if index is None:
            if type(call.func) is cst.Call:  # `functools.partial(f, a)(b)`
                inner = self._deferred(call.func)
                if inner is not None and inner.kind == "partial":
                    return self._make(call, inner.target, (*inner.args, *call.args), "partial")
            return None
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) <= index or any(a.star for a in positional[: index + 1]):
            return None
        target = positional[index].value
        # The runner's own leading arguments (`run_in_executor`'s executor) are not the target's.
        skipped = positional[: index + 1]
        rest = tuple(a for a in call.args if not any(a is b for b in skipped))
        if type(target) is cst.Call:
            inner = self._deferred(target)
            if inner is not None and inner.kind == "partial":
                return self._make(call, inner.target, (*inner.args, *rest), kind)
        return self._make(call, target, rest, kind)

    def _thread_target(self, call: cst.Call) -> DeferredCall | None:
        """`threading.Thread(target=f, args=(a,), kwargs={"k": b})` calls `f(a, k=b)`."""
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        target = keywords.get("target")
        if target is None:
            return None
        args: list[cst.Arg] = []
        given = keywords.get("args")
        if isinstance(given, (cst.Tuple, cst.List)):
            if any(type(e) is cst.StarredElement for e in given.elements):
                return None
            args += [cst.Arg(value=e.value) for e in given.elements]
        elif given is not None:
            return None
        named = keywords.get("kwargs")
        if type(named) is cst.Dict:
            for element in named.elements:
                key = string_value(element.key) if type(element) is cst.DictElement else None
                if key is None or not key.isidentifier():
                    return None
                args.append(cst.Arg(value=element.value, keyword=cst.Name(key)))
        elif named is not None:
            return None
        return self._make(call, target, tuple(args), "thread")

    def _make(
        self,
        site: cst.Call,
        target: cst.BaseExpression,
        args: tuple[cst.Arg, ...],
        kind: DeferredKind,
    ) -> DeferredCall:
        synthetic = cst.Call(func=target, args=args)
        self.memo_table("deferred_site")[synthetic] = site
        return DeferredCall(site, target, args, kind, synthetic)

    def _absorbed(self, call: cst.Call) -> bool:
        """`call` is a partial handed to a thread runner (or called at once): the runner's
        deferred call covers it."""
        parent = self.parent(call)
        if type(parent) is cst.Call and parent.func is call:
            return True
        grand = self.parent(parent) if type(parent) is cst.Arg else None
        if type(grand) is cst.Call:
            outer = self._deferred(grand)
            own = self._deferred(call)
            return (
                outer is not None
                and own is not None
                and outer.kind == "thread"
                and outer.target is own.target
            )
        return False

    def assignments_under(
        self, body: cst.CSTNode
    ) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression]]:
        """(target, value) of every plain or annotated assignment under `body`, in order."""
        for node in self.walk_of(body, cst.Assign, cst.AnnAssign):
            if type(node) is cst.Assign:
                for target in node.targets:
                    yield target.target, node.value
            elif type(node) is cst.AnnAssign and node.value is not None:
                yield node.target, node.value

    @cached_property
    def callers(self) -> dict[str, list[CallSite]]:
        out: dict[str, list[CallSite]] = {}
        for sites in self.call_sites.values():
            for site in sites:
                out.setdefault(site.callee, []).append(site)
        return out

    @cached_property
    def reachable(self) -> dict[str, Reach]:
        """Functions reachable from `action`, each with the first (shortest) path to it."""
        start = self.action_method
        if start is None:
            return {}
        out: dict[str, Reach] = {start.qualname: Reach(start)}
        queue: deque[str] = deque([start.qualname])
        while queue:
            current = queue.popleft()
            for site in self.call_sites.get(current, []):
                if site.callee not in out and site.callee in self.functions:
                    out[site.callee] = Reach(
                        self.functions[site.callee], (*out[current].path, site)
                    )
                    queue.append(site.callee)
        return out

    def describe_path(self, path: Sequence[CallSite]) -> str:
        """`line 41 reaches it through self._purge` style text for messages."""
        if not path:
            return ""
        first = path[0]
        chain = join_chain([site.callee for site in path])
        return f"line {self.position(first.node).start.line} reaches it through {chain}"


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def join_chain(names: Sequence[str]) -> str:
    """`a → b → c` for a call path; a long one keeps its ends (its middle is counted)."""
    if len(names) > MAX_PATH_SHOWN:
        names = [*names[:3], f"… {len(names) - 5} more …", *names[-2:]]
    return " → ".join(names)


def dotted_name(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    current: cst.CSTNode = node
    while type(current) is cst.Attribute:
        parts.append(current.attr.value)
        current = current.value
    if type(current) is cst.Name:
        parts.append(current.value)
        return ".".join(reversed(parts))
    return None


def assigned_value(binding: cst.CSTNode, model: ActionModule) -> cst.BaseExpression | None:
    """For a binding node (the Name target of an assignment), the value assigned to it."""
    for parent in model.ancestors(binding):
        if type(parent) is cst.Assign:
            return parent.value
        if type(parent) is cst.AnnAssign:
            return parent.value
        if isinstance(parent, cst.BaseStatement):
            return None
    return None


def string_value(node: cst.CSTNode | None) -> str | None:
    """The value of a plain (non-f) string literal or implicit concatenation, else None."""
    kind = type(node)  # not `isinstance`: a failed one against LibCST's ABCs is slow
    if kind is cst.SimpleString:
        # Most literals mean exactly what they hold between their quotes: no compile needed.
        string = cast(cst.SimpleString, node)
        value = string.value
        if value[0] in "'\"":  # no prefix (LibCST's `prefix` and `quote` are slow)
            raw = value[3:-3] if len(value) >= 6 and value[:3] in ('"""', "'''") else value[1:-1]
            if "\\" not in raw and "\r" not in raw:
                return raw
        prefix = string.prefix.lower()
        if "b" not in prefix:
            raw = string.raw_value
            if "\r" not in raw and ("\\" not in raw or "r" in prefix):
                return raw
    if kind is cst.SimpleString or kind is cst.ConcatenatedString:
        return _literal(cast(cst.SimpleString | cst.ConcatenatedString, node))
    return None


@functools.lru_cache(maxsize=8192)
def _literal(node: cst.SimpleString | cst.ConcatenatedString) -> str | None:
    # LibCST evaluates a literal with `ast.literal_eval` (a compile) each time it is asked,
    # and the rules ask about the same few strings many times. Nodes hash by identity.
    value = node.evaluated_value
    return value if isinstance(value, str) else None
