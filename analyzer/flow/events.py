"""Static facts about Open WebUI events and return values, without running anything.

Three questions the confirmation / event / return-value rules ask:

- **Who is the emitter?** `__event_emitter__` / `__event_call__` and their aliases: local
  names (`emit = __event_emitter__`, `emit = __event_emitter__ or noop`), instance attributes
  (`self.emitter = event_emitter` in a helper class), and parameters of module functions that
  receive one at a call site (`await self._status(__event_emitter__, "…")`,
  `EventEmitter(__event_emitter__)`), to a fixed point. `EventFacts.sites` lists every call
  of such an alias: an *event site*.
- **What does a payload hold?** `Evaluator` folds an expression into a small abstract value:
  literals, dicts and lists (also built in steps: `payload["data"] = {...}`,
  `files.append({...})`, `payload.update(...)`), helpers whose single `return` builds the
  value (arguments bound, literal defaults applied), module-level constants. What cannot be
  known becomes `Opaque` (which keeps the expression, for origin and taint questions). A
  dict or list is *complete* only when every key / item is known; rules report a missing key
  only on complete values, so a payload built dynamically keeps them silent.
- **What does `action` return?** `action_returns` lists the `return` statements whose value
  leaves `action`, following `return await self._helper(...)` into the helper.

Mutations are applied in source order between a name's single assignment and the use; a
mutation under a branch or loop still adds what it adds but makes the container incomplete
(it may be absent at run time). A name assigned more than once is `Opaque`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

import libcst as cst

from analyzer.model import ActionModule, CallSite, FunctionInfo, string_value

EventKind = Literal["emitter", "call"]

EMITTER = "__event_emitter__"
CALLER = "__event_call__"
_DIRECT: dict[str, EventKind] = {EMITTER: "emitter", CALLER: "call"}

# Wrappers whose awaited result is the wrapped coroutine's result.
_AWAIT_WRAPPERS = frozenset({"asyncio.wait_for", "asyncio.shield"})

MAX_DEPTH = 6


# --- abstract values ------------------------------------------------------------------------


@dataclass(eq=False)
class Const:
    """A literal: str, int, float, bool or None."""

    value: object
    node: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(eq=False)
class DictV:
    """A dict with string keys; `complete` when no key can be missing from `items`."""

    items: dict[str, Value]
    complete: bool = True
    node: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(eq=False)
class ListV:
    """A list or tuple; `complete` when `items` are all of its items."""

    items: list[Value]
    complete: bool = True
    node: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(eq=False)
class Opaque:
    """A value that cannot be known statically: the expression and its function."""

    node: cst.CSTNode | None = field(repr=False)
    function: FunctionInfo | None = field(default=None, repr=False)
    env: Mapping[str, Value] = field(default_factory=dict, repr=False)


Value = Union[Const, DictV, ListV, Opaque]  # noqa: UP007 (runtime alias, py3.10)


def const_str(value: Value | None) -> str | None:
    """The string a value certainly is, else None."""
    if isinstance(value, Const) and isinstance(value.value, str):
        return value.value
    return None


def describe(value: Value) -> str:
    """A compact rendering for tests and debugging: `{'type': 'files', ...}`, `?` for opaque."""
    out: list[str] = []
    pending: list[Value | str] = [value]  # what is left to write, last first
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Const):
            out.append(repr(item.value))
        elif isinstance(item, (DictV, ListV)):
            dict_ = isinstance(item, DictV)
            parts: list[Value | str] = ["{" if dict_ else "["]
            pairs = item.items.items() if isinstance(item, DictV) else enumerate(item.items)
            for i, (key, inner) in enumerate(pairs):
                parts += [", "] if i else []
                parts += [f"{key!r}: ", inner] if dict_ else [inner]
            parts.append(("" if item.complete else ", ...") + ("}" if dict_ else "]"))
            pending += reversed(parts)
        else:
            out.append("?")
    return "".join(out)


def copy_value(value: Value) -> Value:
    """A deep copy (mutations apply to copies, never to a shared value)."""
    if not isinstance(value, (DictV, ListV)):
        return value
    top = _empty_copy(value)
    pending: list[tuple[Value, Value]] = [(value, top)]
    while pending:
        source, target = pending.pop()
        if isinstance(source, DictV):
            assert isinstance(target, DictV)
            for key, inner in source.items.items():
                copy = target.items[key] = _empty_copy(inner)
                if copy is not inner:
                    pending.append((inner, copy))
        elif isinstance(source, ListV):
            assert isinstance(target, ListV)
            for inner in source.items:
                copy = _empty_copy(inner)
                target.items.append(copy)
                if copy is not inner:
                    pending.append((inner, copy))
    return top


def _empty_copy(value: Value) -> Value:
    """A dict or list like `value` with no items yet (`copy_value` fills it); else `value`."""
    if isinstance(value, DictV):
        return DictV({}, value.complete, value.node)
    if isinstance(value, ListV):
        return ListV([], value.complete, value.node)
    return value


# --- small syntax helpers -------------------------------------------------------------------


def function_body_nodes(model: ActionModule, info: FunctionInfo) -> list[cst.CSTNode]:
    """The body of `info` and the nodes under it that run in it (not in nested defs,
    classes or lambdas), in source order."""
    return model.scope_nodes(info.node.body)


def calls_in(model: ActionModule, node: cst.CSTNode) -> list[cst.Call]:
    """The calls under `node` (not in nested defs / lambdas), in source order; cached."""
    return model.scoped(node, cst.Call, lambdas=False)


def unwrap_await(expr: cst.BaseExpression) -> cst.BaseExpression:
    while type(expr) is cst.Await:
        expr = expr.expression
    return expr


def is_staticmethod(fn: cst.FunctionDef) -> bool:
    return any(
        isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
        for d in fn.decorators
    )


def positional_params(fn: cst.FunctionDef) -> list[cst.Param]:
    return [*fn.params.posonly_params, *fn.params.params]


def bind_arguments(
    call: cst.Call, callee: FunctionInfo, *, bound: bool | None = None
) -> dict[str, cst.BaseExpression] | None:
    """Map `callee`'s parameter names to the argument expressions at `call`.

    `bound`: the first parameter (`self`/`cls`) is filled implicitly. By default that holds
    for methods called through an attribute or a class constructor. None when `*args` /
    `**kwargs` at the call make the mapping unknowable.
    """
    # Hot (the taint engine binds every call it folds): no intermediate lists.
    fn = callee.node
    parameters = fn.params
    params: Sequence[cst.Param] = parameters.params
    if parameters.posonly_params:
        params = [*parameters.posonly_params, *params]
    if bound is None:
        bound = callee.class_name is not None and not (fn.decorators and is_staticmethod(fn))
    count = len(params)
    index = 1 if bound and count else 0
    out: dict[str, cst.BaseExpression] = {}
    for arg in call.args:
        if arg.star:
            return None
        keyword = arg.keyword
        if keyword is None:
            if index < count:
                out[params[index].name.value] = arg.value
            index += 1
        else:
            out[keyword.value] = arg.value
    return out


def param_defaults(fn: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
    out: dict[str, cst.BaseExpression] = {}
    for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params):
        if p.default is not None:
            out[p.name.value] = p.default
    return out


def _start(model: ActionModule, node: cst.CSTNode) -> tuple[int, int]:
    pos = model.position(node).start
    return (pos.line, pos.column)


def _end(model: ActionModule, node: cst.CSTNode) -> tuple[int, int]:
    pos = model.position(node).end
    return (pos.line, pos.column)


def subscript_key(node: cst.Subscript) -> str | int | None:
    """The literal key of `x["k"]` / `x[0]` / `x[-1]`; None for slices and computed keys."""
    if len(node.slice) != 1:
        return None
    element = node.slice[0].slice
    if not isinstance(element, cst.Index):
        return None
    value = element.value
    text = string_value(value)
    if text is not None:
        return text
    if isinstance(value, cst.Integer):
        return int(value.value)
    if (
        isinstance(value, cst.UnaryOperation)
        and isinstance(value.operator, cst.Minus)
        and isinstance(value.expression, cst.Integer)
    ):
        return -int(value.expression.value)
    return None


def access_chain(
    expr: cst.BaseExpression,
) -> tuple[cst.BaseExpression, list[str | int | None]] | None:
    """`x["a"]["b"]` → (x, ["a", "b"]); `.get("k")` counts as `["k"]`; None for other shapes."""
    keys: list[str | int | None] = []
    current = expr
    while True:
        if isinstance(current, cst.Subscript):
            keys.append(subscript_key(current))
            current = current.value
        elif (
            isinstance(current, cst.Call)
            and isinstance(current.func, cst.Attribute)
            and current.func.attr.value == "get"
            and current.args
            and string_value(current.args[0].value) is not None
        ):
            keys.append(string_value(current.args[0].value))
            current = current.func.value
        else:
            break
    keys.reverse()
    return current, keys


# --- per-function bindings ------------------------------------------------------------------


@dataclass
class Binding:
    """One binding of a local name: `assign`/`ann` carry the assigned value."""

    kind: Literal["assign", "ann", "aug", "for", "with", "walrus", "other"]
    node: cst.CSTNode  # the statement (or expression) that binds
    value: cst.BaseExpression | None = None
    target: cst.BaseExpression | None = None


def _target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The names an assignment target binds (`a`, `a, (b, *c)`), left to right."""
    pending = [target]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Name):
            yield current
        elif isinstance(current, (cst.Tuple, cst.List)):
            pending += [element.value for element in reversed(current.elements)]
        elif isinstance(current, cst.StarredElement):
            pending.append(current.value)


# The statements and expressions `local_bindings` reads.
_BINDING_NODES: tuple[type[cst.CSTNode], ...] = (
    cst.Assign,
    cst.AnnAssign,
    cst.AugAssign,
    cst.For,
    cst.WithItem,
    cst.NamedExpr,
    cst.ExceptHandler,
    cst.Import,
    cst.ImportFrom,
    cst.Global,
    cst.Nonlocal,
    cst.Del,
)


def local_bindings(model: ActionModule, info: FunctionInfo) -> dict[str, list[Binding]]:
    """Every binding of each local name of `info` (cached on the model)."""
    cache: dict[cst.FunctionDef, dict[str, list[Binding]]] = model.memo_table("events_bindings")
    found = cache.get(info.node)
    if found is not None:
        return found
    out: dict[str, list[Binding]] = {}

    def add(name: str, binding: Binding) -> None:
        out.setdefault(name, []).append(binding)

    # Only the kinds the module has: each kind asked for costs a lookup per function.
    kinds: tuple[type[cst.CSTNode], ...] = model.memo(
        ("events", "binding kinds"),
        lambda: tuple(k for k in _BINDING_NODES if model.index.has(k)),
    )
    for node in model.own_nodes_of(info.node.body, *kinds, lambdas=False) if kinds else ():
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    add(t.target.value, Binding("assign", node, node.value, t.target))
                else:
                    for name in _target_names(t.target):
                        add(name.value, Binding("other", node, None, t.target))
        elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
            kind: Literal["ann", "other"] = "ann" if node.value is not None else "other"
            add(node.target.value, Binding(kind, node, node.value, node.target))
        elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            add(node.target.value, Binding("aug", node, node.value, node.target))
        elif isinstance(node, (cst.For,)):
            for name in _target_names(node.target):
                add(name.value, Binding("for", node, node.iter, node.target))
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            for name in _target_names(node.asname.name):
                add(name.value, Binding("with", node, node.item, node.asname.name))
        elif isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
            add(node.target.value, Binding("walrus", node, node.value, node.target))
        elif isinstance(node, cst.ExceptHandler) and node.name is not None:
            if isinstance(node.name.name, cst.Name):
                add(node.name.name.value, Binding("other", node))
        elif isinstance(node, (cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)):
            for child in model.walk(node):
                if isinstance(child, cst.Name):
                    add(child.value, Binding("other", node))
        elif isinstance(node, cst.Del):
            for name in _target_names(node.target):
                add(name.value, Binding("other", node))
    # Nested defs and classes bind their name too.
    index = model.index
    nested: list[cst.FunctionDef | cst.ClassDef] = [
        *index.under(info.node.body, cst.FunctionDef),
        *index.under(info.node.body, cst.ClassDef),
    ]
    for node in sorted(nested, key=index.number):
        if node is not info.node:
            parent = model.enclosing_function(node)
            if parent is not None and parent.node is info.node:
                add(node.name.value, Binding("other", node))
    cache[info.node] = out
    return out


def single_assignment(model: ActionModule, info: FunctionInfo, name: str) -> Binding | None:
    """The only binding of `name` in `info` when it is a plain assignment, else None."""
    bindings = local_bindings(model, info).get(name, [])
    plain = [b for b in bindings if b.kind != "aug"]
    if len(plain) == 1 and plain[0].kind in ("assign", "ann", "walrus"):
        return plain[0]
    return None


def _may_alias(expr: cst.BaseExpression) -> bool:
    """`expr` has a shape `EventFacts.alias_kind` can find an alias in: a name or `self.x`
    (also as the left operand of `or`)."""
    while type(expr) is cst.BooleanOperation and type(expr.operator) is cst.Or:
        expr = expr.left
    if type(expr) is cst.Name:
        return True
    return (
        type(expr) is cst.Attribute and type(expr.value) is cst.Name and expr.value.value == "self"
    )


# --- aliases of the emitter and the caller ----------------------------------------------------


@dataclass(frozen=True)
class EventSite:
    """A call of the emitter or the caller (or an alias of either)."""

    call: cst.Call
    kind: EventKind
    function: FunctionInfo

    @property
    def payload(self) -> cst.BaseExpression | None:
        for arg in self.call.args:
            if arg.keyword is None and not arg.star:
                return arg.value
        return None


class EventFacts:
    """Aliases of `__event_emitter__` / `__event_call__` and every call of one."""

    def __init__(self, model: ActionModule) -> None:
        self.model = model
        self.params: dict[str, dict[str, EventKind]] = {}
        self.attrs: dict[tuple[str, str], EventKind] = {}
        self.locals: dict[str, dict[str, EventKind]] = {}
        self._self_assigns: dict[str, list[cst.Assign]] = {}
        # Per function, the aliases its names may be (None until the fixed point is done).
        self._visible: dict[str, tuple[FunctionInfo, dict[str, EventKind]]] | None = None
        self._owners: dict[str, str | None] = {}
        # `gates.never_none_feasible` per CFG edge (the dataflows ask on every visit).
        self.feasible: dict[object, tuple[FunctionInfo, bool]] = {}
        self._solve()
        self._visible = {}
        self.sites: list[EventSite] = self._collect_sites()
        # By id: CSTNode hashes in Python; the sites keep their calls alive.
        self._by_call: dict[int, EventSite] = {id(site.call): site for site in self.sites}

    # The fixed point: parameters and attributes that receive an alias.
    def _solve(self) -> None:
        model = self.model
        for qual, info in model.functions.items():
            for name in info.param_names():
                if name in _DIRECT:
                    self.params.setdefault(qual, {})[name] = _DIRECT[name]
        # What each round asks about, found once: only a name or `self.x` can be an alias,
        # so a local with any other value, or an argument of another shape, never becomes one.
        functions: list[tuple[str, FunctionInfo, list[tuple[str, list[cst.BaseExpression]]]]] = []
        for qual, info in model.functions.items():
            names: list[tuple[str, list[cst.BaseExpression]]] = []
            for name, bindings in local_bindings(model, info).items():
                values: list[cst.BaseExpression] = []
                for b in bindings:
                    value = b.value
                    if b.kind == "assign" and type(value) is cst.Name and value.value == "None":
                        continue  # `x = None` then `x = __event_emitter__`: still the alias
                    if value is None or not _may_alias(value):
                        break  # this binding's kind is None: never a single alias kind
                    values.append(value)
                else:
                    if values:
                        names.append((name, values))
            functions.append((qual, info, names))
        passed: list[tuple[str, FunctionInfo, list[tuple[str, cst.BaseExpression]]]] = []
        for qual, sites in model.call_sites.items():
            caller = model.functions[qual]
            for site in sites:
                if site.kind != "call" or not isinstance(site.node, cst.Call):
                    continue
                callee = model.functions.get(site.callee)
                if callee is None:
                    continue
                binding = bind_arguments(site.node, callee)
                if binding is None:
                    continue
                args = [(p, a) for p, a in binding.items() if _may_alias(a)]
                if args:
                    passed.append((site.callee, caller, args))
        changed = True
        rounds = 0
        while changed and rounds < 20:
            changed = False
            rounds += 1
            for qual, info, names in functions:
                for name, values in names:
                    if name in self.locals.get(qual, {}):
                        continue
                    kinds = {self.alias_kind(value, info) for value in values}
                    if len(kinds) == 1 and None not in kinds:
                        kind = next(iter(kinds))
                        assert kind is not None
                        self.locals.setdefault(qual, {})[name] = kind
                        changed = True
                owner = self._owner_class(info)
                if owner is None:
                    continue
                for node in self._self_assignments(info):
                    kind2 = self.alias_kind(node.value, info)
                    if kind2 is None:
                        continue
                    for t in node.targets:
                        target = t.target
                        if (
                            isinstance(target, cst.Attribute)
                            and isinstance(target.value, cst.Name)
                            and target.value.value == "self"
                            and (owner, target.attr.value) not in self.attrs
                        ):
                            self.attrs[(owner, target.attr.value)] = kind2
                            changed = True
            for callee_name, caller, args in passed:
                for pname, arg in args:
                    kind3 = self.alias_kind(arg, caller)
                    if kind3 is not None and pname not in self.params.get(callee_name, {}):
                        self.params.setdefault(callee_name, {})[pname] = kind3
                        changed = True

    def _self_assignments(self, info: FunctionInfo) -> list[cst.Assign]:
        """`self.x = ...` statements of `info` (computed once: the fixed point asks often)."""
        found = self._self_assigns.get(info.qualname)
        if found is None:
            found = [
                node
                for node in self.model.own_of(info.node.body, cst.Assign, lambdas=False)
                if any(
                    isinstance(t.target, cst.Attribute)
                    and isinstance(t.target.value, cst.Name)
                    and t.target.value.value == "self"
                    for t in node.targets
                )
            ]
            self._self_assigns[info.qualname] = found
        return found

    def _owner_class(self, info: FunctionInfo) -> str | None:
        if info.qualname in self._owners:
            return self._owners[info.qualname]
        owner: FunctionInfo | None = info
        while owner is not None and owner.parent is not None:
            owner = owner.parent
        found = self._owners[info.qualname] = owner.class_name if owner is not None else None
        return found

    def alias_kind(self, expr: cst.BaseExpression | None, info: FunctionInfo) -> EventKind | None:
        """`emitter` / `call` when `expr` (in `info`) certainly is one of the two callables."""
        # Hot (every call the taint engine folds asks): exact-type tests, since a failed
        # isinstance against LibCST's ABCs runs Python code, and after the fixed point one
        # merged dict of the aliases visible in each function.
        if expr is None:
            return None
        while type(expr) is cst.BooleanOperation and type(expr.operator) is cst.Or:
            # `__event_emitter__ or noop`: the injected callable is never None.
            expr = expr.left
        if type(expr) is cst.Name:
            name = expr.value
            if self._visible is not None:
                visible = self._visible.get(info.qualname)
                if visible is None or visible[0] is not info:
                    visible = self._visible[info.qualname] = (info, self._visible_aliases(info))
                return visible[1].get(name)
            scope: FunctionInfo | None = info
            while scope is not None:
                kind = self.params.get(scope.qualname, {}).get(name)
                if kind is None:
                    kind = self.locals.get(scope.qualname, {}).get(name)
                if kind is not None:
                    return kind
                scope = scope.parent
            return None
        if type(expr) is cst.Attribute:
            value = expr.value
            if type(value) is cst.Name and value.value == "self":
                owner = self._owner_class(info)
                if owner is not None:
                    return self.attrs.get((owner, expr.attr.value))
        return None

    def _visible_aliases(self, info: FunctionInfo) -> dict[str, EventKind]:
        """The aliases a name in `info` may be: its own parameters, then locals, then the
        enclosing functions' (outermost first, so inner ones win)."""
        chain: list[FunctionInfo] = []
        scope: FunctionInfo | None = info
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        out: dict[str, EventKind] = {}
        for scope in reversed(chain):
            out.update(self.locals.get(scope.qualname, {}))
            out.update(self.params.get(scope.qualname, {}))
        return out

    def is_never_none(self, expr: cst.BaseExpression, info: FunctionInfo) -> bool:
        return self.alias_kind(expr, info) is not None

    def _collect_sites(self) -> list[EventSite]:
        out: list[EventSite] = []
        for info in self.model.functions.values():
            for node in self.model.own_of(info.node.body, cst.Call, lambdas=False):
                kind = self.alias_kind(node.func, info)
                if kind is not None:
                    out.append(EventSite(node, kind, info))
        out.sort(key=lambda s: _start(self.model, s.call))
        return out

    def site_of(self, call: cst.CSTNode) -> EventSite | None:
        return self._by_call.get(id(call))

    def sites_in(self, info: FunctionInfo) -> list[EventSite]:
        return [s for s in self.sites if s.function is info]

    def answer_expr(self, site: EventSite) -> cst.BaseExpression | None:
        """The expression whose value is the site's answer: the `await` (through
        `asyncio.wait_for` / `shield`), or None when the call is not awaited."""
        model = self.model
        parent = model.parent(site.call)
        if isinstance(parent, cst.Await):
            return parent
        if isinstance(parent, cst.Arg):
            outer = model.parent(parent)
            if isinstance(outer, cst.Call) and model.resolve_name(outer.func) & _AWAIT_WRAPPERS:
                above = model.parent(outer)
                if isinstance(above, cst.Await):
                    return above
        return None


def site_value(model: ActionModule, site: EventSite) -> Value | None:
    """The folded payload of `site` (None without one), computed once per file: the gate
    analysis and several rules all read it."""
    if site.payload is None:
        return None
    cache = model.memo_table("event_site_values")
    key = (site.call, site.function.qualname)
    if key not in cache:
        cache[key] = Evaluator(model, site.function).value(site.payload, site.call)
    value: Value = cache[key]
    return value


def event_facts(model: ActionModule) -> EventFacts:
    """The model's `EventFacts`, computed once."""
    return model.memo(EventFacts, lambda: EventFacts(model))


# --- the evaluator ----------------------------------------------------------------------------


class Evaluator:
    """Folds expressions of one function into `Value`s.

    `env` binds parameter names to values from a call site (helper calls with literal
    arguments); parameters without a binding are `Opaque`.
    """

    def __init__(
        self,
        model: ActionModule,
        function: FunctionInfo | None,
        env: Mapping[str, Value] | None = None,
        depth: int = 0,
    ) -> None:
        self.model = model
        self.function = function
        self.env: Mapping[str, Value] = env or {}
        self.depth = depth

    def opaque(self, node: cst.CSTNode | None) -> Opaque:
        return Opaque(node, self.function, self.env)

    def value(self, expr: cst.BaseExpression, at: cst.CSTNode | None = None) -> Value:
        """The value of `expr` when the statement at `at` (default: `expr`) runs."""
        if self.depth > MAX_DEPTH:
            return self.opaque(expr)
        return self._value(expr, at if at is not None else expr)

    def _value(self, expr: cst.BaseExpression, at: cst.CSTNode) -> Value:
        # `x["a"]["b"]`, `await x` and `a or b or c` nest one level per link: follow the
        # chain to its innermost operand with a loop, then apply the links outwards.
        links: list[cst.Subscript | cst.BooleanOperation] = []
        while True:
            if type(expr) is cst.Await:
                expr = expr.expression
            elif type(expr) is cst.Subscript:
                links.append(expr)
                expr = expr.value
            elif type(expr) is cst.BooleanOperation and type(expr.operator) is cst.Or:
                links.append(expr)
                expr = expr.left
            else:
                break
        value = self._operand(expr, at)
        for link in reversed(links):
            value = (
                self._subscript(link, value)
                if isinstance(link, cst.Subscript)
                else self._or(link, value, at)
            )
        return value

    def _subscript(self, expr: cst.Subscript, base: Value) -> Value:
        key = subscript_key(expr)
        if isinstance(base, DictV) and isinstance(key, str) and key in base.items:
            return copy_value(base.items[key])
        if (
            isinstance(base, ListV)
            and base.complete
            and isinstance(key, int)
            and -len(base.items) <= key < len(base.items)
        ):
            return copy_value(base.items[key])
        return self.opaque(expr)

    def _or(self, expr: cst.BooleanOperation, left: Value, at: cst.CSTNode) -> Value:
        # `data or {}`: decided when the left side's truth is known.
        truth: bool | None = None
        if isinstance(left, Const):
            truth = bool(left.value)
        elif isinstance(left, (DictV, ListV)) and (left.items or left.complete):
            truth = bool(left.items)
        if truth is not None:
            return left if truth else self._value(expr.right, at)
        return self.opaque(expr)

    def _operand(self, expr: cst.BaseExpression, at: cst.CSTNode) -> Value:
        """`_value` of anything but an await, a subscript or an `or`."""
        # Exact-type tests: a failed isinstance against LibCST's ABCs runs Python code.
        kind = type(expr)
        if kind is cst.SimpleString or kind is cst.ConcatenatedString:
            text = string_value(expr)
            if text is not None:
                return Const(text, expr)
            return self.opaque(expr)
        if type(expr) is cst.Integer or type(expr) is cst.Float:
            return Const(expr.evaluated_value, expr)
        if type(expr) is cst.Name:
            if expr.value in ("True", "False", "None"):
                return Const({"True": True, "False": False, "None": None}[expr.value], expr)
            return self._name(expr, at)
        if type(expr) is cst.Dict:
            return self._dict(expr, at)
        if type(expr) is cst.List or type(expr) is cst.Tuple:
            items: list[Value] = []
            complete = True
            for element in expr.elements:
                if type(element) is cst.StarredElement:
                    inner = self._value(element.value, at)
                    if isinstance(inner, ListV):
                        items += inner.items
                        complete = complete and inner.complete
                    else:
                        complete = False
                else:
                    items.append(self._value(element.value, at))
            return ListV(items, complete, expr)
        if type(expr) is cst.ListComp:
            # Zero or more items of the element's shape.
            return ListV([self._value(expr.elt, at)], False, expr)
        if type(expr) is cst.Call:
            return self._call(expr, at)
        return self.opaque(expr)

    def _dict(self, expr: cst.Dict, at: cst.CSTNode) -> DictV:
        out = DictV({}, True, expr)
        for element in expr.elements:
            if isinstance(element, cst.StarredDictElement):
                inner = self._value(element.value, at)
                if isinstance(inner, DictV):
                    out.items.update(inner.items)
                    out.complete = out.complete and inner.complete
                else:
                    out.complete = False
                continue
            assert isinstance(element, cst.DictElement)
            key = string_value(element.key)
            if key is None:
                out.complete = False
                continue
            out.items[key] = self._value(element.value, at)
        return out

    def _name(self, expr: cst.Name, at: cst.CSTNode) -> Value:
        name = expr.value
        if name in self.env:
            return copy_value(self.env[name])
        info = self.function
        if info is None:
            return self._module_constant(expr)
        bindings = local_bindings(self.model, info).get(name)
        if not bindings:
            if name in info.param_names():
                return self.opaque(expr)
            parent = info.parent
            if parent is not None:
                return Evaluator(self.model, parent, {}, self.depth + 1).value(expr, at)
            return self._module_constant(expr)
        binding = single_assignment(self.model, info, name)
        if binding is None or binding.value is None:
            return self.opaque(expr)
        if _start(self.model, binding.node) >= _start(self.model, at):
            return self.opaque(expr)
        inner = Evaluator(self.model, info, self.env, self.depth + 1)
        value = copy_value(inner.value(binding.value, binding.node))
        if isinstance(value, (DictV, ListV)):
            self._apply_mutations(name, value, binding.node, at)
        return value

    def _module_constant(self, expr: cst.Name) -> Value:
        nodes = self.model.bindings.get(expr.value, [])
        if len(nodes) != 1:
            return self.opaque(expr)
        for parent in self.model.ancestors(nodes[0]):
            if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
                if parent.targets[0].target is nodes[0]:
                    return Evaluator(self.model, None, {}, self.depth + 1).value(parent.value)
                break
            if isinstance(parent, cst.BaseStatement):
                break
        return self.opaque(expr)

    def _call(self, expr: cst.Call, at: cst.CSTNode) -> Value:
        model = self.model
        if (
            isinstance(expr.func, cst.Name)
            and expr.func.value == "dict"
            and not any(a.keyword is None for a in expr.args)
        ):
            return DictV(
                {a.keyword.value: self._value(a.value, at) for a in expr.args if a.keyword},
                True,
                expr,
            )
        if self.function is None:
            return self.opaque(expr)
        callee_name = model.resolve_callable(expr.func, self.function)
        callee = model.functions.get(callee_name) if callee_name else None
        if callee is None or callee.node.name.value == "__init__":
            return self.opaque(expr)
        returns = model.own_of(callee.node.body, cst.Return, lambdas=False)
        if len(returns) != 1 or returns[0].value is None:
            return self.opaque(expr)
        env = self.bind_env(expr, callee, at)
        if env is None:
            return self.opaque(expr)
        helper = Evaluator(model, callee, env, self.depth + 1)
        return helper.value(returns[0].value, returns[0])

    def bind_env(
        self, call: cst.Call, callee: FunctionInfo, at: cst.CSTNode | None = None
    ) -> dict[str, Value] | None:
        """Values of `callee`'s parameters at `call` (literal defaults for the rest)."""
        binding = bind_arguments(call, callee)
        if binding is None:
            return None
        env: dict[str, Value] = {}
        defaults = param_defaults(callee.node)
        module_eval = Evaluator(self.model, None, {}, self.depth + 1)
        for pname, default in defaults.items():
            if pname not in binding:
                env[pname] = module_eval.value(default)
        for pname, arg in binding.items():
            env[pname] = self.value(arg, at if at is not None else call)
        return env

    # Mutations of a dict / list held in `name`, between its assignment and `at`.
    def _apply_mutations(
        self, name: str, root: DictV | ListV, assigned: cst.CSTNode, at: cst.CSTNode
    ) -> None:
        model = self.model
        info = self.function
        assert info is not None
        lo = _end(model, assigned)
        hi = _start(model, at)
        for node in model.own_nodes_of(
            info.node.body, cst.Assign, cst.AugAssign, cst.Call, lambdas=False
        ):
            pos = _start(model, node)
            if not (lo <= pos < hi):
                continue
            conditional = self._is_conditional(node, assigned)
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    chain = access_chain(t.target) if isinstance(t.target, cst.Subscript) else None
                    if chain and isinstance(chain[0], cst.Name) and chain[0].value == name:
                        new = self.value(node.value, node)
                        _set_path(root, chain[1], new, conditional)
            elif isinstance(node, cst.AugAssign):
                chain = access_chain(node.target)
                if chain and isinstance(chain[0], cst.Name) and chain[0].value == name:
                    target = _get_path(root, chain[1])
                    added = self.value(node.value, node)
                    if isinstance(target, ListV) and isinstance(added, ListV):
                        target.items += added.items
                        target.complete = target.complete and added.complete and not conditional
                    elif target is not None:
                        _mark_incomplete(target)
            elif isinstance(node, cst.Call):
                self._call_mutation(name, root, node, conditional)

    def _call_mutation(
        self, name: str, root: DictV | ListV, call: cst.Call, conditional: bool
    ) -> None:
        func = call.func
        if isinstance(func, cst.Attribute):
            chain = access_chain(func.value)
            if chain and isinstance(chain[0], cst.Name) and chain[0].value == name:
                target = _get_path(root, chain[1])
                method = func.attr.value
                args = [a for a in call.args if a.keyword is None and not a.star]
                if target is None:
                    return
                if method in ("get", "keys", "items", "values", "copy", "count", "index"):
                    return
                if isinstance(target, ListV) and method == "append" and len(args) == 1:
                    target.items.append(self.value(args[0].value, call))
                    target.complete = target.complete and not conditional
                    return
                if isinstance(target, ListV) and method == "extend" and len(args) == 1:
                    added = self.value(args[0].value, call)
                    if isinstance(added, ListV):
                        target.items += added.items
                        target.complete = target.complete and added.complete and not conditional
                    else:
                        target.complete = False
                    return
                if isinstance(target, DictV) and method == "update":
                    if len(args) == 1 and not call.args[0].keyword:
                        added = self.value(args[0].value, call)
                        if isinstance(added, DictV):
                            for key, val in added.items.items():
                                target.items[key] = val
                            target.complete = target.complete and added.complete and not conditional
                            return
                    elif not args:
                        for a in call.args:
                            if a.keyword is not None:
                                target.items[a.keyword.value] = self.value(a.value, call)
                        target.complete = target.complete and not conditional
                        return
                if isinstance(target, DictV) and method == "setdefault" and len(args) == 2:
                    default_key = string_value(args[0].value)
                    if default_key is not None:
                        target.items.setdefault(default_key, self.value(args[1].value, call))
                        return
                _mark_incomplete(target)
                return
        # Handed to a function that may change it: we no longer know it.
        for arg in call.args:
            if (
                isinstance(arg.value, cst.Name)
                and arg.value.value == name
                and self.function is not None
                and self.model.resolve_callable(func, self.function)
            ):
                _mark_incomplete(root)

    def _is_conditional(self, node: cst.CSTNode, assigned: cst.CSTNode) -> bool:
        """True when `node` sits under a branch or loop that does not also hold `assigned`."""
        assigned_ancestors = set(self.model.ancestors(assigned))
        for parent in self.model.ancestors(node):
            if parent in assigned_ancestors:
                return False
            if isinstance(
                parent,
                (cst.If, cst.For, cst.While, cst.Try, cst.ExceptHandler, cst.Match, cst.IfExp),
            ):
                return True
            if isinstance(parent, cst.FunctionDef):
                return False
        return False


def _get_path(root: Value, keys: list[str | int | None]) -> Value | None:
    current: Value = root
    for key in keys:
        if isinstance(current, DictV) and isinstance(key, str) and key in current.items:
            current = current.items[key]
            continue
        if (
            isinstance(current, ListV)
            and isinstance(key, int)
            and -len(current.items) <= key < len(current.items)
        ):
            current = current.items[key]
        else:
            return None
    return current


def _set_path(root: Value, keys: list[str | int | None], new: Value, conditional: bool) -> None:
    if not keys:
        return
    parent = _get_path(root, keys[:-1])
    key = keys[-1]
    if isinstance(parent, DictV):
        if isinstance(key, str):
            parent.items[key] = new
            if conditional:
                parent.complete = False
        else:
            parent.complete = False
    elif isinstance(parent, ListV):
        if isinstance(key, int) and -len(parent.items) <= key < len(parent.items):
            parent.items[key] = new
        else:
            parent.complete = False
    else:
        _mark_incomplete(root)


def _mark_incomplete(value: Value) -> None:
    if isinstance(value, (DictV, ListV)):
        value.complete = False


# --- what `action` returns ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnSite:
    """A `return` whose value leaves `action` (directly, or through `return helper()`)."""

    node: cst.Return
    function: FunctionInfo
    env: Mapping[str, Value]
    path: tuple[CallSite, ...]

    def evaluator(self, model: ActionModule) -> Evaluator:
        return Evaluator(model, self.function, self.env)


def action_returns(model: ActionModule) -> list[ReturnSite]:
    """Every `return` with a value whose result `action` returns."""
    action = model.action_method
    if action is None:
        return []
    out: list[ReturnSite] = []
    _returns_through(model, action, {}, (), 0, out, set())
    out.sort(key=lambda r: _start(model, r.node))
    return out


def _returns_through(
    model: ActionModule,
    info: FunctionInfo,
    env: Mapping[str, Value],
    path: tuple[CallSite, ...],
    depth: int,
    out: list[ReturnSite],
    seen: set[str],
) -> None:
    """`action_returns` from `info` on (a module-level function: a recursive closure would
    be a reference cycle keeping the file's tree for the cyclic collector)."""
    if info.qualname in seen or depth > MAX_DEPTH:
        return
    seen.add(info.qualname)
    evaluator = Evaluator(model, info, env)
    for node in model.own_of(info.node.body, cst.Return, lambdas=False):
        if node.value is None:
            continue
        inner = unwrap_await(node.value)
        if isinstance(inner, cst.Call):
            callee_name = model.resolve_callable(inner.func, info)
            callee = model.functions.get(callee_name) if callee_name else None
            if callee is not None and callee.node.name.value != "__init__":
                new_env = evaluator.bind_env(inner, callee, node) or {}
                site = CallSite(info.qualname, callee.qualname, inner, "call")
                _returns_through(model, callee, new_env, (*path, site), depth + 1, out, seen)
                continue
        out.append(ReturnSite(node, info, env, path))
    seen.discard(info.qualname)


def reach_suffix(model: ActionModule, info: FunctionInfo, path: tuple[CallSite, ...] = ()) -> str:
    """` (line N reaches it through X)` for messages about code outside `action`."""
    if not path:
        reach = model.reachable.get(info.qualname)
        if reach is None or not reach.path:
            return ""
        path = reach.path
    return f" ({model.describe_path(path)})"
