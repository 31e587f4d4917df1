"""Risky operations and confirmation gates, as facts on the control-flow graph.

**Risky operations** (rules.md OWA4) are a catalog in `rules/data/risky.tsv`: Open WebUI
data-layer deletes and updates, process execution, `shutil.rmtree` (not of a `tempfile`
path), sending mail, HTTP `DELETE`, and writes to Open WebUI's admin API.

**Confirmation gates.** A forward dataflow (`GateAnalysis`) runs over each function's CFG.
Its state says, per path:
- `confirmed` (a *must* fact: true only when every path passed a strict test of a
  confirmation answer: `r is True`, `r == True`, the false edge of `r is not True`, or a
  helper whose result is such a test, or a helper that only returns normally when confirmed);
- `names`: which local names hold a raw confirmation answer, a strict boolean derived from
  one (`ok = r is True`, or `r` after `isinstance(r, bool)`), or a raw `input` answer;
- `pending`: confirmation asks whose answer has not been tested yet (OWA403);
- `unchecked`: `input` answers not yet checked for `False` / `""` / an error dict (OWA404),
  each with the bad values it may still hold on the path (a check narrows them on the edge
  where it passes only: a failing branch that falls through handles nothing).

Tests are read from the CFG's atomic conditions (`not` handled, `and`/`or` already split).
The false branch of `if __event_emitter__:` (and of other never-None injected names and
their aliases) is infeasible. A truthiness test of a raw answer (`if not r: return`) does
not confirm: on timeout or disconnect `__event_call__` returns a truthy `{"error": ...}`.

A risky operation in a helper is gated when every call path from `action` reaches it
through a confirmed call site (or it is confirmed locally).

**Status paths** (OWA407): a forward dataflow per function says which `status` may still be
showing; helpers are summarised per argument values. It follows the "correlated conditions"
convention (`cfg.Correlations`): a path that took one outcome of a repeated side-effect-free
`if` test takes the same outcome at its next test, unless the names it reads were assigned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Literal, cast

import libcst as cst

from analyzer.flow.cfg import (
    CFG,
    Edge,
    Fact,
    Node,
    cfg_for,
    correlations_for,
    limit_fact_sets,
)
from analyzer.flow.dataflow import ForwardAnalysis, Solver, Tasks
from analyzer.flow.events import (
    Const,
    DictV,
    Evaluator,
    EventFacts,
    EventSite,
    Value,
    bind_arguments,
    calls_in,
    const_str,
    describe,
    event_facts,
    local_bindings,
    site_value,
    unwrap_await,
)
from analyzer.flow.guards import authorization_facts
from analyzer.flow.privileged import admin_api_path, table_rows
from analyzer.model import (
    NEVER_NONE_PARAMS,
    ActionModule,
    CallSite,
    FunctionInfo,
    string_value,
)

if TYPE_CHECKING:
    from analyzer.config import Settings

# --- the catalog -----------------------------------------------------------------------------

Category = Literal["delete", "update", "process", "rmtree", "mail", "http-delete", "admin-api"]

_OLD_PREFIXES = ("open_webui.apps.webui.models.", "apps.webui.models.")

CATEGORY_TEXT: dict[str, str] = {
    "delete": "deletes Open WebUI data",
    "update": "changes Open WebUI data",
    "process": "runs a process on the server",
    "rmtree": "deletes a directory tree",
    "mail": "sends mail",
    "http-delete": "sends an HTTP DELETE",
    "admin-api": "writes through Open WebUI's admin API",
}


@dataclass(frozen=True)
class RiskyEntry:
    name: str
    category: Category
    when: str


@cache
def risky_catalog() -> dict[str, RiskyEntry]:
    entries: dict[str, RiskyEntry] = {}
    for row in table_rows("risky.tsv"):
        category = row["category"]
        if category not in CATEGORY_TEXT:
            raise ValueError(f"risky.tsv: unknown category {category!r}")
        entries[row["name"]] = RiskyEntry(row["name"], category, row["when"])  # type: ignore[arg-type]
    return entries


@cache
def _catalog_methods() -> frozenset[str]:
    """The last components of the catalog's names (`delete_chat_by_id`, `rmtree`, ...)."""
    return frozenset(name.rsplit(".", 1)[-1] for name in risky_catalog())


def _normalize(name: str) -> str:
    for prefix in _OLD_PREFIXES:
        if name.startswith(prefix):
            return "open_webui.models." + name[len(prefix) :]
    return name


@dataclass(frozen=True)
class RiskyOp:
    """A call to a risky operation."""

    call: cst.Call
    function: FunctionInfo
    entry: RiskyEntry

    @property
    def short(self) -> str:
        parts = self.entry.name.split(".")
        return ".".join(parts[-2:]) if len(parts) > 2 else self.entry.name


def literal_text(model: ActionModule, expr: cst.BaseExpression, info: FunctionInfo) -> str:
    """The literal parts of a string expression (f-string text, `+` of literals, a name
    assigned once), concatenated; unknown parts become `{}`."""
    return _literal_text(model, expr, info, 0)


def _literal_text(
    model: ActionModule, expr: cst.BaseExpression, info: FunctionInfo, depth: int
) -> str:
    if depth > 4:
        return "{}"
    text = string_value(expr)
    if text is not None:
        return text
    if isinstance(expr, cst.FormattedString):
        out = ""
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                out += part.value
            else:
                out += "{}"
        return out
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        return _literal_text(model, expr.left, info, depth + 1) + _literal_text(
            model, expr.right, info, depth + 1
        )
    if isinstance(expr, cst.Name):
        bindings = local_bindings(model, info).get(expr.value, [])
        if len(bindings) == 1 and bindings[0].value is not None and bindings[0].kind == "assign":
            return _literal_text(model, bindings[0].value, info, depth + 1)
    return "{}"


def _admin_path(text: str) -> str | None:
    """The admin API route a URL calls: the same matching as OWA301 (by path segments,
    endpoints any user may call about themselves excluded)."""
    return admin_api_path(text)


def _receiver_classes(
    model: ActionModule, expr: cst.BaseExpression, info: FunctionInfo
) -> set[str]:
    """Qualified names of what created the receiver `expr` (`smtplib.SMTP`, ...)."""
    expr = unwrap_await(expr)
    if isinstance(expr, cst.Call):
        return set(model.resolve_name(expr.func))
    if isinstance(expr, cst.Name):
        bindings = local_bindings(model, info).get(expr.value, [])
        out: set[str] = set()
        for binding in bindings:
            if binding.kind in ("assign", "ann", "with") and binding.value is not None:
                value = unwrap_await(binding.value)
                if isinstance(value, cst.Call):
                    out |= model.resolve_name(value.func)
        return out
    return set()


def _positional(call: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[index].value if index < len(positional) else None


def _is_temp_path(model: ActionModule, expr: cst.BaseExpression, info: FunctionInfo) -> bool:
    def has_tempfile(node: cst.CSTNode) -> bool:
        return any(
            isinstance(n, cst.Call)
            and any(x.startswith("tempfile.") for x in model.resolve_name(n.func))
            for n in model.walk(node)
        )

    if has_tempfile(expr):
        return True
    for node in model.walk(expr):
        if isinstance(node, cst.Name):
            for binding in local_bindings(model, info).get(node.value, []):
                if binding.value is not None and has_tempfile(binding.value):
                    return True
    return False


def match_risky(model: ActionModule, call: cst.Call, info: FunctionInfo) -> RiskyOp | None:
    """The risky operation `call` performs, if any."""
    catalog = risky_catalog()
    names = {_normalize(n) for n in model.resolve_name(call.func)}
    if isinstance(call.func, cst.Attribute):
        method = call.func.attr.value
        if method in _catalog_methods():  # else no `Class.method` name can be in it
            names |= {f"{c}.{method}" for c in _receiver_classes(model, call.func.value, info)}
    for name in sorted(names):
        entry = catalog.get(name)
        if entry is None:
            continue
        if entry.when == "not-temp-arg":
            target = _positional(call, 0, "path")
            if target is not None and _is_temp_path(model, target, info):
                continue
        elif entry.when == "method-delete":
            method_arg = _positional(call, 0, "method")
            if method_arg is None or (string_value(method_arg) or "").upper() != "DELETE":
                continue
        elif entry.when == "admin-url":
            url = _positional(call, 0, "url")
            if url is None or _admin_path(literal_text(model, url, info)) is None:
                continue
        return RiskyOp(call, info, entry)
    return None


# --- confirmation answers --------------------------------------------------------------------

# raw-confirm: the answer as `__event_call__` returned it; strict: a boolean that is True only
# on Confirm; truthy / not-dict: a raw answer known truthy / known not an error dict (both
# together confirm); rejected: known not True; raw-input: an `input` answer.
AnswerKind = Literal["raw-confirm", "strict", "raw-input", "rejected", "truthy", "not-dict"]
NameFact = tuple[str, AnswerKind, cst.Call | None]

# The bad values an `input` answer may still hold: False (Cancel), "" (an empty submit), an
# `{"error": ...}` dict (timeout, disconnect).
Mode = Literal["cancel", "empty", "error"]
ALL_MODES: frozenset[Mode] = frozenset({"cancel", "empty", "error"})
# (local name, the ask it holds the answer of, the bad values it may still hold)
Unchecked = tuple[str, cst.Call, frozenset[Mode]]


@dataclass(frozen=True)
class GateState:
    confirmed: bool = False
    names: frozenset[NameFact] = frozenset()
    pending: frozenset[cst.Call] = frozenset()
    unchecked: frozenset[Unchecked] = frozenset()

    def kind_of(self, name: str) -> tuple[AnswerKind, cst.Call | None] | None:
        kinds = [(k, ask) for n, k, ask in self.names if n == name]
        if not kinds:
            return None
        # A name that may hold a raw answer on some path is raw (the weaker fact wins).
        for wanted in ("raw-confirm", "raw-input", "strict"):
            for k, ask in kinds:
                if k == wanted:
                    return k, ask
        return kinds[0]


def _with_name(
    state: GateState, name: str, fact: tuple[AnswerKind, cst.Call | None] | None
) -> GateState:
    names = frozenset(f for f in state.names if f[0] != name)
    unchecked = frozenset(u for u in state.unchecked if u[0] != name)
    if fact is not None:
        names |= {(name, fact[0], fact[1])}
    return replace(state, names=names, unchecked=unchecked)


@dataclass(frozen=True)
class Atom:
    """What one atomic test condition says about answers."""

    subject: cst.BaseExpression | None  # the tested expression
    test: Literal[
        "truthy",
        "is-true",
        "is-false",
        "is-none",
        "isinstance-bool",
        "isinstance-dict",
        "isinstance-str",
        "eq-text",
        "eq-empty",
        "other",
    ]
    negated: bool  # the atom holds on the false edge (`not x`, `x is not True`, `x != True`)


_EQUALITY_OPS = (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)
_NEGATIVE_OPS = (cst.IsNot, cst.NotEqual)
_CONSTANT_NAMES = ("True", "False", "None")


def parse_atom(expr: cst.BaseExpression) -> Atom:
    # Exact-type tests throughout: a failed isinstance against LibCST's ABCs runs Python code.
    negated = False
    while type(expr) is cst.UnaryOperation and type(expr.operator) is cst.Not:
        negated = not negated
        expr = expr.expression
    if type(expr) is cst.Comparison and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        op = type(target.operator)
        left, right = expr.left, target.comparator
        subject, const = left, right
        if _const_name(left) is not None and _const_name(right) is None:
            subject, const = right, left
        value = _const_name(const)
        if value is not None and op in _EQUALITY_OPS:
            flip = op in _NEGATIVE_OPS
            test: Literal["is-true", "is-false", "is-none"] = (
                "is-true" if value == "True" else "is-false" if value == "False" else "is-none"
            )
            return Atom(subject, test, negated != flip)
        # `answer == "yes"` / `answer != ""`: equality with a string literal.
        subject, text = left, right
        if type(left) is cst.SimpleString and type(right) is not cst.SimpleString:
            subject, text = right, left
        if type(text) is cst.SimpleString and (op is cst.Equal or op is cst.NotEqual):
            flip = op is cst.NotEqual
            equal: Literal["eq-text", "eq-empty"] = (
                "eq-empty" if text.value.lstrip("rRbBuU") in ('""', "''") else "eq-text"
            )
            return Atom(subject, equal, negated != flip)
        return Atom(left, "other", negated)
    if type(expr) is cst.Call and type(expr.func) is cst.Name:
        func = expr.func.value
        if func == "isinstance" and len(expr.args) == 2:
            kind = expr.args[1].value
            kind_name = kind.value if type(kind) is cst.Name else None
            test2: Literal["isinstance-bool", "isinstance-dict", "isinstance-str", "other"] = (
                "isinstance-bool"
                if kind_name == "bool"
                else "isinstance-dict"
                if kind_name in ("dict", "Mapping")
                else "isinstance-str"
                if kind_name == "str"
                else "other"
            )
            return Atom(expr.args[0].value, test2, negated)
        if func == "bool" and expr.args:
            return Atom(expr.args[0].value, "truthy", negated)
    return Atom(expr, "truthy", negated)


def tested_name(expr: cst.BaseExpression | None) -> str | None:
    """The local a test reads: `r`, or the target of `(r := ...)`."""
    if type(expr) is cst.NamedExpr:
        expr = expr.target
    return expr.value if type(expr) is cst.Name else None


def _const_name(expr: cst.BaseExpression) -> str | None:
    if type(expr) is cst.Name and expr.value in _CONSTANT_NAMES:
        return expr.value
    return None


def narrow_modes(atom: Atom, holds: bool, modes: frozenset[Mode]) -> frozenset[Mode] | None:
    """The bad values an `input` answer may still hold after `atom` (about that answer)
    gave `holds`; None when the test is no check at all (`is None`: Cancel is `False`)."""
    test = atom.test
    if test == "truthy":
        # Truthy: not False, not "" (an error dict is truthy). Falsy: never the dict.
        return modes - {"cancel", "empty"} if holds else modes - {"error"}
    if test == "is-false":
        return modes & {"cancel"} if holds else modes - {"cancel"}
    if test == "is-true":
        return frozenset() if holds else modes
    if test == "is-none":
        return None
    if test == "isinstance-bool":
        return frozenset() if holds else modes - {"cancel"}
    if test == "isinstance-dict":
        return frozenset() if holds else modes - {"error"}
    if test == "isinstance-str":
        return frozenset() if holds else modes - {"empty"}
    if test == "eq-empty":
        return modes & {"empty"} if holds else modes - {"empty"}
    if test == "eq-text":
        return frozenset() if holds else modes
    # `isinstance(answer, str)` (or another type the code then handles), a comparison with
    # a value, a membership test: the code knows what it holds.
    return frozenset() if holds or atom.subject is not None else modes


def narrow_unchecked(
    unchecked: frozenset[Unchecked], atom: Atom, holds: bool, mentioned: set[str]
) -> frozenset[Unchecked]:
    """`unchecked` on the edge where `atom` gave `holds`. The answer the atom tests is
    narrowed on that edge only; one it merely mentions (`len(name) < 3`, `name.strip()`) is
    taken as checked, as a test of unknown meaning."""
    if not unchecked:
        return unchecked
    subject = tested_name(atom.subject)
    out: set[Unchecked] = set()
    for name, ask, modes in unchecked:
        if name == subject:
            narrowed = narrow_modes(atom, holds, modes)
            if narrowed is None:
                out.add((name, ask, modes))
            elif narrowed:
                out.add((name, ask, narrowed))
        elif name not in mentioned or atom.test == "is-none":
            out.add((name, ask, modes))
    return frozenset(out)


def _names_read(model: ActionModule, node: cst.CSTNode) -> Iterator[cst.Name]:
    if node in model.index:
        yield from model.index.under(node, cst.Name)
        return
    for child in model.walk(node):
        if isinstance(child, cst.Name):
            yield child


# Per function: each call under it (nested code included) with its event site, or else the
# module function it resolves to (None: neither).
_CallTable = list[tuple[str, list[tuple[EventSite | None, FunctionInfo | None]]]]


def _call_table(model: ActionModule, events: EventFacts) -> _CallTable:
    """What `_functions_without` reads, walked once for both of its uses."""

    def build() -> _CallTable:
        table: _CallTable = []
        for qual, info in model.functions.items():
            calls: list[tuple[EventSite | None, FunctionInfo | None]] = []
            for call in model.walk_of(info.node, cst.Call):
                assert isinstance(call, cst.Call)
                site = events.site_of(call)
                if site is not None:
                    calls.append((site, None))
                    continue
                name = model.resolve_callable(call.func, info)
                calls.append((None, model.functions.get(name) if name else None))
            table.append((qual, calls))
        return table

    return model.memo(("gates", "call_table"), build)


def _functions_without(
    model: ActionModule,
    events: EventFacts,
    counts: Callable[[EventSite], bool],
    init: bool,
) -> frozenset[str]:
    """The module functions with no event site that `counts` under them (nested code
    included: every call an analysis of theirs could see, and more) nor under a module
    function they call (`init`: a class's `__init__` counts as called)."""
    active: set[str] = set()
    callers: dict[str, set[str]] = {}
    for qual, calls in _call_table(model, events):
        for site, called in calls:
            if site is not None:
                if counts(site):
                    active.add(qual)
                continue
            if called is None or (not init and called.node.name.value == "__init__"):
                continue
            if called.qualname != qual:
                callers.setdefault(called.qualname, set()).add(qual)
    pending = list(active)
    while pending:
        for caller in callers.get(pending.pop(), ()):
            if caller not in active:
                active.add(caller)
                pending.append(caller)
    return frozenset(model.functions) - active


class GateFacts:
    """Confirmation facts for every function of one module (use `gate_facts(model)`)."""

    def __init__(self, model: ActionModule) -> None:
        self.model = model
        self.events: EventFacts = event_facts(model)
        self._ask_kinds: dict[cst.Call, str | None] = {}
        self._solved: dict[str, tuple[CFG, dict[Node, GateState]] | None] = {}
        self._return_kinds: dict[str, tuple[AnswerKind, cst.Call | None] | None] = {}
        self._confirms: dict[str, bool] = {}
        self._risky: dict[str, list[RiskyOp]] = {}
        self._risky_reach: dict[str, bool] = {}
        self._callees_at: dict[Node, tuple[FunctionInfo, list[FunctionInfo]]] = {}
        self._free: frozenset[str] | None = None
        self._tests: dict[Edge, tuple[Atom, set[str], set[cst.Call]]] = {}
        self.walruses = model.index.has(cst.NamedExpr)
        # Solutions, return kinds and confirmations wait for each other here, not on the
        # Python stack; what is on it is "in progress" (a recursive call).
        self._tasks = Tasks()

    # --- asks -------------------------------------------------------------------------------

    def ask_kind(self, site: EventSite) -> str | None:
        """The `type` of an `__event_call__` payload (`confirmation`, `input`, ...)."""
        if site.call not in self._ask_kinds:
            kind = None
            if site.kind == "call":
                value = site_value(self.model, site)
                if isinstance(value, DictV):
                    kind = const_str(value.items.get("type"))
            self._ask_kinds[site.call] = kind
        return self._ask_kinds[site.call]

    def _site(self, expr: cst.BaseExpression) -> EventSite | None:
        """The `__event_call__` site whose answer `expr` is (`await call(...)`, also through
        `asyncio.wait_for`)."""
        if type(expr) is not cst.Await:
            return None
        inner = expr.expression
        if type(inner) is cst.Call:
            site = self.events.site_of(inner)
            if site is not None and site.kind == "call":
                return site
            if inner.args and type(inner.args[0].value) is cst.Call:
                wrapped = self.events.site_of(inner.args[0].value)
                if (
                    wrapped is not None
                    and wrapped.kind == "call"
                    and self.events.answer_expr(wrapped) is expr
                ):
                    return wrapped
        return None

    def answer_kind(
        self, expr: cst.BaseExpression, state: GateState, info: FunctionInfo
    ) -> tuple[AnswerKind, cst.Call | None] | None:
        """What answer `expr` holds: a raw confirmation, a strict boolean, a raw input."""
        if type(expr) is cst.NamedExpr:
            # `(ok := await __event_call__(...)) is not True`: the value tested is the answer.
            return self.answer_kind(expr.value, state, info)
        site = self._site(expr)
        if site is not None:
            kind = self.ask_kind(site)
            if kind == "confirmation":
                return "raw-confirm", site.call
            if kind == "input":
                return "raw-input", site.call
            return None
        if type(expr) is cst.Name:
            return state.kind_of(expr.value)
        if type(expr) is cst.Comparison:
            atom = parse_atom(expr)
            if atom.test == "is-true" and atom.subject is not None:
                inner = self.answer_kind(atom.subject, state, info)
                if inner is not None and inner[0] != "raw-input":
                    return "strict", inner[1]
            return None
        if type(expr) is cst.UnaryOperation and type(expr.operator) is cst.Not:
            return None
        call = unwrap_await(expr)
        if type(call) is cst.Call:
            if type(call.func) is cst.Name and call.func.value == "bool" and call.args:
                inner = self.answer_kind(call.args[0].value, state, info)
                return inner if inner is not None and inner[0] == "raw-confirm" else None
            callee = self._callee(call, info)
            if callee is not None:
                return self.return_kind(callee)
        return None

    def _callees(self, node: Node, info: FunctionInfo) -> list[FunctionInfo]:
        """The module helpers a node's statement calls (other than `info` itself), in
        order; found once per node (a suspended node is visited again)."""
        found = self._callees_at.get(node)
        if found is None or found[0] is not info:
            assert node.stmt is not None
            callees = [
                callee
                for call in calls_in(self.model, node.stmt)
                if (callee := self._callee(call, info)) is not None and callee is not info
            ]
            found = self._callees_at[node] = (info, callees)
        return found[1]

    def _analysis(self, info: FunctionInfo) -> GateAnalysis:
        """The dataflow for `info`: the full one, or where no answer can appear the one
        that only follows `confirmed` (same states, less work)."""
        if info.qualname in self._answer_free():
            return _AnswerFreeAnalysis(self, info)
        return GateAnalysis(self, info)

    def _answer_free(self) -> frozenset[str]:
        """Functions in which `answer_kind` is always None: no `__event_call__` site under
        them (nested code included) nor under a module function they call. Their states
        hold no names, asks or inputs, only `confirmed` (from helpers that confirm)."""
        if self._free is None:
            self._free = _functions_without(
                self.model, self.events, lambda site: site.kind == "call", init=False
            )
        return self._free

    def _callee(self, call: cst.Call, info: FunctionInfo) -> FunctionInfo | None:
        name = self.model.resolve_callable(call.func, info)
        callee = self.model.functions.get(name) if name else None
        if callee is None or callee.node.name.value == "__init__":
            return None
        return callee

    # --- per-function solutions -------------------------------------------------------------

    def solved(self, info: FunctionInfo) -> tuple[CFG, dict[Node, GateState]] | None:
        """The function's CFG and IN states; None while it is being solved (recursion)."""
        if info.qualname in self._solved:
            return self._solved[info.qualname]
        if self._tasks.find(("solve", info.qualname)) is not None:
            return None
        self._tasks.run(_SolveTask(self, info))
        return self._solved[info.qualname]

    def state_at(self, node: cst.CSTNode, info: FunctionInfo) -> GateState | None:
        solved = self.solved(info)
        if solved is None:
            return None
        cfg, states = solved
        cfg_node = cfg.node_of(node, self.model)
        return states.get(cfg_node) if cfg_node is not None else None

    def return_kind(self, info: FunctionInfo) -> tuple[AnswerKind, cst.Call | None] | None:
        """What a helper returns: a strict boolean, a raw confirmation or a raw input."""
        if info.qualname in self._return_kinds:
            return self._return_kinds[info.qualname]
        if self._tasks.find(("returns", info.qualname)) is not None:
            return None  # recursion: no answer flows back through the cycle
        if self.solved(info) is None:
            return None
        self._tasks.run(_ReturnKindTask(self, info))
        return self._return_kinds[info.qualname]

    def _compute_return_kind(
        self, info: FunctionInfo, states: dict[Node, GateState]
    ) -> tuple[AnswerKind, cst.Call | None] | None:
        kinds: list[tuple[AnswerKind, cst.Call | None]] = []
        for node, state in states.items():
            stmt = node.stmt
            if isinstance(stmt, cst.Return) and stmt.value is not None:
                found = self.answer_kind(stmt.value, state, info)
                if found is not None:
                    kinds.append(found)
        result: tuple[AnswerKind, cst.Call | None] | None = None
        for wanted in ("raw-confirm", "raw-input", "strict"):
            match = [k for k in kinds if k[0] == wanted]
            if match:
                result = match[0]
                break
        self._return_kinds[info.qualname] = result
        return result

    def confirms_on_return(self, info: FunctionInfo) -> bool:
        """True when the helper returns normally only on confirmed paths (cached; asked
        again while it is being computed, as by helpers that return each other's result in
        a cycle, it is False)."""
        known = self._confirms.get(info.qualname)
        if known is not None:
            return known
        if info.qualname in self._answer_free():
            # Never: `confirmed` there only comes from a helper that confirms, and its
            # helpers are answer-free too (recursion ends in a cycle's False).
            self._confirms[info.qualname] = False
            return False
        if self._tasks.find(("confirms", info.qualname)) is not None:
            return False
        self._tasks.run(_ConfirmsTask(self, info))
        return self._confirms[info.qualname]

    def _confirms_on_return(self, info: FunctionInfo) -> bool:
        solved = self.solved(info)
        if solved is None:
            return False
        cfg, states = solved
        analysis = self._analysis(info)
        exits = [e for e in cfg.exit.preds if e.src in states]
        if not exits:
            return False
        for edge in exits:
            out = analysis.transfer(edge.src, states[edge.src])
            refined = analysis.refine(edge, out)
            if refined is not None and not refined.confirmed:
                return False
        return True

    # --- risky operations -------------------------------------------------------------------

    def risky_in(self, info: FunctionInfo) -> list[RiskyOp]:
        found = self._risky.get(info.qualname)
        if found is None:
            found = self._risky[info.qualname] = []
            for node in self.model.own_of(info.node.body, cst.Call, lambdas=False):
                op = match_risky(self.model, node, info) or self._deferred_risky(node, info)
                if op is not None:
                    found.append(op)
        return list(found)

    def _deferred_risky(self, call: cst.Call, info: FunctionInfo) -> RiskyOp | None:
        """A risky call made for the code (`asyncio.to_thread(Chats.delete_chat_by_id, cid)`,
        `loop.run_in_executor(None, lambda: shutil.rmtree(path))`), reported at the runner."""
        deferred = self.model.deferred_call(call)
        if deferred is None:
            return None
        target = deferred.target
        if isinstance(target, cst.Lambda):
            for inner in self.model.scoped(target.body, cst.Call):
                op = match_risky(self.model, inner, info)
                if op is not None:
                    return RiskyOp(call, info, op.entry)
            return None
        op = match_risky(self.model, deferred.call, info)
        return None if op is None else RiskyOp(call, info, op.entry)

    def reaches_risky(self, qualname: str) -> bool:
        """The function (or a module function it calls) performs a risky operation."""
        if qualname in self._risky_reach:
            return self._risky_reach[qualname]
        found = False
        seen = {qualname}
        queue = [qualname]
        while queue and not found:
            current = queue.pop()
            known = self._risky_reach.get(current)
            if known is not None:
                found = known
                continue
            info = self.model.functions.get(current)
            if info is None:
                continue
            found = bool(self.risky_in(info))
            for site in self.model.call_sites.get(current, []):
                if site.callee not in seen:
                    seen.add(site.callee)
                    queue.append(site.callee)
        self._risky_reach[qualname] = found
        return found

    def ungated_path(self, info: FunctionInfo) -> tuple[CallSite, ...] | None:
        """A call path from `action` to `info` on which no confirmation holds at the call
        sites (`()` for `action` itself); None when every path is confirmed.

        A depth-first search up the callers, first path in caller order. It never enters
        a function twice: one it left found no way to `action` that avoids the functions
        on the current path, so it would find none later either.
        """
        model = self.model
        if info is model.action_method:
            return ()
        if info.qualname not in model.reachable:
            return None
        visited = {info.qualname}
        frames = [iter(model.callers.get(info.qualname, []))]
        path: list[CallSite] = []  # path[i]: from the function of frames[i + 1] into frames[i]
        while frames:
            for site in frames[-1]:
                caller = model.functions.get(site.caller)
                if caller is None or site.caller not in model.reachable:
                    continue
                state = self.state_at(site.node, caller)
                if state is None or state.confirmed:
                    continue
                if caller is model.action_method:
                    return (site, *reversed(path))
                if site.caller in visited:
                    continue
                visited.add(site.caller)
                frames.append(iter(model.callers.get(site.caller, [])))
                path.append(site)
                break
            else:
                frames.pop()
                if path:
                    path.pop()
        return None

    def answer_functions(self) -> list[FunctionInfo]:
        """Functions where an `__event_call__` answer can appear: those that ask, and their
        callers (a helper may return the answer). Only these can hold OWA402-404 facts."""
        found = {s.function.qualname for s in self.events.sites if s.kind == "call"}
        queue = list(found)
        while queue:
            current = queue.pop()
            for site in self.model.callers.get(current, []):
                if site.caller not in found:
                    found.add(site.caller)
                    queue.append(site.caller)
        return [info for qual, info in self.model.functions.items() if qual in found]

    def confirmation_sites(self) -> list[EventSite]:
        return [s for s in self.events.sites if self.ask_kind(s) == "confirmation"]

    def input_sites(self) -> list[EventSite]:
        return [s for s in self.events.sites if self.ask_kind(s) == "input"]

    def never_none(self, expr: cst.BaseExpression, info: FunctionInfo) -> bool:
        if self.events.alias_kind(expr, info) is not None:
            return True
        if isinstance(expr, cst.Name) and info is self.model.action_method:
            return expr.value in NEVER_NONE_PARAMS and expr.value in info.param_names()
        return False


class _SolveTask:
    """`GateFacts.solved`: one function's dataflow."""

    def __init__(self, facts: GateFacts, info: FunctionInfo) -> None:
        self.facts = facts
        self.info = info
        self.tag = ("solve", info.qualname)
        self.cfg = cfg_for(facts.model, info)
        self.solver = Solver(self.cfg, facts._analysis(info))

    def step(self) -> None:
        self.facts._solved[self.info.qualname] = (self.cfg, self.solver.run())


class _ReturnKindTask:
    """`GateFacts.return_kind` of a solved function."""

    def __init__(self, facts: GateFacts, info: FunctionInfo) -> None:
        self.facts = facts
        self.info = info
        self.tag = ("returns", info.qualname)

    def step(self) -> None:
        solved = self.facts.solved(self.info)
        assert solved is not None  # solved before this task was started
        self.facts._compute_return_kind(self.info, solved[1])


class _ConfirmsTask:
    """`GateFacts.confirms_on_return`."""

    def __init__(self, facts: GateFacts, info: FunctionInfo) -> None:
        self.facts = facts
        self.info = info
        self.key = ("confirms", info.qualname)

    def step(self) -> None:
        self.facts._confirms[self.info.qualname] = self.facts._confirms_on_return(self.info)


def never_none_feasible(
    edge: Edge, facts: EventFacts, info: FunctionInfo, model: ActionModule
) -> bool:
    """False for the branch that assumes an injected callable or object is None."""
    if edge.kind not in ("true", "false") or edge.condition is None:
        return True
    known = facts.feasible.get(edge)
    if known is None or known[0] is not info:
        known = facts.feasible[edge] = (info, _never_none_feasible(edge, facts, info, model))
    return known[1]


def _never_none_feasible(
    edge: Edge, facts: EventFacts, info: FunctionInfo, model: ActionModule
) -> bool:
    assert edge.condition is not None
    atom = parse_atom(edge.condition)
    if atom.subject is None or atom.test not in ("truthy", "is-none"):
        return True
    subject = atom.subject
    never = facts.alias_kind(subject, info) is not None or (
        isinstance(subject, cst.Name)
        and subject.value in NEVER_NONE_PARAMS
        and subject.value in (model.action_method.param_names() if model.action_method else [])
        and info is model.action_method
    )
    if not never:
        return True
    holds = (edge.kind == "true") != atom.negated
    if atom.test == "truthy":
        return holds  # falsy never happens
    return not holds  # `is None` never holds


class GateAnalysis(ForwardAnalysis[GateState]):
    def __init__(self, facts: GateFacts, info: FunctionInfo) -> None:
        self.facts = facts
        self.info = info

    def initial(self) -> GateState:
        return GateState()

    def join(self, a: GateState, b: GateState) -> GateState:
        return GateState(
            a.confirmed and b.confirmed,
            a.names | b.names,
            a.pending | b.pending,
            a.unchecked | b.unchecked,
        )

    def transfer(self, node: Node, state: GateState) -> GateState:
        stmt = node.stmt
        if stmt is None:
            return state
        facts = self.facts
        info = self.info
        if node.kind == "for" and isinstance(node.owner, cst.For):
            for name in _names_read(facts.model, node.owner.target):
                state = _with_name(state, name.value, None)
            return state
        if node.kind == "with" and isinstance(stmt, cst.WithItem):
            if stmt.asname is not None:
                for name in _names_read(facts.model, stmt.asname.name):
                    state = _with_name(state, name.value, None)
            return state
        if state.unchecked and _in_handled_try(node):
            state = replace(
                state, unchecked=_after_guarded_reads(facts.model, stmt, state.unchecked)
            )
        # Helpers that return normally only when confirmed.
        for callee in facts._callees(node, info):
            if facts.confirms_on_return(callee):
                state = replace(state, confirmed=True)
        if facts.walruses:  # most modules have none: no need to look through the statement
            for child in facts.model.walk(stmt):
                if type(child) is cst.NamedExpr and type(child.target) is cst.Name:
                    state = self._bind(state, child.target.value, child.value)
        if type(stmt) is cst.Assign:
            for target in stmt.targets:
                if type(target.target) is cst.Name:
                    state = self._bind(state, target.target.value, stmt.value)
                else:
                    for name in _names_read(facts.model, target.target):
                        if type(target.target) is cst.Tuple or type(target.target) is cst.List:
                            state = _with_name(state, name.value, None)
        elif type(stmt) is cst.AnnAssign and type(stmt.target) is cst.Name:
            if stmt.value is not None:
                state = self._bind(state, stmt.target.value, stmt.value)
        elif type(stmt) is cst.AugAssign and type(stmt.target) is cst.Name:
            state = _with_name(state, stmt.target.value, None)
        return state

    def _bind(self, state: GateState, name: str, value: cst.BaseExpression) -> GateState:
        facts = self.facts
        fact = facts.answer_kind(value, state, self.info)
        source = value if isinstance(value, cst.Name) else None
        copied = [u for u in state.unchecked if source is not None and u[0] == source.value]
        state = _with_name(state, name, fact)
        if fact is None:
            return state
        kind, ask = fact
        site = facts._site(value)
        if kind == "raw-confirm" and site is not None:
            state = replace(state, pending=state.pending | {site.call})
        if kind == "raw-input" and ask is not None:
            if source is not None:
                state = replace(
                    state, unchecked=state.unchecked | {(name, a, m) for _, a, m in copied}
                )
            else:
                state = replace(state, unchecked=state.unchecked | {(name, ask, ALL_MODES)})
        return state

    def refine(self, edge: Edge, state: GateState) -> GateState | None:
        facts = self.facts
        if not never_none_feasible(edge, facts.events, self.info, facts.model):
            return None
        if edge.kind not in ("true", "false") or edge.condition is None:
            return state
        atom, mentioned, inline = self._test(edge, edge.condition)
        holds = (edge.kind == "true") != atom.negated
        tested_asks = {ask for n, k, ask in state.names if n in mentioned and k == "raw-confirm"}
        pending = state.pending - tested_asks - inline
        state = GateState(
            state.confirmed,
            state.names,
            pending,
            narrow_unchecked(state.unchecked, atom, holds, mentioned),
        )
        if atom.subject is None:
            return state
        found = facts.answer_kind(atom.subject, state, self.info)
        if found is None:
            return state
        kind, ask = found
        if atom.test == "is-true" and kind in ("raw-confirm", "strict") and holds:
            return replace(state, confirmed=True)
        name = tested_name(atom.subject)
        if atom.test == "is-true" and kind == "raw-confirm" and not holds and name is not None:
            # Known not to be True: telling Cancel from an error dict next is fine.
            return _with_name(state, name, ("rejected", ask))
        if atom.test == "truthy" and kind == "strict" and holds:
            return replace(state, confirmed=True)
        # `if not r or isinstance(r, dict): return` (either order) leaves only a confirm.
        if atom.test == "truthy" and holds and name is not None:
            if kind == "not-dict":
                return replace(_with_name(state, name, ("strict", ask)), confirmed=True)
            if kind == "raw-confirm":
                return _with_name(state, name, ("truthy", ask))
        if atom.test == "isinstance-dict" and not holds and name is not None:
            if kind == "truthy":
                return replace(_with_name(state, name, ("strict", ask)), confirmed=True)
            if kind == "raw-confirm":
                return _with_name(state, name, ("not-dict", ask))
        if atom.test == "isinstance-bool" and kind == "raw-confirm" and holds and name is not None:
            return _with_name(state, name, ("strict", ask))
        return state

    def _test(
        self, edge: Edge, condition: cst.BaseExpression
    ) -> tuple[Atom, set[str], set[cst.Call]]:
        """The edge's atom, the names its test mentions and the asks it awaits (once per
        edge). Every answer the test mentions counts as tested (OWA403) / checked
        (OWA404), except an input compared only with None (cancel returns False)."""
        tests = self.facts._tests
        found = tests.get(edge)
        if found is None:
            mentioned = {n.value for n in _names_read(self.facts.model, condition)}
            found = tests[edge] = (parse_atom(condition), mentioned, self._inline_asks(condition))
        return found

    def _inline_asks(self, condition: cst.BaseExpression) -> set[cst.Call]:
        out: set[cst.Call] = set()
        for child in self.facts.model.walk_of(condition, cst.Await):
            site = self.facts._site(cast(cst.Await, child))
            if site is not None:
                out.add(site.call)
        return out


class _AnswerFreeAnalysis(GateAnalysis):
    """`GateAnalysis` of an answer-free function (`GateFacts._answer_free`): its states
    hold no names, asks or inputs, and never `confirmed` (its helpers are answer-free and
    do not confirm, see `confirms_on_return`), so only which nodes are reachable is left."""

    def transfer(self, node: Node, state: GateState) -> GateState:
        return state

    def refine(self, edge: Edge, state: GateState) -> GateState | None:
        facts = self.facts
        if not never_none_feasible(edge, facts.events, self.info, facts.model):
            return None
        return state


def gate_facts(model: ActionModule) -> GateFacts:
    """The model's `GateFacts`, computed once."""
    return model.memo(GateFacts, lambda: GateFacts(model))


# --- what the rules ask --------------------------------------------------------------------


@dataclass(frozen=True)
class WeakTest:
    """A confirmation answer tested in a way a timeout passes (OWA402)."""

    node: cst.BaseExpression
    function: FunctionInfo
    how: Literal["truthy", "is-false"]


def weak_tests(model: ActionModule) -> list[WeakTest]:
    facts = gate_facts(model)
    out: list[WeakTest] = []
    for info in facts.answer_functions():
        solved = facts.solved(info)
        if solved is None:
            continue
        cfg, states = solved
        for node in cfg.nodes:
            if node.kind != "test" or node not in states:
                continue
            assert isinstance(node.stmt, cst.BaseExpression)
            atom = parse_atom(node.stmt)
            if atom.subject is None or atom.test not in ("truthy", "is-false"):
                continue
            found = facts.answer_kind(atom.subject, states[node], info)
            if found is not None and found[0] == "raw-confirm":
                if _completed_in_same_test(model, node, atom.subject):
                    continue
                how: Literal["truthy", "is-false"] = (
                    "truthy" if atom.test == "truthy" else "is-false"
                )
                out.append(WeakTest(node.stmt, info, how))
    return out


def is_confirmation_answer(model: ActionModule, expr: cst.BaseExpression) -> bool:
    """`expr` is itself the awaited answer of a confirmation (`await __event_call__({...})`,
    also through `asyncio.wait_for`): the raw value, never passed through `bool()`."""
    facts = gate_facts(model)
    site = facts._site(expr)
    return site is not None and facts.ask_kind(site) == "confirmation"


def _completed_in_same_test(model: ActionModule, node: Node, subject: cst.BaseExpression) -> bool:
    """The same `if` / `while` condition also tests the answer strictly (`r is True`,
    `isinstance(r, bool)`, `isinstance(r, dict)`): `if not r or isinstance(r, dict): return`
    handles the error dict, so its truthiness part is not a bug on its own."""
    owner = node.owner
    test = owner.test if isinstance(owner, (cst.If, cst.While)) else None
    name = tested_name(subject)
    if test is None or name is None:
        return False
    for child in model.walk(test):
        if child is node.stmt or not isinstance(child, cst.BaseExpression):
            continue
        atom = parse_atom(child) if isinstance(child, (cst.Comparison, cst.Call)) else None
        if atom is None or tested_name(atom.subject) != name:
            continue
        if atom.test in ("is-true", "isinstance-bool", "isinstance-dict"):
            return True
    return False


@dataclass(frozen=True)
class UngatedOp:
    op: RiskyOp
    path: tuple[CallSite, ...]


def ungated_ops(model: ActionModule) -> list[UngatedOp]:
    """Risky operations reachable from `action` on some path with no confirmation gate."""
    facts = gate_facts(model)
    out: list[UngatedOp] = []
    for qual in model.reachable:
        info = model.functions[qual]
        for op in facts.risky_in(info):
            state = facts.state_at(op.call, info)
            if state is None or state.confirmed:
                continue  # unreachable, or confirmed on every path here
            path = facts.ungated_path(info)
            if path is not None:
                out.append(UngatedOp(op, path))
    return out


@dataclass(frozen=True)
class IgnoredAsk:
    site: EventSite
    reason: Literal["discarded", "never-read", "before-op"]
    op_node: cst.CSTNode | None = None


def ignored_confirmations(model: ActionModule) -> list[IgnoredAsk]:
    """Confirmations whose answer is discarded, never read, or untested at a risky op."""
    facts = gate_facts(model)
    out: dict[cst.Call, IgnoredAsk] = {}
    for site in facts.confirmation_sites():
        answer = facts.events.answer_expr(site)
        if answer is None:
            continue  # not awaited: OWA113's
        parent = model.parent(answer)
        if isinstance(parent, cst.Expr):
            out[site.call] = IgnoredAsk(site, "discarded")
            continue
        target = _assigned_name(model, answer)
        if target is not None and not _read_elsewhere(model, site.function, target, answer):
            out[site.call] = IgnoredAsk(site, "never-read")
    for info in facts.answer_functions():
        solved = facts.solved(info)
        if solved is None:
            continue
        cfg, states = solved
        for node in cfg.nodes:
            state = states.get(node)
            if state is None or not state.pending or node.stmt is None:
                continue
            op_node = _risky_in_node(facts, node.stmt, info)
            if op_node is None:
                continue
            for ask in state.pending:
                pending_site = facts.events.site_of(ask)
                if pending_site is not None and ask not in out:
                    out[ask] = IgnoredAsk(pending_site, "before-op", op_node)
    return sorted(out.values(), key=lambda a: model.position(a.site.call).start.line)


def _risky_in_node(facts: GateFacts, stmt: cst.CSTNode, info: FunctionInfo) -> cst.CSTNode | None:
    for child in facts.model.walk(stmt):
        if isinstance(child, cst.Call):
            if match_risky(facts.model, child, info) is not None:
                return child
            callee = facts._callee(child, info)
            if callee is not None and callee is not info and facts.reaches_risky(callee.qualname):
                return child
    return None


def _assigned_name(model: ActionModule, answer: cst.CSTNode) -> str | None:
    parent = model.parent(answer)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Name):
            return target.value
    if isinstance(parent, cst.AnnAssign) and isinstance(parent.target, cst.Name):
        return parent.target.value
    return None


def _read_elsewhere(
    model: ActionModule, info: FunctionInfo, name: str, answer: cst.CSTNode
) -> bool:
    assign = model.parent(answer)
    targets: set[cst.CSTNode] = set()
    if isinstance(assign, cst.Assign):
        targets = {t.target for t in assign.targets}
    elif isinstance(assign, cst.AnnAssign):
        targets = {assign.target}
    for node in model.index.under(info.node.body, cst.Name):
        if node.value == name and node not in targets:
            return True
    return False


@dataclass(frozen=True)
class UncheckedInput:
    site: EventSite
    use: cst.CSTNode
    modes: frozenset[Mode] = ALL_MODES  # the bad values it may hold there


_LOG_CALLS = ("print", "logging.", "log.", "logger.", "self.log")


def unchecked_inputs(model: ActionModule) -> list[UncheckedInput]:
    """`input` answers used as text before any check for `False` / `""` / an error dict."""
    facts = gate_facts(model)
    out: dict[cst.Call, UncheckedInput] = {}
    for site in facts.input_sites():
        answer = facts.events.answer_expr(site)
        if answer is None:
            continue
        parent = model.parent(answer)
        if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return, cst.Expr, cst.NamedExpr)):
            continue
        if _is_check_context(model, answer):
            continue
        out[site.call] = UncheckedInput(site, answer)
    for info in facts.answer_functions():
        solved = facts.solved(info)
        if solved is None:
            continue
        cfg, states = solved
        for node in cfg.nodes:
            state = states.get(node)
            if state is None or not state.unchecked or node.stmt is None:
                continue
            if node.kind in ("test", "assert", "with", "except", "case", "match"):
                continue
            stmt = (
                node.owner.iter
                if node.kind == "for" and isinstance(node.owner, cst.For)
                else node.stmt
            )
            guarded = _in_handled_try(node)
            # Paths that joined here may leave the same answer with different bad values:
            # their union is what it may hold (and iterating the set itself would make the
            # report depend on where the nodes happen to sit in memory).
            merged: dict[tuple[str, cst.Call], frozenset[Mode]] = {}
            for name, ask, modes in state.unchecked:
                merged[name, ask] = merged.get((name, ask), frozenset()) | modes
            number_of = model.index.number_of
            for (name, ask), modes in sorted(
                merged.items(), key=lambda item: (item[0][0], number_of(item[0][1]) or -1)
            ):
                if ask in out:
                    continue
                for use in _text_uses(model, stmt, name):
                    left = _modes_at(model, info, use, stmt, modes, guarded)
                    site2 = facts.events.site_of(ask)
                    if left and site2 is not None:
                        out[ask] = UncheckedInput(site2, use, left)
                        break
    return sorted(out.values(), key=lambda u: model.position(u.site.call).start.line)


# Calls that turn text into a value and raise on a dict (and on "" for numbers).
_NUMBER_CONVERSIONS = frozenset({"int", "float", "complex", "Decimal", "Fraction"})
_CONVERSION_ATTRS = frozenset({"strptime", "fromisoformat", "loads", "literal_eval"})
_DICT_METHODS = frozenset(
    {"get", "keys", "items", "values", "copy", "pop", "update", "setdefault", "__getitem__"}
)


def _in_handled_try(node: Node) -> bool:
    """An exception in `node` goes to an `except` (it is in a `try` body with handlers)."""
    return any(e.kind == "exception" and e.dst.kind == "except" for e in node.succs)


def _conversion(call: cst.Call) -> frozenset[Mode]:
    func = call.func
    name = (
        func.value
        if isinstance(func, cst.Name)
        else func.attr.value
        if isinstance(func, cst.Attribute)
        else ""
    )
    if name in _NUMBER_CONVERSIONS:
        return frozenset({"error", "empty"})
    if name in _CONVERSION_ATTRS or name.lstrip("_").startswith("parse"):
        return frozenset({"error"})
    return frozenset()


def _raises_on(model: ActionModule, use: cst.CSTNode, stmt: cst.CSTNode) -> frozenset[Mode]:
    """The bad values on which this read of an answer raises: a string method of it
    (`answer.strip()`), concatenation with a string, a conversion (`int(answer)`,
    `datetime.strptime(answer, ...)`, a `parse_*` helper) of it."""
    parent = model.parent(use)
    if isinstance(parent, cst.Attribute) and parent.value is use:
        call = model.parent(parent)
        if (
            isinstance(call, cst.Call)
            and call.func is parent
            and parent.attr.value not in _DICT_METHODS
        ):
            return frozenset({"cancel", "error"})
    if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Add):
        other = parent.right if parent.left is use else parent.left
        if isinstance(other, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
            return frozenset({"cancel", "error"})
    for ancestor in model.ancestors(use):
        if ancestor is stmt or isinstance(ancestor, cst.BaseSmallStatement):
            break
        if isinstance(ancestor, cst.Call) and ancestor.func is not use:
            found = _conversion(ancestor)
            if found:
                return found
    return frozenset()


def _in_type_branch(model: ActionModule, use: cst.CSTNode, name: str | None) -> bool:
    """`use` sits in the branch of `if isinstance(name, ...)` where the type test failed
    (`if not isinstance(answer, str): answer = str(answer)`): code written for that case."""
    child: cst.CSTNode = use
    for ancestor in model.ancestors(use):
        if isinstance(ancestor, cst.FunctionDef):
            return False
        if isinstance(ancestor, cst.If) and child is not ancestor.test:
            atom = parse_atom(ancestor.test)
            if atom.test.startswith("isinstance") and tested_name(atom.subject) == name:
                in_body = child is ancestor.body
                if in_body == atom.negated:
                    return True
        child = ancestor
    return False


def _checked_by_callee(model: ActionModule, use: cst.CSTNode, info: FunctionInfo) -> bool:
    """`use` is handed to a module helper that tests that parameter's type itself
    (`isinstance(result, dict)` / `isinstance(result, str)` in the helper)."""
    arg = model.parent(use)
    call = model.parent(arg) if isinstance(arg, cst.Arg) else None
    if not isinstance(call, cst.Call):
        return False
    name = model.resolve_callable(call.func, info)
    callee = model.functions.get(name) if name else None
    if callee is None:
        return False
    bound = bind_arguments(call, callee)
    params = [p for p, value in (bound or {}).items() if value is use]
    for node in model.own_of(callee.node.body, cst.Call):
        if (
            isinstance(node.func, cst.Name)
            and node.func.value == "isinstance"
            and node.args
            and tested_name(node.args[0].value) in params
        ):
            return True
    return False


def _modes_at(
    model: ActionModule,
    info: FunctionInfo,
    use: cst.CSTNode,
    stmt: cst.CSTNode,
    modes: frozenset[Mode],
    guarded: bool,
) -> frozenset[Mode]:
    """The bad values the answer may hold at this read: narrowed by the conditional
    expressions and `and` / `or` around it (`int(w) if w else 1024`), and by a `try` whose
    `except` takes the values on which the read raises; none in code written for a failed
    type test, or when a helper that checks the type itself receives it."""
    name = use.value if isinstance(use, cst.Name) else None
    if _in_type_branch(model, use, name) or _checked_by_callee(model, use, info):
        return frozenset()
    child: cst.CSTNode = use
    for ancestor in model.ancestors(use):
        if ancestor is stmt or isinstance(ancestor, cst.BaseSmallStatement):
            break
        narrowed: frozenset[Mode] | None = None
        if isinstance(ancestor, cst.IfExp) and child is not ancestor.test:
            atom = parse_atom(ancestor.test)
            if tested_name(atom.subject) == name:
                narrowed = narrow_modes(atom, child is ancestor.body, modes)
        elif isinstance(ancestor, cst.BooleanOperation) and child is ancestor.right:
            atom = parse_atom(ancestor.left)
            if tested_name(atom.subject) == name:
                on_and = isinstance(ancestor.operator, cst.And)
                narrowed = narrow_modes(atom, on_and, modes)
        if narrowed is not None:
            modes = narrowed
        child = ancestor
    if guarded:
        modes = modes - _raises_on(model, use, stmt)
    return modes


def _after_guarded_reads(
    model: ActionModule, stmt: cst.CSTNode, unchecked: frozenset[Unchecked]
) -> frozenset[Unchecked]:
    """After a statement in a `try` with handlers completes, a read that raises on some bad
    values (`int(answer)`) shows the answer does not hold them (else the `except` ran)."""
    out: set[Unchecked] = set()
    for name, ask, modes in unchecked:
        for use in _text_uses(model, stmt, name):
            modes = modes - _raises_on(model, use, stmt)
        if modes:
            out.add((name, ask, modes))
    return frozenset(out)


def _is_check_context(model: ActionModule, node: cst.CSTNode) -> bool:
    parent = model.parent(node)
    if isinstance(parent, cst.Arg):
        call = model.parent(parent)
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Name)
            and call.func.value in ("isinstance", "type", "bool")
        ):
            return True
    if isinstance(parent, cst.IfExp) and parent.test is node:
        return True
    return isinstance(
        parent, (cst.BooleanOperation, cst.UnaryOperation, cst.If, cst.While, cst.Comparison)
    )


def _text_uses(model: ActionModule, stmt: cst.CSTNode, name: str) -> list[cst.CSTNode]:
    """The reads of `name` in `stmt` that treat it as text (not a check, log or hand-over)."""
    if isinstance(stmt, cst.Return) and isinstance(stmt.value, cst.Name):
        return []
    if isinstance(stmt, cst.Assign) and isinstance(stmt.value, cst.Name):
        return []  # an alias: followed by the dataflow
    targets: set[cst.CSTNode] = set()
    if isinstance(stmt, cst.Assign):
        targets = {t.target for t in stmt.targets}
    out: list[cst.CSTNode] = []
    for node in model.index.under(stmt, cst.Name):
        if node.value != name or node in targets:
            continue
        if _is_check_context(model, node) or _in_log_call(model, node):
            continue
        parent = model.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is not node:
            continue  # `x.name`: another object's attribute
        out.append(node)
    return out


def _in_log_call(model: ActionModule, node: cst.CSTNode) -> bool:
    for parent in model.ancestors(node):
        if isinstance(parent, cst.Call):
            code = model.module.code_for_node(parent.func)
            if code.startswith(_LOG_CALLS) or code == "print":
                return True
        if isinstance(parent, cst.BaseSmallStatement):
            return False
    return False


# --- status events (OWA407) ---------------------------------------------------------------------

# A state is a set of ((open, leaving), facts). `open`: 0 = no status left open, L > 0 = a
# status opened on line L is still showing, PASS = whatever the caller's state was (helper
# summaries). `leaving`: the `return` / `raise` the path is leaving through (None before one),
# so a path that goes through a `finally` on its way out is still reported on its `return`;
# after `return await self._helper(...)`, the helper's own `return` that left its status open.
# `facts`: the outcomes of repeated conditions on the path (rules.md "Correlated conditions").
PASS = -1
StatusBase = tuple[int, cst.CSTNode | None]
StatusState = frozenset[tuple[StatusBase, frozenset[Fact]]]
# A helper's effect: the (open, leaving) pairs at its normal exit.
StatusSummary = frozenset[StatusBase]


def _status_effect(value: object) -> Literal["open", "close"] | None:
    if not isinstance(value, DictV) or const_str(value.items.get("type")) != "status":
        return None
    data = value.items.get("data")
    if not isinstance(data, DictV):
        return None
    done = data.items.get("done")
    hidden = data.items.get("hidden")
    if isinstance(hidden, Const) and hidden.value is True:
        return "close"  # a hidden status replaces the shown one: nothing keeps shimmering
    if isinstance(done, Const):
        return "close" if done.value is True else "open"
    if done is None and data.complete:
        return "open"
    return None  # `done` not known statically: stay silent


def _is_valve_flag(expr: cst.BaseExpression | None) -> bool:
    """`self.valves.x` (an admin setting) tested by truthiness."""
    return (
        type(expr) is cst.Attribute
        and type(expr.value) is cst.Attribute
        and expr.value.attr.value == "valves"
        and type(expr.value.value) is cst.Name
        and expr.value.value.value == "self"
    )


def _set_open(state: StatusState, value: int) -> StatusState:
    return limit_fact_sets(frozenset(((value, leaving), f) for (_, leaving), f in state))


def _tag(state: StatusState, stmt: cst.CSTNode | None) -> StatusState:
    return frozenset(((opened, stmt), f) for (opened, _), f in state)


def _returned_calls(stmt: cst.CSTNode) -> set[cst.Call]:
    """The calls whose result `return` hands back (`return await self._run(...)`, also
    through `asyncio.wait_for(self._run(...), ...)` / `asyncio.shield(...)`)."""
    out: set[cst.Call] = set()
    if type(stmt) is cst.Return and stmt.value is not None:
        value = unwrap_await(stmt.value)
        if type(value) is cst.Call:
            out.add(value)
            func = value.func
            name = func.attr.value if type(func) is cst.Attribute else None
            if type(func) is cst.Name:
                name = func.value
            if name in ("wait_for", "shield") and value.args:
                inner = value.args[0].value
                if type(inner) is cst.Call:
                    out.add(inner)
    return out


class StatusAnalysis(ForwardAnalysis[StatusState]):
    def __init__(
        self,
        paths: StatusPaths,
        info: FunctionInfo,
        env: Mapping[str, Value],
        start: int,
        cfg: CFG,
    ) -> None:
        self.paths = paths
        self.info = info
        self.env = env
        self.start = start
        self.correlations = correlations_for(paths.model, cfg)
        self._plans: dict[Node, list[int | _HelperCall]] = {}

    def initial(self) -> StatusState:
        return frozenset({((self.start, None), frozenset())})

    def join(self, a: StatusState, b: StatusState) -> StatusState:
        return limit_fact_sets(a | b)

    def refine(self, edge: Edge, state: StatusState) -> StatusState | None:
        if not self.paths.passable(edge, self.info):
            return None
        if edge.kind == "exception" and type(edge.src.stmt) is cst.Raise:
            return _tag(state, edge.src.stmt)  # exception edges carry the IN state
        fact = self.correlations.fact(edge)
        if fact is not None:
            # A condition tested again has the outcome it had on this path before.
            kept = frozenset(
                (base, facts | {fact})
                for base, facts in state
                if self.correlations.feasible(facts, fact)
            )
            return limit_fact_sets(kept) if kept else None
        return state

    def _steps(self, node: Node) -> list[int | _HelperCall]:
        """The statement's calls, in order, as they act on the state: a status event
        (its line when it opens one, 0 when it closes it) or a helper to summarise. Folded
        once per node (the solver visits a node several times)."""
        found = self._plans.get(node)
        if found is not None:
            return found
        paths = self.paths
        model = paths.model
        stmt = node.stmt
        assert stmt is not None
        returned = _returned_calls(stmt)
        steps: list[int | _HelperCall] = []
        for call in calls_in(model, stmt):
            site = paths.events.site_of(call)
            if site is not None:
                if site.kind != "emitter" or site.payload is None:
                    continue
                if not self.env and site.function is self.info:
                    value = site_value(model, site)  # the same fold, shared with the rules
                else:
                    value = Evaluator(model, self.info, self.env).value(site.payload, call)
                effect = _status_effect(value)
                if effect == "close":
                    steps.append(0)
                elif effect == "open":
                    steps.append(model.position(call).start.line)
                continue
            name = model.resolve_callable(call.func, self.info)
            callee = model.functions.get(name) if name else None
            if callee is None or callee is self.info:
                continue
            env = Evaluator(model, self.info, self.env).bind_env(call, callee) or {}
            line = model.position(call).start.line
            steps.append(_HelperCall(callee, env, summary_key(callee, env), line, call in returned))
        self._plans[node] = steps
        return steps

    def transfer(self, node: Node, state: StatusState) -> StatusState:
        stmt = node.stmt
        if stmt is None:
            return state
        killed = self.correlations.kills(node)
        if killed:
            state = limit_fact_sets(
                frozenset(
                    (base, frozenset(f for f in facts if f[0] not in killed))
                    for base, facts in state
                )
            )
        if node.kind in ("except", "case"):
            return state
        paths = self.paths
        through: set[cst.CSTNode] = set()  # helper `return`s this path now leaves through
        for step in self._steps(node):
            if type(step) is int:
                state = _set_open(state, step)
                continue
            assert isinstance(step, _HelperCall)
            exits = paths.keyed_summary(step.callee, step.env, step.key)
            if exits is None:
                continue
            # A status the helper leaves open is reported at this call, where the path is;
            # when this statement returns the helper's result, the path ends inside the
            # helper: on the helper's `return` that left it open.
            line = step.line
            out: set[tuple[StatusBase, frozenset[Fact]]] = set()
            for (opened, leaving), facts in state:
                for item, where in exits:
                    if item == PASS:
                        out.add(((opened, leaving), facts))
                    elif item == 0:
                        out.add(((0, leaving), facts))
                    elif step.returned and where is not None:
                        through.add(where)
                        out.add(((item, where), facts))
                    else:
                        out.add(((line, leaving), facts))
            state = limit_fact_sets(frozenset(out))
        if type(stmt) is cst.Return:
            state = frozenset(
                ((opened, leaving if leaving in through else stmt), facts)
                for (opened, leaving), facts in state
            )
        return state


@dataclass(frozen=True, eq=False)
class _HelperCall:
    """A call of a module helper in a statement, as `StatusAnalysis.transfer` applies it."""

    callee: FunctionInfo
    env: Mapping[str, Value]
    key: tuple[str, str]  # the helper's summary key (`summary_key`)
    line: int
    returned: bool  # the statement returns the helper's result


# The summary of a helper that leaves the open status as it was.
_UNCHANGED: StatusSummary = frozenset({(PASS, None)})


def summary_key(info: FunctionInfo, env: Mapping[str, Value]) -> tuple[str, str]:
    """A helper summary's key: the helper and the argument values it was given."""
    return (info.qualname, repr(sorted((k, describe(v)) for k, v in env.items())))


class StatusPaths:
    """Which exits of `action` may leave a `status` event without `done: True`."""

    def __init__(self, model: ActionModule) -> None:
        self.model = model
        self.events = event_facts(model)
        self._summaries: dict[tuple[str, str], StatusSummary | None] = {}
        self._passable: dict[Edge, tuple[FunctionInfo, bool]] = {}
        self._inert_functions: frozenset[str] | None = None
        # Helper summaries wait for each other here, not on the Python stack.
        self._tasks = Tasks()

    def summary(self, info: FunctionInfo, env: Mapping[str, Value]) -> StatusSummary | None:
        """The helper's effect: the `open` values at its normal exit (PASS: unchanged),
        each with the `return` it left through (None: the end of the helper)."""
        return self.keyed_summary(info, env, summary_key(info, env))

    def keyed_summary(
        self, info: FunctionInfo, env: Mapping[str, Value], key: tuple[str, str]
    ) -> StatusSummary | None:
        """`summary` when its key is known."""
        if key in self._summaries:
            return self._summaries[key]
        running = [t for t in self._tasks.stack if isinstance(t, _StatusTask) and t.key is not None]
        if self._tasks.find(key) is not None or len(running) > 8:
            return None
        if info.qualname in self._inert():
            # What its analysis would find: `open` unchanged on every path (callers ignore
            # the `return` a PASS path leaves through).
            self._summaries[key] = _UNCHANGED
            return _UNCHANGED
        self._tasks.run(_StatusTask(self, info, env, key))
        return self._summaries[key]

    def _inert(self) -> frozenset[str]:
        """Functions whose analysis cannot change which status is open, whatever their
        arguments: no emitter call with a payload in them (nested code included) nor in a
        module function they call. Their summaries need no dataflow."""
        if self._inert_functions is None:
            self._inert_functions = _functions_without(
                self.model,
                self.events,
                lambda site: site.kind == "emitter" and site.payload is not None,
                init=True,
            )
        return self._inert_functions

    def passable(self, edge: Edge, info: FunctionInfo) -> bool:
        """False for an edge no path takes: one that assumes an injected callable is None,
        or the false edge of an admin switch (`if self.valves.show_status and emitter:`)
        which has one value for the whole request: paths are judged with the switches on,
        so a helper that opens and one that closes under the same switch are not mixed up."""
        known = self._passable.get(edge)
        if known is None or known[0] is not info:
            passable = never_none_feasible(edge, self.events, info, self.model)
            if passable and edge.kind in ("true", "false") and edge.condition is not None:
                atom = parse_atom(edge.condition)
                if atom.test == "truthy" and _is_valve_flag(atom.subject):
                    passable = (edge.kind == "true") != atom.negated
            known = self._passable[edge] = (info, passable)
        return known[1]

    def _solve(self, cfg: CFG, analysis: StatusAnalysis) -> dict[Node, StatusState]:
        task = _StatusTask(self, analysis.info, analysis.env, None, analysis, cfg)
        self._tasks.run(task)
        return task.states

    def open_exits(self) -> list[tuple[cst.CSTNode | None, frozenset[int]]]:
        """(the `return` / `raise` statement, or None for the end of `action`; open lines).
        The statement may be a helper's `return` (`return await self._run(...)` in
        `action` leaves through it)."""
        action = self.model.action_method
        if action is None:
            return []
        cfg = cfg_for(self.model, action)
        analysis = StatusAnalysis(self, action, {}, 0, cfg)
        states = self._solve(cfg, analysis)
        found: dict[cst.CSTNode | None, set[int]] = {}  # leaving statement -> open lines
        for exit_node, raising in ((cfg.exit, False), (cfg.raise_exit, True)):
            for edge in exit_node.preds:
                before = states.get(edge.src)
                if before is None:
                    continue
                after = before if edge.kind == "exception" else analysis.transfer(edge.src, before)
                refined = analysis.refine(edge, after)
                # A `finally` is built once and its end flows to every continuation: a path
                # that fell through it is not leaving unless the `try` ends the function.
                spurious_end = not raising and self._finally_not_at_end(edge.src, action)
                for (opened, leaving), _ in refined or ():
                    if opened <= 0 or (leaving is None and spurious_end):
                        continue
                    if raising and not isinstance(leaving, cst.Raise):
                        continue  # an exception from some statement, not an explicit raise
                    found.setdefault(leaving, set()).add(opened)
        model = self.model

        def order(item: tuple[cst.CSTNode | None, set[int]]) -> tuple[int, int, int]:
            stmt = item[0]
            if stmt is None:
                return (1, 0, 0)
            start = model.position(stmt).start
            return (0, start.line, start.column)

        return [(stmt, frozenset(lines)) for stmt, lines in sorted(found.items(), key=order)]

    def _finally_not_at_end(self, node: Node, action: FunctionInfo) -> bool:
        """`node` is in a `finally` body whose `try` is not the function's last statement."""
        if node.owner is None or isinstance(node.stmt, cst.Return):
            return False
        body = action.node.body
        last = body.body[-1] if isinstance(body, cst.IndentedBlock) and body.body else None
        candidates = [node.owner, *self.model.ancestors(node.owner)]
        for parent in candidates:
            if isinstance(parent, cst.Finally):
                return last is None or not any(
                    p is last for p in [parent, *self.model.ancestors(parent)]
                )
            if isinstance(parent, cst.FunctionDef):
                return False
        return False


class _StatusTask:
    """A helper's status summary (`key`), or `action`'s own dataflow (key None)."""

    def __init__(
        self,
        paths: StatusPaths,
        info: FunctionInfo,
        env: Mapping[str, Value],
        key: tuple[str, str] | None,
        analysis: StatusAnalysis | None = None,
        cfg: CFG | None = None,
    ) -> None:
        self.paths = paths
        self.key = key
        self.cfg = cfg or cfg_for(paths.model, info)
        self.solver = Solver(self.cfg, analysis or StatusAnalysis(paths, info, env, PASS, self.cfg))
        self.states: dict[Node, StatusState] = {}

    def step(self) -> None:
        self.states = self.solver.run()
        if self.key is not None:
            result = self.states.get(self.cfg.exit)
            self.paths._summaries[self.key] = (
                frozenset(base for base, _ in result) if result else frozenset({(PASS, None)})
            )


def status_paths(model: ActionModule) -> StatusPaths:
    return model.memo(StatusPaths, lambda: StatusPaths(model))


# --- authorization -------------------------------------------------------------------------


def authorization_flagged(
    model: ActionModule, settings: Settings | None = None
) -> frozenset[cst.CSTNode]:
    """Calls where OWA301/OWA303/OWA305 fire: OWA401 stays silent there (one root cause,
    one finding: the role guard comes first). From the authorization analysis."""
    return authorization_facts(model, settings).flagged_calls


__all__ = [
    "CATEGORY_TEXT",
    "GateFacts",
    "GateState",
    "IgnoredAsk",
    "RiskyOp",
    "UncheckedInput",
    "UngatedOp",
    "WeakTest",
    "authorization_flagged",
    "gate_facts",
    "ignored_confirmations",
    "match_risky",
    "never_none_feasible",
    "risky_catalog",
    "status_paths",
    "unchecked_inputs",
    "ungated_ops",
    "weak_tests",
]
