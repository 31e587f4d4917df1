"""Role guards and the authorization analysis behind OWA301-OWA305.

The question: on every path from the entry of `action` to a privileged operation, has
the clicking user been shown to be an admin? The analysis is a forward dataflow over the
control-flow graph of `action` and of every module function it reaches
(`analyzer.flow.cfg`, `analyzer.flow.dataflow`). Its state (`GuardState`) has two parts:

- `roles`: the roles the clicking user may still have on this path, a subset of
  {"user", "admin"} (Open WebUI has no other role). It starts as both; a branch on the
  role narrows it on the edge where it holds; an empty set means the path is infeasible
  (`role != "Admin": return` makes what follows dead). "Admin established" is
  `roles == {"admin"}`. Merges take the union, so a guard on one branch only does not
  count after the merge.
- `env`: facts about local names (must-facts, intersected at merges): an alias of
  `__user__`, the role value, a boolean that is a role test, the clicking user's id,
  `body["chat_id"]`, a record of the user's own data, a path derived from `tempfile`, a
  value that embeds the whole `__user__` dict, `__request__.app.state.config`, an event
  emitter, a record looked up by some id (for ownership checks).

Interprocedural, within the module: the entry state of a reachable function is the join of
the states at its call sites reachable from `action` (arguments bind their facts to the
parameters). A module function used as a predicate (`if not self._is_admin(__user__)`) or
as a gate that raises for non-admins (`self._require_admin(__user__)`) is summarised by
running the same analysis on it with the caller's argument facts. Summaries wait for each
other on an explicit stack (`dataflow.Tasks`), never on Python's; a recursive call with the
same argument facts gets the least fixed point (`dataflow.CycleTask`), with others nothing.

`assert` is never a guard (stripped under `python -O`). The truthiness of injected
arguments is known (`if not __user__: return` has an infeasible branch and is no guard).
What cannot be known statically (a role compared with a Valves value, an imported helper,
a URL built at run time) is treated as no information: no guard and no privileged call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, cast

import libcst as cst

from analyzer.flow.cfg import CFG, Edge, Node, cfg_for
from analyzer.flow.dataflow import (
    SHALLOW,
    CycleTask,
    ForwardAnalysis,
    Solver,
    Tasks,
    TooDeep,
    operands_bottom_up,
)
from analyzer.flow.privileged import (
    CatalogEntry,
    ModelMethod,
    admin_api_path,
    bind_arguments,
    lookup_model_method,
    privileged_calls,
)
from analyzer.model import ActionModule, CallSite, FunctionInfo, join_chain, string_value

if TYPE_CHECKING:
    from analyzer.config import Settings

ROLES: frozenset[str] = frozenset({"user", "admin"})
ADMIN: frozenset[str] = frozenset({"admin"})
_NONE: frozenset[str] = frozenset()

# --- facts ------------------------------------------------------------------------------
# A fact is a small hashable tuple whose first item names it.
Fact = tuple[Any, ...]
USER: Fact = ("user",)  # the `__user__` dict or an alias of it (never None)
BODY: Fact = ("body",)  # the `body` argument
EMITTER: Fact = ("emitter",)  # `__event_emitter__` / `__event_call__` (never None)
REQUEST: Fact = ("request",)  # `__request__` (never None)
APP: Fact = ("app",)
APP_STATE: Fact = ("state",)
CONFIG: Fact = ("config",)  # `__request__.app.state.config`
UID: Fact = ("uid",)  # the clicking user's id
CHAT_ID: Fact = ("chatid",)  # `body["chat_id"]` (the route checked its ownership)
OWN: Fact = ("own",)  # the clicking user's own record, or an id of one
OWN_USER: Fact = ("ownuser",)  # the clicking user's record (`UserModel(**__user__)`)
TEMP: Fact = ("temp",)  # a path derived from `tempfile`
LEAK: Fact = ("leak",)  # a value that embeds the whole `__user__` dict
# A name that holds such a value on *some* path (a may-fact: merges keep it).
MAY_LEAK: Fact = ("mayleak",)
LEAKY: frozenset[Fact] = frozenset({USER, LEAK, MAY_LEAK})
_TEMP_ONLY: frozenset[Fact] = frozenset({TEMP})
NEVER_NONE: frozenset[Fact] = frozenset({USER, EMITTER, REQUEST})
# Ids that are never empty: `__user__["id"]`, and `body["chat_id"]` (the route requires it
# and checked that the user owns that chat).
OWN_IDS: frozenset[Fact] = frozenset({UID, CHAT_ID})
# What a value keeps through containers and helpers' return values (provenance).
CARRIED: frozenset[Fact] = frozenset({USER, BODY, UID, CHAT_ID, OWN, OWN_USER, TEMP})
# The type of a value with one of these facts (for `isinstance`).
_KNOWN_TYPES: dict[Fact, str] = {
    USER: "dict",
    BODY: "dict",
    UID: "str",
    CHAT_ID: "str",
}


def role_fact(case: str = "") -> Fact:
    """The role value; `case` is "upper" after `.upper()` (compare with "ADMIN")."""
    return ("role", case)


def pred_fact(true: frozenset[str], false: frozenset[str]) -> Fact:
    """A boolean that is truthy for the roles in `true` and falsy for those in `false`."""
    return ("pred", true, false)


def text_fact(text: str) -> Fact:
    """The literal text of a string (f-string placeholders as `{}`)."""
    return ("text", text)


def item_fact(key: str | int, fact: Fact) -> Fact:
    """Item `key` of a dict (a string key) or a tuple or list (an index) has `fact`."""
    return ("item", key, fact)


def lookup_fact(call: cst.Call, key: str) -> Fact:
    """A record looked up by `call`, keyed by the local name `key` ("" if not a name)."""
    return ("lookup", id(call), key)


Env = frozenset[tuple[str, Fact]]


@dataclass(frozen=True)
class GuardState:
    """The dataflow state: the roles still possible and the facts about local names."""

    roles: frozenset[str]
    env: Env = frozenset()

    @cached_property
    def _by_name(self) -> dict[str, frozenset[Fact]]:
        out: dict[str, set[Fact]] = {}
        for name, fact in self.env:
            out.setdefault(name, set()).add(fact)
        return {k: frozenset(v) for k, v in out.items()}

    def facts(self, name: str) -> frozenset[Fact]:
        return self._by_name.get(name, frozenset())

    @property
    def admin(self) -> bool:
        """Admin established on every path to here."""
        return bool(self.roles) and self.roles <= ADMIN

    @cached_property
    def has_paths(self) -> bool:
        """Some facts are about access paths (`body["file"]`), not only names."""
        return any(not p[0].isidentifier() for p in self.env)

    def bind(self, name: str, facts: frozenset[Fact]) -> GuardState:
        if facts & LEAKY:
            facts = facts | {MAY_LEAK}
        # Rebinding `x` also forgets what was known about `x["k"]` and `x.k`.
        env = frozenset(
            p for p in self.env if p[0] != name and not p[0].startswith((f"{name}[", f"{name}."))
        )
        return GuardState(self.roles, env | {(name, f) for f in facts})

    def add(self, name: str, fact: Fact) -> GuardState:
        return GuardState(self.roles, self.env | {(name, fact)})

    def with_roles(self, roles: frozenset[str]) -> GuardState:
        return GuardState(roles, self.env)


def join_states(a: GuardState, b: GuardState) -> GuardState:
    """Roles: union. Facts: those true on both sides, plus may-facts from either."""
    may = {p for p in a.env ^ b.env if p[1] == MAY_LEAK}
    return GuardState(a.roles | b.roles, (a.env & b.env) | may)


def describe_roles(roles: frozenset[str]) -> str:
    if not roles:
        return "unreachable"
    if roles == ADMIN:
        return "admin established"
    if roles == frozenset({"user"}):
        return "non-admin only"
    return "admin NOT established"


# --- what the analysis reports ------------------------------------------------------------

OpKind = Literal["privileged", "lookup"]


@dataclass
class PrivilegedOp:
    """A privileged operation (or a lookup by a foreign id) found in a reachable function."""

    node: cst.CSTNode  # the call, or the assignment / `del` statement for writes
    function: str  # qualname of the function it is in
    kind: OpKind
    label: str  # `Users.delete_user_by_id`, `subprocess.run`, `os.environ[...] = ...`
    why: str  # what it does, for messages
    state: GuardState | None  # IN state of its CFG node (None: unreachable)
    record: str | None = None  # for lookups: chat / file / user
    result_name: str | None = None  # for lookups: the local the result is assigned to


@dataclass(frozen=True)
class AuthFinding:
    code: str  # OWA301 ... OWA305
    node: cst.CSTNode
    message: str


@dataclass
class AuthFacts:
    """Everything the authorization rules and the confirmation rules need, per module."""

    flagged_calls: frozenset[cst.CSTNode] = frozenset()
    findings: tuple[AuthFinding, ...] = ()
    # Per reachable function: the IN state of every feasible CFG node.
    states: dict[str, dict[Node, GuardState]] = field(default_factory=dict)
    ops: list[PrivilegedOp] = field(default_factory=list)
    has_user_param: bool = False
    # Functions reachable in the call graph that no feasible path from `action` enters
    # (called only from dead code, such as behind `if role != "Admin": return`).
    dead_functions: frozenset[str] = frozenset()

    def findings_for(self, code: str) -> list[AuthFinding]:
        return [f for f in self.findings if f.code == code]

    def is_dead(self, model: ActionModule, node: cst.CSTNode) -> bool:
        """`node` runs on no feasible path from `action`: behind an impossible guard
        (`if role != "Admin": return` refuses everyone), after a test on an injected
        argument that cannot fail, or in a helper only such code calls. Only OWA302 applies
        there. False when the analysis does not know (the function was not analysed)."""
        info = model.enclosing_function(node)
        if info is None:
            return False
        if info.qualname in self.dead_functions:
            return True
        states = self.states.get(info.qualname)
        if states is None:
            return False
        cfg_node = cfg_for(model, info).node_of(node, model)
        if cfg_node is None:
            return False
        state = states.get(cfg_node)
        return state is None or not state.roles

    def state_at(self, model: ActionModule, node: cst.CSTNode) -> GuardState | None:
        """The guard state before the statement holding `node` (None: unreachable)."""
        info = model.enclosing_function(node)
        if info is None or info.qualname not in self.states:
            return None
        cfg_node = cfg_for(model, info).node_of(node, model)
        return None if cfg_node is None else self.states[info.qualname].get(cfg_node)

    def admin_established(self, model: ActionModule, node: cst.CSTNode) -> bool:
        """True when every feasible path from `action` to `node` checked for an admin."""
        state = self.state_at(model, node)
        return state is not None and state.admin


_CACHE_KEY = "_flow_authorization_facts"


def authorization_facts(model: ActionModule, settings: Settings | None = None) -> AuthFacts:
    """The authorization analysis of `model`, computed once per model and catalog.

    `settings` adds `[tool.owui-lint.privileged] extra` names to the catalog; rules pass
    `self.settings` so every caller sees the same findings.
    """
    extra = tuple(sorted(settings.privileged.extra)) if settings is not None else ()
    cache: dict[tuple[str, ...], AuthFacts] = model.memo_table(_CACHE_KEY)
    if extra not in cache:
        if not cache or extra:
            cache[extra] = _Analysis(model, extra).run()
        else:
            # Without settings, reuse what a rule with settings computed (same module run).
            cache[extra] = next(iter(cache.values()))
    return cache[extra]


# --- expression helpers -------------------------------------------------------------------

_TEMPFILE_MAKERS = frozenset(
    {
        "tempfile.mkdtemp",
        "tempfile.mkstemp",
        "tempfile.mktemp",
        "tempfile.gettempdir",
        "tempfile.gettempdirb",
        "tempfile.TemporaryDirectory",
        "tempfile.NamedTemporaryFile",
        "tempfile.TemporaryFile",
        "tempfile.SpooledTemporaryFile",
    }
)
_PATH_KEEPERS = frozenset(
    {
        "os.path.join",
        "posixpath.join",
        "os.path.abspath",
        "os.path.realpath",
        "os.path.normpath",
        "os.fspath",
        "pathlib.Path",
        "pathlib.PurePath",
        "pathlib.PosixPath",
        "builtins.str",
    }
)
_DUMPERS = frozenset(
    {
        "json.dumps",
        "builtins.str",
        "builtins.repr",
        "builtins.dict",
        "builtins.list",
        "pprint.pformat",
        "yaml.dump",
        "yaml.safe_dump",
        "copy.copy",
        "copy.deepcopy",
    }
)
# `isinstance` type names that do (`_TYPE_NAMES`) or do not (`_OTHER_TYPES`) match a value
# of a known type (`_KNOWN_TYPES`).
_TYPE_NAMES: dict[str, frozenset[str]] = {
    "dict": frozenset(
        {
            "builtins.dict",
            "builtins.object",
            "typing.Dict",
            "typing.Mapping",
            "typing.MutableMapping",
            "collections.abc.Mapping",
            "collections.abc.MutableMapping",
        }
    ),
    "str": frozenset({"builtins.str", "builtins.object", "typing.Text"}),
}
_OTHER_TYPES: frozenset[str] = frozenset(
    f"builtins.{name}"
    for name in (
        "dict",
        "str",
        "list",
        "tuple",
        "set",
        "frozenset",
        "int",
        "float",
        "complex",
        "bool",
        "bytes",
        "bytearray",
        "type",
    )
) | frozenset({"typing.List", "typing.Tuple", "typing.Set"})
_CASE_METHODS = {"lower": "", "casefold": "", "strip": None, "upper": "upper"}
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "fatal"}
)
_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
_HTTP_MODULES = ("requests.", "httpx.", "aiohttp.", "urllib.request.")
# Data-layer predicates that prove the record (`id`) belongs to `user_id`.
_OWNER_PREDICATES = frozenset(
    {"Chats.is_chat_owner", "Files.check_access_by_user_id", "Knowledges.check_access_by_user_id"}
)
# Helper names that say "tell the user" (`self._notify(...)`, `emit_status(...)`).
_TALK_WORDS = ("emit", "notif", "status", "message", "toast", "alert", "warn", "log")
_HTTP_PAYLOAD_KEYWORDS = frozenset({"json", "data", "content", "params"})


def _literal_strings(node: cst.BaseExpression) -> set[str] | None:
    """{"admin"} for `"admin"`, {"admin", "superuser"} for a tuple/list/set of strings."""
    value = string_value(node)
    if value is not None:
        return {value}
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        out: set[str] = set()
        for element in node.elements:
            item = string_value(element.value)
            if item is None or type(element) is cst.StarredElement:
                return None
            out.add(item)
        return out
    return None


def _subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1:
        return None
    index = node.slice[0].slice
    if type(index) is cst.Index:
        return string_value(index.value)
    return None


def _subscript_index(node: cst.Subscript) -> int | None:
    """`0` in `pair[0]` (a non-negative integer literal index)."""
    if len(node.slice) != 1:
        return None
    index = node.slice[0].slice
    if type(index) is cst.Index and type(index.value) is cst.Integer:
        value = index.value.evaluated_value
        return value if isinstance(value, int) else None
    return None


def _items(base: frozenset[Fact], key: str | int) -> frozenset[Fact]:
    """The facts of item `key` of a value with facts `base`."""
    return frozenset(f[2] for f in base if f[0] == "item" and f[1] == key)


def _names_in(model: ActionModule, node: cst.CSTNode) -> list[cst.Name]:
    """Names in `node` (not inside nested defs, lambdas or classes)."""
    return model.scoped(node, cst.Name, lambdas=False)


def _calls_in(model: ActionModule, node: cst.CSTNode) -> list[cst.Call]:
    """Calls in `node`, not inside nested defs or classes (lambdas count: same context)."""
    return model.scoped(node, cst.Call)


def _walrus_in(model: ActionModule, node: cst.CSTNode) -> list[cst.NamedExpr]:
    return model.scoped(node, cst.NamedExpr, lambdas=False)


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node).strip()


# `_Analysis._bounded`: which evaluation (and `_Tables`' third table: `summary_for_call`).
_FACTS = 0
_TRUTH = 1
_SUMMARY = 2

# What `facts`, `truth` and `summary_for_call` found for the nodes of one function in one
# environment, keyed by `id(node)` (the nodes outlive the analysis, so ids stay unique).
# They read the state only through its `env`, never its roles.
_Tables = tuple[dict[int, Any], dict[int, Any], dict[int, Any]]


class _Memo:
    """The tables one evaluation reads and fills, and the state and function it is in (a
    plain class with slots: one is made per evaluation in the dataflow)."""

    __slots__ = ("fn", "state", "tables")

    def __init__(self, state: GuardState, fn: FunctionInfo | None, tables: _Tables) -> None:
        self.state = state
        self.fn = fn
        self.tables = tables


# Where `facts` stops: it knows nothing about lambdas and comprehensions.
_Container = cst.Dict | cst.List | cst.Tuple | cst.Set
_CONTAINERS = frozenset({cst.Dict, cst.List, cst.Tuple, cst.Set})
_OPAQUE = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
# Comparison operators, by exact type (`role_test`).
_EQUALITY_OPS = frozenset({cst.Is, cst.IsNot, cst.Equal, cst.NotEqual})
_POSITIVE_OPS = frozenset({cst.Is, cst.Equal})
_MEMBER_OPS = frozenset({cst.Equal, cst.Is, cst.In})
_NOT_MEMBER_OPS = frozenset({cst.NotEqual, cst.IsNot, cst.NotIn})
_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef})
# Where a call still runs to completion with its statement (`_Analysis._completes_here`).
_COMPLETING_PARENTS = frozenset(
    {cst.Await, cst.Expr, cst.Assign, cst.AnnAssign, cst.Return, cst.WithItem}
)


def _opaque(node: cst.CSTNode) -> bool:
    """What `facts` and `truth` never look inside."""
    return isinstance(node, _OPAQUE)


# --- the analysis -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Summary:
    """A module function seen from a call site: how its result and its exit depend on
    the role (`true`/`false`: roles for which the result may be truthy/falsy)."""

    true: frozenset[str]
    false: frozenset[str]
    exit_roles: frozenset[str]
    # What is known about the returned value on every path that returns one (provenance:
    # `CARRIED` facts and the items of a returned dict or tuple).
    result: frozenset[Fact] = frozenset()

    @property
    def is_predicate(self) -> bool:
        return (self.true, self.false) != (ROLES, ROLES)


class _Flow(ForwardAnalysis[GuardState]):
    """The per-function dataflow; expression semantics live in `_Analysis`."""

    def __init__(self, analysis: _Analysis, info: FunctionInfo, entry: GuardState) -> None:
        self.analysis = analysis
        self.info = info
        self.entry = entry
        # The roles every state the flow made still has (`_Analysis.reuse`).
        self.kept = entry.roles

    def initial(self) -> GuardState:
        return self.entry

    def join(self, a: GuardState, b: GuardState) -> GuardState:
        return join_states(a, b)

    def transfer(self, node: Node, state: GuardState) -> GuardState:
        after = self.analysis.transfer(self.info, node, state)
        if not self.kept <= after.roles:
            self.kept = self.kept & after.roles
        return after

    def refine(self, edge: Edge, state: GuardState) -> GuardState | None:
        after = self.analysis.refine(self.info, edge, state)
        if after is not None and not self.kept <= after.roles:
            self.kept = self.kept & after.roles
        return after


class _Analysis:
    def __init__(self, model: ActionModule, extra: Sequence[str]) -> None:
        self.model = model
        self.extra = frozenset(extra)
        self.catalog = privileged_calls()
        self._summaries: dict[tuple[str, Env], _Summary | None] = {}
        # Summaries being computed wait for each other here, not on the Python stack.
        self._tasks = Tasks()
        # `facts` / `truth`: how deep the current evaluation is, and its memo.
        self._depth = 0
        self._memo: _Memo | None = None
        self._last: _Memo | None = None  # module-level evaluations (`_facts_plain`)
        # Per function and environment: the dataflow asks the same questions in the same
        # environment again and again (every round, every edge of a test, the summary of a
        # function and its own solve, the report). An answer holds as long as the summaries
        # it read do: `_volatile` says one was an approximation (a recursive call) and the
        # tables go at the end of the step; `_forget` drops them when summaries are dropped.
        self._tables: dict[tuple[int, Env], _Tables] = {}
        self._volatile = False
        # The IN states of finished solves by function and entry state, on the same terms:
        # a function's solve for a summary and its own solve often start from the same state.
        self._solved: dict[tuple[str, GuardState], tuple[dict[Node, GuardState], frozenset[str]]]
        self._solved = {}
        self._module_temp: frozenset[str] | None = None
        self._walrus: dict[int, list[cst.NamedExpr]] = {}
        self._completing: dict[int, list[cst.Call]] = {}
        self._keep: list[cst.CSTNode] = []  # the statements those two are keyed by
        self._contains: dict[tuple[int, type[cst.CSTNode]], bool] = {}

    # --- module-wide facts ---------------------------------------------------------------

    @property
    def module_temp_names(self) -> frozenset[str]:
        """Module-level names every assignment of which is a `tempfile` path."""
        if self._module_temp is not None:
            return self._module_temp
        self._module_temp = frozenset()  # while computing: nothing is known yet
        assigned: dict[str, list[cst.BaseExpression]] = {}
        for stmt in self.model.module.body:
            if type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    if type(small) is cst.Assign:
                        for target in small.targets:
                            if type(target.target) is cst.Name:
                                assigned.setdefault(target.target.value, []).append(small.value)
        empty = GuardState(ROLES)
        # A few rounds so `OUT = os.path.join(TMP, "x")` after `TMP = mkdtemp()` counts.
        for _ in range(3):
            found = frozenset(
                name
                for name, values in assigned.items()
                if all(TEMP in self._facts_plain(v, empty) for v in values)
            )
            if found == self._module_temp:
                break
            self._module_temp = found
        return self._module_temp

    @cached_property
    def self_temp_attrs(self) -> frozenset[tuple[str, str]]:
        """(class, attr) where every `self.attr = ...` in the class is a `tempfile` path."""
        seen: dict[tuple[str, str], bool] = {}
        empty = GuardState(ROLES)
        for info in self.model.functions.values():
            owner = info
            while owner.parent is not None:
                owner = owner.parent
            if owner.class_name is None:
                continue
            for node in self.model.index.under(info.node, cst.Assign):
                for target in node.targets:
                    t = target.target
                    if (
                        type(t) is cst.Attribute
                        and type(t.value) is cst.Name
                        and t.value.value == "self"
                    ):
                        key = (owner.class_name, t.attr.value)
                        is_temp = TEMP in self._facts_plain(node.value, empty)
                        seen[key] = seen.get(key, True) and is_temp
        return frozenset(k for k, v in seen.items() if v)

    def is_emitter(self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo) -> bool:
        """`EMITTER in facts(expr)`, without evaluating `a.b.c` (most callees): an
        attribute's facts are its base's member facts, which never include the emitter, and
        its access path's, which are only ever OWN. Reading names and attributes has no
        other effect once the module-level names are known (`module_temp_names`)."""
        if type(expr) is cst.Attribute and self._module_temp is not None:
            base = expr.value
            while type(base) is cst.Attribute:
                base = base.value
            if type(base) is cst.Name:
                return False
        return EMITTER in self.facts(expr, state, fn)

    def _facts_plain(self, expr: cst.BaseExpression, state: GuardState) -> frozenset[Fact]:
        """Facts of an expression outside any function (module constants, `__init__`)."""
        return self.facts(expr, state, None)

    # --- expression facts ----------------------------------------------------------------

    def facts(
        self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        """What is known about the value of `expr` in `state`."""
        if type(expr) is cst.Name and fn is not None and self._depth < SHALLOW:
            # The most common operand, read straight from the state, without an evaluation
            # or a table (a name is no deeper than its depth).
            return self._name_facts(expr.value, state)
        found: frozenset[Fact] = self._bounded(_FACTS, expr, state, fn)
        return found

    def truth(
        self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> tuple[frozenset[str], frozenset[str]] | None:
        """(roles for which `expr` may be truthy, roles for which it may be falsy), or None
        when `expr` does not depend on the role in a way we can see."""
        found: tuple[frozenset[str], frozenset[str]] | None = self._bounded(_TRUTH, expr, state, fn)
        return found

    def _bounded(
        self, kind: int, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> Any:
        """`_facts` / `_truth` of `expr`, each operand evaluated once per evaluation (a
        helper call's arguments are read for its summary too: `f(g(h(x)))` must not cost
        2^3), recursing at most `SHALLOW` operands deep."""
        memo = self._memo
        if memo is None or memo.state is not state or memo.fn is not fn:
            return self._evaluate(kind, expr, state, fn)
        table = memo.tables[kind]
        key = id(expr)  # not the node: LibCST's `__hash__` is Python code, asked per operand
        if key in table:
            return table[key]
        entry = self._depth
        if entry >= SHALLOW:
            raise TooDeep
        self._depth = entry + 1
        try:
            value = (self._facts if kind == _FACTS else self._truth)(expr, state, fn)
        finally:
            self._depth = entry
        table[key] = value
        return value

    def _evaluate(
        self, kind: int, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> Any:
        """A new evaluation (its own memo). A deeper expression than `SHALLOW` (`a + b +
        c + ...` nests to the left, one level per operand) is evaluated bottom-up instead:
        every operand first, so that each evaluation only looks one level down. That also
        keeps `a and b and c and ...` linear (`_boolop_facts` asks for the truth of every
        prefix of the chain)."""
        saved = (self._memo, self._depth)
        memo: _Memo
        if fn is not None:
            memo = _Memo(state, fn, self._tables_for(fn, state.env))
        elif (
            self._tasks.running
            or self._last is None
            or self._last.state is not state
            or self._last.fn is not None
        ):
            memo = _Memo(state, fn, ({}, {}, {}))
            if not self._tasks.running:
                # Outside the dataflow a module-level evaluation in the same state reuses
                # the last one's answers (unchanged: `module_temp_names`' rounds see it).
                self._last = memo
        else:
            memo = self._last
        self._memo = memo
        self._depth = 0
        try:
            try:
                return self._bounded(kind, expr, state, fn)
            except TooDeep:
                pass
            for operand in operands_bottom_up(self.model, expr, _opaque):
                self._depth = 0
                self._bounded(_FACTS, operand, state, fn)
                self._bounded(_TRUTH, operand, state, fn)
            return memo.tables[kind][id(expr)]
        finally:
            self._memo, self._depth = saved

    def _tables_for(self, fn: FunctionInfo, env: Env) -> _Tables:
        key = (id(fn), env)
        tables = self._tables.get(key)
        if tables is None:
            tables = self._tables[key] = ({}, {}, {})
        return tables

    def _end_step(self) -> bool:
        """A task's step ended (or suspended): drop answers that read an approximation.
        True if there were some."""
        if not self._volatile:
            return False
        self._volatile = False
        self._tables.clear()
        return True

    def _forget(self) -> None:
        """Summaries were dropped: so are the answers and solves that read them."""
        self._tables.clear()
        self._solved.clear()

    def _name_facts(self, name: str, state: GuardState) -> frozenset[Fact]:
        found = state.facts(name)
        if not found and name in self.module_temp_names:
            return _TEMP_ONLY
        return found

    def _facts(
        self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        # Dispatch on the exact node type (LibCST's classes are ABCs: each `isinstance`
        # against them runs `ABCMeta.__instancecheck__`); the parser builds only these.
        kind = type(expr)
        if kind is cst.Name:
            return self._name_facts(cast(cst.Name, expr).value, state)
        if kind is cst.Attribute:
            return self._attribute_facts(cast(cst.Attribute, expr), state, fn)
        if kind is cst.Call:
            return self._call_facts(cast(cst.Call, expr), state, fn)
        if kind is cst.Subscript:
            return self._subscript_facts(cast(cst.Subscript, expr), state, fn)
        if kind is cst.SimpleString or kind is cst.ConcatenatedString:
            value = string_value(expr)
            return frozenset({text_fact(value)}) if value is not None else frozenset()
        if kind is cst.NamedExpr:
            return self.facts(cast(cst.NamedExpr, expr).value, state, fn)
        if kind is cst.Await:
            return self.facts(cast(cst.Await, expr).expression, state, fn)
        if kind is cst.FormattedString:
            return self._fstring_facts(cast(cst.FormattedString, expr), state, fn)
        if kind is cst.BooleanOperation:
            return self._boolop_facts(cast(cst.BooleanOperation, expr), state, fn)
        if kind is cst.BinaryOperation:
            return self._binop_facts(cast(cst.BinaryOperation, expr), state, fn)
        if (
            kind is cst.UnaryOperation
            and type(cast(cst.UnaryOperation, expr).operator) is not cst.Not
        ):
            # `-1`, `~mask`, `+x`: no role fact. (`truth` asks `facts` about what it cannot
            # read itself, so sending these back to `truth` recursed without end.)
            return frozenset()
        if kind is cst.Comparison or kind is cst.UnaryOperation:
            truth = self.truth(expr, state, fn)
            if truth is not None and truth != (ROLES, ROLES):
                return frozenset({pred_fact(*truth)})
            return frozenset()
        if kind in _CONTAINERS:
            return self._container_facts(cast(_Container, expr), state, fn)
        if kind is cst.IfExp:
            branches = cast(cst.IfExp, expr)
            # `__user__.get("id") if __user__ else "anonymous"`: `__user__` is never empty.
            truth = self.truth(branches.test, state, fn)
            if truth is not None and not truth[1]:
                return self.facts(branches.body, state, fn)
            if truth is not None and not truth[0]:
                return self.facts(branches.orelse, state, fn)
            return self.facts(branches.body, state, fn) & self.facts(branches.orelse, state, fn)
        return frozenset()

    def _fstring_facts(
        self, expr: cst.FormattedString, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        out: set[Fact] = set()
        text = []
        for i, part in enumerate(expr.parts):
            if type(part) is cst.FormattedStringText:
                text.append(part.value)
                continue
            assert type(part) is cst.FormattedStringExpression
            inner = self.facts(part.expression, state, fn)
            if inner & LEAKY:
                out.add(LEAK)
            if i == 0 and TEMP in inner:
                out.add(TEMP)
            texts = [f[1] for f in inner if f[0] == "text"]
            text.append(texts[0] if len(texts) == 1 else "{}")
        out.add(text_fact("".join(text)))
        return frozenset(out)

    def _boolop_facts(
        self, expr: cst.BooleanOperation, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        left = self.facts(expr.left, state, fn)
        right = self.facts(expr.right, state, fn)
        if type(expr.operator) is cst.Or:
            if left & (NEVER_NONE | OWN_IDS):
                # `__user__ or {}`, `body.get("chat_id") or body.get("id")`: the left side
                # is never empty, so it is always taken.
                return left
            if any(f[0] == "role" for f in left) and string_value(expr.right) is not None:
                return frozenset(f for f in left if f[0] == "role")
        truth = self.truth(expr, state, fn)
        if truth is not None and truth != (ROLES, ROLES):
            return frozenset({pred_fact(*truth)})
        return left & right

    def _subscript_facts(
        self, expr: cst.Subscript, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        base = self.facts(expr.value, state, fn)
        key = _subscript_key(expr)
        found = self._member(base, key) | self._path_facts(expr, state)
        index = _subscript_index(expr) if key is None else None
        if index is not None:
            found |= _items(base, index)
        return found

    def _path_facts(self, expr: cst.BaseExpression, state: GuardState) -> frozenset[Fact]:
        """Facts recorded for an access path by an ownership check (`body["file"]`)."""
        return state.facts(_code(expr)) if state.has_paths else frozenset()

    def _member(self, base: frozenset[Fact], key: str | None) -> frozenset[Fact]:
        """Facts of `base[key]` / `base.get(key)` / `base.key`."""
        out: set[Fact] = set(_items(base, key)) if key is not None else set()
        if base & {USER, OWN_USER}:
            if key == "role":
                out.add(role_fact())
            elif key == "id":
                out.add(UID)
        if BODY in base and key == "chat_id":
            out.add(CHAT_ID)
        if OWN in base:
            out.add(UID if key == "user_id" else OWN)
        if REQUEST in base and key == "app":
            out.add(APP)
        if APP in base and key == "state":
            out.add(APP_STATE)
        if APP_STATE in base and key == "config":
            out.add(CONFIG)
        if TEMP in base and key == "name":
            out.add(TEMP)
        return frozenset(out)

    def _attribute_facts(
        self, expr: cst.Attribute, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        base_expr = expr.value
        if (
            type(base_expr) is cst.Name
            and base_expr.value == "self"
            and fn is not None
            and self._class_of(fn) is not None
            and (self._class_of(fn), expr.attr.value) in self.self_temp_attrs
        ):
            return frozenset({TEMP})
        return self._member(self.facts(base_expr, state, fn), expr.attr.value) | (
            self._path_facts(expr, state)
        )

    def _class_of(self, fn: FunctionInfo) -> str | None:
        owner = fn
        while owner.parent is not None:
            owner = owner.parent
        return owner.class_name

    def _binop_facts(
        self, expr: cst.BinaryOperation, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        left = self.facts(expr.left, state, fn)
        right = self.facts(expr.right, state, fn)
        out: set[Fact] = set()
        if left & LEAKY or right & LEAKY:
            out.add(LEAK)
        if isinstance(expr.operator, (cst.Divide, cst.Add)) and TEMP in left:
            out.add(TEMP)
        if type(expr.operator) is cst.Add:
            lt = [f[1] for f in left if f[0] == "text"]
            rt = [f[1] for f in right if f[0] == "text"]
            out.add(text_fact((lt[0] if lt else "{}") + (rt[0] if rt else "{}")))
        return frozenset(out)

    def _container_facts(
        self,
        expr: cst.Dict | cst.List | cst.Tuple | cst.Set,
        state: GuardState,
        fn: FunctionInfo | None,
    ) -> frozenset[Fact]:
        values: list[cst.BaseExpression] = []
        if type(expr) is cst.Dict:
            for element in expr.elements:
                values.append(element.value)
        else:
            values = [e.value for e in expr.elements]
        facts = [self.facts(v, state, fn) for v in values]
        out: set[Fact] = set()
        if any(f & LEAKY for f in facts):
            out.add(LEAK)
        if facts and type(expr) is not cst.Dict:
            for common in (UID, CHAT_ID, OWN):
                if all(common in f for f in facts):
                    out.add(common)
        # Provenance of the items: `{"user_id": __user__["id"]}`, `(chat_id, uid)`.
        if type(expr) is cst.Dict:
            for element, found in zip(expr.elements, facts, strict=True):
                key = string_value(element.key) if type(element) is cst.DictElement else None
                if key is not None:
                    out |= {item_fact(key, f) for f in found if _item_carried(f)}
        elif isinstance(expr, (cst.Tuple, cst.List)) and not any(
            type(e) is cst.StarredElement for e in expr.elements
        ):
            for i, found in enumerate(facts):
                out |= {item_fact(i, f) for f in found if _item_carried(f)}
        return frozenset(out)

    def _call_facts(
        self, call: cst.Call, state: GuardState, fn: FunctionInfo | None
    ) -> frozenset[Fact]:
        deferred = self.model.deferred_call(call)
        if deferred is not None:
            # `await asyncio.to_thread(f, x)` is what `f(x)` returns.
            target = deferred.target
            if type(target) is cst.Lambda:
                if deferred.args or target.params.params or target.params.star_arg:
                    return frozenset()
                return self.facts(target.body, state, fn)
            return self.facts(deferred.call, state, fn)
        names = self.model.resolve_name(call.func)
        first = self.facts(call.args[0].value, state, fn) if call.args else frozenset()
        if names & _TEMPFILE_MAKERS:
            return frozenset({TEMP})
        method = lookup_model_method(names)
        if method is not None and fn is not None:
            return self._model_result(method, call, state, fn)
        out: set[Fact] = set()
        if names & _PATH_KEEPERS and TEMP in first:
            out.add(TEMP)
        if "urllib.parse.urljoin" in names and len(call.args) > 1:
            # `urljoin(base, "/api/v1/configs")`: the route is what the text says.
            tail = [f[1] for f in self.facts(call.args[1].value, state, fn) if f[0] == "text"]
            if len(tail) == 1:
                out.add(text_fact("{}" + tail[0]))
        if names & _DUMPERS:
            if first & LEAKY:
                out.add(USER if "builtins.dict" in names and USER in first else LEAK)
            if "builtins.str" in names:
                out |= {f for f in first if f[0] in ("role", "text") or f in (UID, CHAT_ID, OWN)}
        if names & {"builtins.bool"} and call.args:
            truth = self.truth(call.args[0].value, state, fn)
            if truth is not None and truth != (ROLES, ROLES):
                out.add(pred_fact(*truth))
        if any(n.endswith("UserModel") for n in names) and any(
            a.star == "**" and self.facts(a.value, state, fn) & {USER} for a in call.args
        ):
            out |= {OWN_USER, OWN}
        if type(call.func) is cst.Attribute:
            out |= self._method_facts(call, call.func, state, fn)
        elif type(call.func) is cst.Name and call.func.value == "getattr" and call.args:
            key = string_value(call.args[1].value) if len(call.args) > 1 else None
            out |= self._member(first, key)
        if fn is not None:
            summary = self.summary_for_call(call, state, fn)
            if summary is not None and summary.is_predicate:
                out.add(pred_fact(summary.true, summary.false))
            if summary is not None:
                out |= summary.result
        return frozenset(out)

    def _method_facts(
        self,
        call: cst.Call,
        func: cst.Attribute,
        state: GuardState,
        fn: FunctionInfo | None,
    ) -> frozenset[Fact]:
        name = func.attr.value
        base = self.facts(func.value, state, fn)
        out: set[Fact] = set()
        if name == "get" and call.args:
            out |= self._member(base, string_value(call.args[0].value))
        elif name in _CASE_METHODS:
            for fact in base:
                if fact[0] == "role":
                    case = _CASE_METHODS[name]
                    out.add(role_fact(fact[1] if case is None else case))
            out |= base & {UID, CHAT_ID, TEMP}
        elif name == "copy" and USER in base:
            out.add(USER)
        elif name == "format" and any(self.facts(a.value, state, fn) & LEAKY for a in call.args):
            out.add(LEAK)
        elif name in ("joinpath", "resolve", "absolute", "with_suffix", "with_name"):
            out |= base & {TEMP}
        return frozenset(out)

    def _model_result(
        self, method: ModelMethod, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> frozenset[Fact]:
        """What a data-layer call returns: the user's own data when scoped; a looked-up
        record (to be ownership-checked) for lookups by another id."""
        if self.scoped(method, call, state, fn):
            if method.short == "Users.get_user_by_id":
                return frozenset({OWN, OWN_USER})
            return frozenset({OWN})
        if method.access == "read" and method.record is not None:
            args = bind_arguments(call, method.params) or {}
            key = ""
            for param, _ in method.keys:
                value = args.get(param)
                if isinstance(value, (cst.Name, cst.Subscript, cst.Attribute)):
                    key = _code(value)
            return frozenset({lookup_fact(self.model.real_call(call), key)})
        return frozenset()

    def scoped(
        self, method: ModelMethod, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> bool:
        """Every key of the call is the clicking user's (id, chat, own record)."""
        if not method.keys:
            return False
        args = bind_arguments(call, method.params)
        if args is None:
            return False
        for param, kind in method.keys:
            value = args.get(param)
            if value is None:
                return False
            facts = self.facts(value, state, fn)
            if kind == "user" and not facts & {UID, USER, OWN_USER}:
                return False
            if kind == "chat" and not facts & {CHAT_ID, OWN}:
                return False
            if kind == "id" and OWN not in facts:
                return False
        return True

    # --- truth of conditions -------------------------------------------------------------

    def _truth(
        self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo | None
    ) -> tuple[frozenset[str], frozenset[str]] | None:
        if type(expr) is cst.NamedExpr:
            return self.truth(expr.value, state, fn)
        if type(expr) is cst.Await:
            return self.truth(expr.expression, state, fn)
        if type(expr) is cst.UnaryOperation and type(expr.operator) is cst.Not:
            inner = self.truth(expr.expression, state, fn)
            return None if inner is None else (inner[1], inner[0])
        if type(expr) is cst.Comparison:
            test = self.role_test(expr, state, fn)
            return None if test is None else (test[0], test[1])
        if type(expr) is cst.BooleanOperation:
            left = self.truth(expr.left, state, fn)
            right = self.truth(expr.right, state, fn)
            if left is None and right is None:
                return None
            lt, lf = left if left is not None else (ROLES, ROLES)
            rt, rf = right if right is not None else (ROLES, ROLES)
            if type(expr.operator) is cst.And:
                return (lt & rt, lf | (lt & rf))
            return (lt | (lf & rt), lf & rf)
        if type(expr) is cst.Name and expr.value in ("True", "False"):
            return (ROLES, _NONE) if expr.value == "True" else (_NONE, ROLES)
        if type(expr) is cst.Call:
            known = self._isinstance_truth(expr, state, fn)
            if known is not None:
                return known
        facts = self.facts(expr, state, fn)
        for fact in facts:
            if fact[0] == "pred":
                return (fact[1], fact[2])
        if facts & (NEVER_NONE | OWN_IDS):
            return (ROLES, _NONE)
        return None

    def _isinstance_truth(
        self, call: cst.Call, state: GuardState, fn: FunctionInfo | None
    ) -> tuple[frozenset[str], frozenset[str]] | None:
        """`isinstance(__user__, dict)` always holds, `isinstance(body, (list, tuple))`
        never does: `__user__` and `body` are dicts, the user's id and `body["chat_id"]`
        strings."""
        if len(call.args) != 2 or "builtins.isinstance" not in self.model.resolve_name(call.func):
            return None
        facts = self.facts(call.args[0].value, state, fn)
        kinds = {_KNOWN_TYPES[f] for f in facts if f in _KNOWN_TYPES}
        if len(kinds) != 1:
            return None
        matching = _TYPE_NAMES[kinds.pop()]
        spec = call.args[1].value
        parts = [e.value for e in spec.elements] if type(spec) is cst.Tuple else [spec]
        names = [self.model.resolve_name(part) for part in parts]
        if any(found & matching for found in names):
            return (ROLES, _NONE)
        if all(found & _OTHER_TYPES for found in names):
            return (_NONE, ROLES)
        return None

    def role_test(
        self, expr: cst.Comparison, state: GuardState, fn: FunctionInfo | None
    ) -> tuple[frozenset[str], frozenset[str], set[str]] | None:
        """(true roles, false roles, literals that are no role) for a comparison of the
        role with string literals; also `x is None` on never-None injected values."""
        if len(expr.comparisons) != 1:
            return None
        target = expr.comparisons[0]
        op = target.operator
        left, right = expr.left, target.comparator
        if type(op) in _EQUALITY_OPS:
            for a, b in ((left, right), (right, left)):
                if (
                    type(b) is cst.Name
                    and b.value == "None"
                    and self.facts(a, state, fn) & (NEVER_NONE | OWN_IDS)
                ):
                    positive = type(op) in _POSITIVE_OPS
                    return (_NONE, ROLES, set()) if positive else (ROLES, _NONE, set())
        pairs: list[tuple[cst.BaseExpression, cst.BaseExpression]] = [(left, right)]
        if type(op) in _EQUALITY_OPS:
            pairs.append((right, left))
        for a, b in pairs:
            cases = [f[1] for f in self.facts(a, state, fn) if f[0] == "role"]
            if not cases:
                continue
            literals = _literal_strings(b)
            if literals is None:
                return None
            if type(op) in _EQUALITY_OPS and len(literals) != 1:
                return None
            case = cases[0]
            matched = {r for r in ROLES if any(_norm(lit, case) == r for lit in literals)}
            bad = {lit for lit in literals if _norm(lit, case) not in ROLES}
            true = frozenset(matched)
            if type(op) in _MEMBER_OPS:
                return (true, ROLES - true, bad)
            if type(op) in _NOT_MEMBER_OPS:
                return (ROLES - true, true, bad)
            return None
        return None

    # --- transfer and refine -------------------------------------------------------------

    def transfer(self, fn: FunctionInfo, node: Node, state: GuardState) -> GuardState:
        stmt = node.stmt
        if stmt is None or not state.roles:
            return state
        for walrus in self._walruses(fn, stmt):
            if type(walrus.target) is cst.Name:
                state = state.bind(walrus.target.value, self.facts(walrus.value, state, fn))
        # Exact types (LibCST's classes are ABCs: a failed `isinstance` runs Python code).
        kind = type(stmt)
        if kind is cst.Assign:
            assign = cast(cst.Assign, stmt)
            facts = self.facts(assign.value, state, fn)
            for target in assign.targets:
                state = self._assign(target.target, assign.value, facts, state, fn)
        elif kind is cst.AnnAssign and cast(cst.AnnAssign, stmt).value is not None:
            annotated = cast(cst.AnnAssign, stmt)
            value = cast(cst.BaseExpression, annotated.value)
            state = self._assign(annotated.target, value, self.facts(value, state, fn), state, fn)
        elif kind is cst.AugAssign and type(cast(cst.AugAssign, stmt).target) is cst.Name:
            augmented = cast(cst.AugAssign, stmt)
            name = cast(cst.Name, augmented.target)
            keep = self.facts(name, state, fn) & {TEMP, LEAK, MAY_LEAK}
            added = self.facts(augmented.value, state, fn) & LEAKY
            state = state.bind(name.value, keep | ({LEAK} if added else frozenset()))
        elif kind is cst.Del:
            for bound in _names_in(self.model, cast(cst.Del, stmt).target):
                state = state.bind(bound.value, frozenset())
        elif kind is cst.WithItem:
            item = cast(cst.WithItem, stmt)
            if item.asname is not None:
                facts = self.facts(item.item, state, fn)
                state = self._assign(item.asname.name, item.item, facts, state, fn)
        elif node.kind == "for" and type(node.owner) is cst.For:
            loop = node.owner
            iterable = self.facts(loop.iter, state, fn)
            element = iterable & {OWN}
            state = self._assign(loop.target, None, element, state, fn)
        elif kind is cst.ExceptHandler and cast(cst.ExceptHandler, stmt).name is not None:
            caught = cast(cst.AsName, cast(cst.ExceptHandler, stmt).name).name
            if type(caught) is cst.Name:
                state = state.bind(caught.value, frozenset())
        elif kind is cst.FunctionDef or kind is cst.ClassDef:
            state = state.bind(cast(cst.FunctionDef | cst.ClassDef, stmt).name.value, frozenset())
        elif (kind is cst.Import or kind is cst.ImportFrom) and type(
            cast(cst.Import | cst.ImportFrom, stmt).names
        ) is not cst.ImportStar:
            for alias in cast(cst.Import, stmt).names:
                bound_name = alias.asname.name if alias.asname else alias.name
                if type(bound_name) is cst.Name:
                    state = state.bind(bound_name.value, frozenset())
        # A call to a module function that raises (or returns) for non-admins narrows the
        # roles after it: `self._require_admin(__user__)`.
        if node.kind in ("stmt", "with"):
            for call in self._completing_calls(stmt):
                summary = self.summary_for_call(call, state, fn)
                if summary is not None:
                    state = state.with_roles(state.roles & summary.exit_roles)
        return state

    # Per statement, asked on every round of the dataflow: cached by `id` (LibCST's
    # `__hash__` is Python code), the statement kept alive in `_keep`.

    def contains(self, fn: FunctionInfo, kind: type[cst.CSTNode]) -> bool:
        """Some node of exactly type `kind` is in `fn` (nested definitions included): when
        none is, no statement of `fn` needs to be searched for one."""
        key = (id(fn), kind)
        found = self._contains.get(key)
        if found is None:
            found = self._contains[key] = bool(self.model.walk_of(fn.node, kind))
        return found

    def _walruses(self, fn: FunctionInfo, stmt: cst.CSTNode) -> list[cst.NamedExpr]:
        """The walruses of `stmt`, a statement of `fn` (none looked for when `fn` has none)."""
        if not self.contains(fn, cst.NamedExpr):
            return []
        found = self._walrus.get(id(stmt))
        if found is None:
            found = self._walrus[id(stmt)] = _walrus_in(self.model, stmt)
            self._keep.append(stmt)
        return found

    def _completing_calls(self, stmt: cst.CSTNode) -> list[cst.Call]:
        """The calls of `stmt` that `_completes_here`, in order."""
        found = self._completing.get(id(stmt))
        if found is None:
            found = [c for c in _calls_in(self.model, stmt) if self._completes_here(c, stmt)]
            self._completing[id(stmt)] = found
            self._keep.append(stmt)
        return found

    def _completes_here(self, call: cst.Call, stmt: cst.CSTNode) -> bool:
        """The call runs to completion before the statement ends: it is the statement's
        expression, awaited, or the value assigned / returned / entered, not an argument
        of another call (`asyncio.create_task(self._gate(u))` runs it later)."""
        node: cst.CSTNode = call
        while node is not stmt:
            parent = self.model.parent(node)
            if parent is None or type(parent) not in _COMPLETING_PARENTS:
                return False
            node = parent
        return True

    def _assign(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        facts: frozenset[Fact],
        state: GuardState,
        fn: FunctionInfo,
    ) -> GuardState:
        if type(target) is cst.Name:
            return state.bind(target.value, facts)
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if (
                isinstance(value, (cst.Tuple, cst.List))
                and len(value.elements) == len(elements)
                and not any(type(e) is cst.StarredElement for e in value.elements)
            ):
                for element, item in zip(elements, value.elements, strict=True):
                    state = self._assign(
                        element.value, item.value, self.facts(item.value, state, fn), state, fn
                    )
                return state
            # `fd, path = tempfile.mkstemp()`, `for a, b in own_rows`: spread the facts;
            # `chat_id, uid = self._ids(body, __user__)`: each its item's.
            spread = facts & {TEMP, OWN}
            starred = any(type(e) is cst.StarredElement for e in elements)
            for i, element in enumerate(elements):
                items = frozenset() if starred else _items(facts, i)
                state = self._assign(element.value, None, spread | items, state, fn)
            return state
        if type(target) is cst.StarredElement:
            return self._assign(target.value, None, frozenset(), state, fn)
        return state

    def refine(self, fn: FunctionInfo, edge: Edge, state: GuardState) -> GuardState | None:
        if not state.roles:
            return None
        src = edge.src
        if src.kind in ("test", "assert") and edge.condition is not None:
            truth = self.truth(edge.condition, state, fn)
            if truth is not None:
                allowed = truth[0] if edge.kind == "true" else truth[1]
                narrowed = state.roles & allowed
                if not narrowed:
                    return None
                if src.kind == "test":  # an assert narrows nothing: it is no guard
                    state = state.with_roles(narrowed)
            if src.kind == "test":
                state = self._ownership(edge.condition, edge.kind == "true", state, fn)
        elif src.kind == "case" and type(src.stmt) is cst.MatchCase:
            return self._refine_case(src.stmt, edge.kind == "true", state, fn)
        return state

    def _refine_case(
        self, case: cst.MatchCase, matched: bool, state: GuardState, fn: FunctionInfo
    ) -> GuardState | None:
        match = self.model.parent(case)
        if type(match) is not cst.Match:
            return state
        if not any(f[0] == "role" for f in self.facts(match.subject, state, fn)):
            return state
        literals = _pattern_literals(case.pattern)
        if literals is None:
            return state
        true = frozenset(r for r in ROLES if r in literals)
        if case.guard is not None and matched:
            roles = state.roles & true
        elif case.guard is not None:
            return state  # the guard may fail: nothing is known
        else:
            roles = state.roles & (true if matched else ROLES - true)
        return state.with_roles(roles) if roles else None

    def _ownership(
        self, cond: cst.BaseExpression, truthy: bool, state: GuardState, fn: FunctionInfo
    ) -> GuardState:
        """`x.user_id == __user__["id"]` (or `!=` on the false edge): `x` and the id it was
        looked up by are the clicking user's own from here on."""
        while True:
            if type(cond) is cst.UnaryOperation and type(cond.operator) is cst.Not:
                cond, truthy = cond.expression, not truthy
            elif type(cond) is cst.Await:
                cond = cond.expression
            else:
                break
        if type(cond) is cst.Call and truthy:
            return self._owner_predicate(cond, state, fn)
        if type(cond) is not cst.Comparison or len(cond.comparisons) != 1:
            return state
        op = cond.comparisons[0].operator
        if not ((type(op) is cst.Equal and truthy) or (type(op) is cst.NotEqual and not truthy)):
            return state
        left, right = cond.left, cond.comparisons[0].comparator
        for a, b in ((left, right), (right, left)):
            record = _owner_field_base(a)
            if record is None or not self.facts(b, state, fn) & {UID}:
                continue
            state = state.add(record.value, OWN)
            for fact in state.facts(record.value):
                if fact[0] == "lookup" and fact[2]:
                    state = state.add(fact[2], OWN)
        return state

    def _owner_predicate(self, call: cst.Call, state: GuardState, fn: FunctionInfo) -> GuardState:
        """`Chats.is_chat_owner(cid, uid)` / `Files.check_access_by_user_id(fid, uid, ...)`
        held: the record id is the clicking user's."""
        method = lookup_model_method(self.model.resolve_name(call.func))
        if method is None or method.short not in _OWNER_PREDICATES:
            return state
        args = bind_arguments(call, method.params) or {}
        uid = args.get("user_id")
        record = args.get("id")
        if uid is None or record is None or not self.facts(uid, state, fn) & {UID}:
            return state
        if type(record) is cst.Name:
            return state.add(record.value, OWN)
        if isinstance(record, (cst.Subscript, cst.Attribute)):
            return state.add(_code(record), OWN)
        return state

    # --- summaries of module functions -------------------------------------------------

    def callee_of(self, call: cst.Call, fn: FunctionInfo) -> FunctionInfo | None:
        qual = self.model.resolve_callable(call.func, fn)
        return self.model.functions.get(qual) if qual else None

    def bind_params(
        self,
        call: cst.Call,
        callee: FunctionInfo,
        state: GuardState,
        fn: FunctionInfo,
        skip: int = 0,
    ) -> Env:
        params = callee.param_names()
        is_method = (
            bool(params)
            and params[0] in ("self", "cls")
            and (type(call.func) is cst.Attribute or callee.name == "__init__")
        )
        if is_method:
            params = params[1:]
        env: set[tuple[str, Fact]] = set()
        args = bind_arguments(call, params, skip) or {}
        for param, value in args.items():
            facts = self.facts(value, state, fn)
            if facts & LEAKY:
                env.add((param, MAY_LEAK))
            for fact in facts:
                if fact[0] != "lookup":
                    env.add((param, fact))
        # Closures see the caller's facts for names they do not bind themselves.
        if callee.parent is not None and callee.parent.qualname == fn.qualname:
            own = set(callee.param_names())
            env |= {p for p in state.env if p[0] not in own}
        return frozenset(env)

    def summary_for_call(
        self, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> _Summary | None:
        table = self._tables_for(fn, state.env)[_SUMMARY]
        key = id(call)
        if key in table:
            found: _Summary | None = table[key]
            return found
        callee = self.callee_of(call, fn)
        found = (
            None
            if callee is None
            else self.summary(callee, self.bind_params(call, callee, state, fn))
        )
        table[key] = found
        return found

    def summary(self, callee: FunctionInfo, env: Env) -> _Summary | None:
        """`callee` analysed with `env` at its entry.

        A recursive call (`callee` is being summarised) with the same `env` gets the summary
        as computed so far, iterated to a fixed point from "never returns" (`CycleTask`);
        with another `env`, None (nothing known), so that recursion cannot make new
        contexts without end.
        """
        key = (callee.qualname, env)
        if key in self._summaries:
            return self._summaries[key]
        task = self._tasks.find(("summary", callee.qualname))
        if isinstance(task, _SummaryTask):
            self._volatile = True  # an answer for this step only
            found: _Summary | None = self._tasks.recursive(task) if task.env == env else None
            return found
        # Inside a running analysis this suspends it until the summary is computed.
        self._tasks.run(_SummaryTask(self, callee, env))
        return self._summaries[key]

    def solve(self, cfg: CFG, flow: _Flow) -> dict[Node, GuardState]:
        """The IN states of `flow` over `cfg`, computing the summaries it asks for first."""
        found = self.reuse(flow.info.qualname, flow.entry)
        if found is not None:
            return found
        task = _SolveTask(self, Solver(cfg, flow))
        self._tasks.run(task)
        if not task.volatile:
            self._solved[(flow.info.qualname, flow.entry)] = (task.states, flow.kept)
        return task.states

    def reuse(self, qual: str, entry: GuardState) -> dict[Node, GuardState] | None:
        """The IN states of `qual` from `entry` if a finished solve gives them: one from the
        same state, or one from every role in the same env in which no state ever lost a
        role of `entry` (a helper called behind an admin guard, first solved for its
        summary). Then the facts only depend on the env, every edge and node feasible
        there is feasible for `entry.roles` alone and the other way round, so the solve
        from `entry` makes the same envs in the same order, with `entry.roles` throughout.
        """
        found = self._solved.get((qual, entry))
        if found is not None:
            return found[0]
        roles = entry.roles
        if not roles or roles == ROLES:
            return None
        wider = self._solved.get((qual, GuardState(ROLES, entry.env)))
        if wider is None or not roles <= wider[1]:
            return None
        states = {node: GuardState(roles, state.env) for node, state in wider[0].items()}
        self._solved[(qual, entry)] = (states, roles)
        return states

    def summarise(
        self, callee: FunctionInfo, cfg: CFG, flow: _Flow, states: Mapping[Node, GuardState]
    ) -> _Summary:
        true: set[str] = set()
        false: set[str] = set()
        exit_roles: set[str] = set()
        results: list[frozenset[Fact]] = []
        for edge in cfg.exit.preds:
            before = states.get(edge.src)
            if before is None:
                continue
            flowing = flow.refine(edge, flow.transfer(edge.src, before))
            if flowing is None or not flowing.roles:
                continue
            roles = flowing.roles
            exit_roles |= roles
            stmt = edge.src.stmt
            value = stmt.value if type(stmt) is cst.Return else None
            if value is None or (type(value) is cst.Name and value.value == "None"):
                false |= roles
                continue
            if not _neutral(value):
                results.append(_carried(self.facts(value, before, callee)))
            truth = self.truth(value, before, callee)
            if truth is None:
                true |= roles
                false |= roles
            else:
                true |= truth[0] & roles
                false |= truth[1] & roles
        result = frozenset.intersection(*results) if results else frozenset()
        return _Summary(frozenset(true), frozenset(false), frozenset(exit_roles), result)

    # --- the whole module --------------------------------------------------------------

    def run(self) -> AuthFacts:
        model = self.model
        action = model.action_method
        if action is None:
            return AuthFacts()
        params = action.param_names()
        env: set[tuple[str, Fact]] = set()
        for name, fact in (
            ("__user__", USER),
            ("body", BODY),
            ("__event_emitter__", EMITTER),
            ("__event_call__", EMITTER),
            ("__request__", REQUEST),
        ):
            if name in params:
                env.add((name, fact))
        entries: dict[str, GuardState] = {action.qualname: GuardState(ROLES, frozenset(env))}
        results: dict[str, dict[Node, GuardState]] = {}
        work: deque[str] = deque([action.qualname])
        budget = 40 * max(len(model.functions), 1)
        while work and budget > 0:
            budget -= 1
            qual = work.popleft()
            info = model.functions[qual]
            cfg = cfg_for(model, info)
            states = self.solve(cfg, _Flow(self, info, entries[qual]))
            results[qual] = states
            for site in model.call_sites.get(qual, []):
                callee = model.functions.get(site.callee)
                if callee is None:
                    continue
                state = self._site_state(cfg, states, site)
                if state is None:
                    continue
                skip = self._offload_skip(site, callee)
                call = site.node if type(site.node) is cst.Call else None
                bound = (
                    self.bind_params(call, callee, state, info, skip)
                    if call is not None and skip >= 0
                    else frozenset()
                )
                contribution = GuardState(state.roles, bound)
                old = entries.get(site.callee)
                new = contribution if old is None else join_states(old, contribution)
                if new != old:
                    entries[site.callee] = new
                    if site.callee not in work:
                        work.append(site.callee)
        facts = _Report(self, action, results).build()
        if not work:  # finished: what it never entered is dead
            facts.dead_functions = self._dead_functions(results)
        return facts

    def _dead_functions(self, results: Mapping[str, Mapping[Node, GuardState]]) -> frozenset[str]:
        """Functions `action` reaches in the call graph whose every call site reachable
        from `action` is in dead code (or in another such function)."""
        model = self.model
        dead: set[str] = set()
        changed = True
        while changed:
            changed = False
            for qual in model.reachable:
                if qual in results or qual in dead:
                    continue
                if all(
                    self._dead_site(site, results, dead) for site in model.callers.get(qual, [])
                ):
                    dead.add(qual)
                    changed = True
        return frozenset(dead)

    def _dead_site(
        self,
        site: CallSite,
        results: Mapping[str, Mapping[Node, GuardState]],
        dead: set[str],
    ) -> bool:
        if site.caller not in self.model.reachable or site.caller in dead:
            return True
        states = results.get(site.caller)
        if states is None:
            return False
        cfg = cfg_for(self.model, self.model.functions[site.caller])
        node = cfg.node_of(site.node, self.model)
        if node is None:
            return False
        state = states.get(node)
        return state is None or not state.roles

    def _site_state(
        self, cfg: CFG, states: Mapping[Node, GuardState], site: CallSite
    ) -> GuardState | None:
        node = cfg.node_of(site.node, self.model)
        state = states.get(node) if node is not None else None
        if state is None or not state.roles:
            return None
        return state

    def _offload_skip(self, site: CallSite, callee: FunctionInfo) -> int:
        """Leading arguments of an offloading call before the callee's own arguments."""
        if site.kind != "offload" or type(site.node) is not cst.Call:
            return 0
        for i, arg in enumerate(site.node.args):
            if self.model.resolve_callable(arg.value, callee) == callee.qualname:
                return i + 1
            target = arg.value
            if type(target) is cst.Attribute and target.attr.value == callee.name:
                return i + 1
            if type(target) is cst.Name and target.value == callee.name:
                return i + 1
        return -1


class _SolveTask:
    """One function's dataflow (`_Analysis.solve`)."""

    def __init__(self, analysis: _Analysis, solver: Solver[GuardState]) -> None:
        self.analysis = analysis
        self.solver = solver
        self.states: dict[Node, GuardState] = {}
        self.volatile = False  # some step read an approximation

    def step(self) -> None:
        try:
            self.states = self.solver.run()
        finally:
            self.volatile |= self.analysis._end_step()


class _SummaryTask(CycleTask):
    """A module function's summary for one entry environment (`_Analysis.summary`)."""

    def __init__(self, analysis: _Analysis, callee: FunctionInfo, env: Env) -> None:
        self.analysis = analysis
        self.callee = callee
        self.env = env
        self.key = (callee.qualname, env)
        self.tag = ("summary", callee.qualname)
        self.approximation = _NEVER_RETURNS
        self.cfg = cfg_for(analysis.model, callee)
        self.flow = _Flow(analysis, callee, GuardState(ROLES, env))
        self.solver = Solver(self.cfg, self.flow)
        self.states: dict[Node, GuardState] | None = None
        self.volatile = False  # some step of this round's solve read an approximation

    def step(self) -> None:
        analysis = self.analysis
        try:
            if self.states is None:
                entry = self.flow.entry
                states = analysis.reuse(self.callee.qualname, entry)
                if states is None:
                    states = self.solver.run()
                    if not self.volatile and not analysis._volatile:
                        solved = (self.callee.qualname, entry)
                        analysis._solved[solved] = (states, self.flow.kept)
                self.states = states
            summary = analysis.summarise(self.callee, self.cfg, self.flow, self.states)
        finally:
            self.volatile |= analysis._end_step()
        analysis._summaries[self.key] = summary

    def agrees(self) -> bool:
        return _same_summary(self.analysis._summaries[self.key], self.approximation)

    def next_round(self) -> None:
        self.approximation = self.analysis._summaries.pop(self.key)
        self.analysis._forget()
        self.flow.kept = self.flow.entry.roles
        self.solver = Solver(self.cfg, self.flow)
        self.states = None
        self.volatile = False

    def forget(self) -> None:
        self.analysis._summaries.pop(self.key, None)
        self.analysis._forget()


_NOTHING_KNOWN = _Summary(ROLES, ROLES, ROLES)
_NEVER_RETURNS = _Summary(_NONE, _NONE, _NONE)


def _same_summary(a: _Summary | None, b: _Summary | None) -> bool:
    """Equal as callers read them (None, no summary, reads as "nothing known")."""
    return (a or _NOTHING_KNOWN) == (b or _NOTHING_KNOWN)


def _carried(facts: frozenset[Fact]) -> frozenset[Fact]:
    """The facts a helper's return value hands back to its caller (provenance; a returned
    role test is the summary's predicate, not a fact of the value)."""
    return frozenset(f for f in facts if f in CARRIED or f[0] in ("item", "role"))


# How deep items of items are kept (`{"ctx": {"user": {"id": ...}}}`): a bound, so that a
# helper returning a dict that holds its own result cannot grow facts without end.
_MAX_ITEM_DEPTH = 3


def _item_carried(fact: Fact) -> bool:
    """Facts an item of a dict or tuple keeps: provenance, the role and role tests
    (`{"user_id": __user__["id"], "is_admin": __user__["role"] == "admin"}`)."""
    if fact[0] == "item":
        depth = 1
        inner = fact[2]
        while inner[0] == "item":
            depth += 1
            inner = inner[2]
        return depth < _MAX_ITEM_DEPTH
    return fact in CARRIED or fact[0] in ("role", "pred")


def _neutral(value: cst.BaseExpression) -> bool:
    """A returned constant (`""`, `0`, `False`, `{}`, `[]`): it names no record, so it does
    not stop a helper's other returns from handing back the user's own id."""
    if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)):
        return True
    if type(value) is cst.Name:
        return value.value in ("None", "True", "False")
    if isinstance(value, (cst.Dict, cst.List, cst.Tuple)):
        return not value.elements
    return False


def _pattern_literals(pattern: cst.MatchPattern) -> set[str] | None:
    """The strings `case "a" | "b":` matches; None when it matches anything else too."""
    out: set[str] = set()
    pending = [pattern]
    while pending:
        current = pending.pop()
        if type(current) is cst.MatchOr:
            pending += [element.pattern for element in current.patterns]
            continue
        value = string_value(current.value) if type(current) is cst.MatchValue else None
        if value is None:
            return None
        out.add(value)
    return out


def _owner_field_base(expr: cst.BaseExpression) -> cst.Name | None:
    """`x` in `x.user_id`, `x["user_id"]`, `x.get("user_id")`."""
    if type(expr) is cst.Attribute and expr.attr.value == "user_id":
        return expr.value if type(expr.value) is cst.Name else None
    if type(expr) is cst.Subscript and _subscript_key(expr) == "user_id":
        return expr.value if type(expr.value) is cst.Name else None
    if (
        type(expr) is cst.Call
        and type(expr.func) is cst.Attribute
        and expr.func.attr.value == "get"
        and expr.args
        and string_value(expr.args[0].value) == "user_id"
        and type(expr.func.value) is cst.Name
    ):
        return expr.func.value
    return None


def _norm(literal: str, case: str) -> str:
    if case == "upper":
        return literal.lower() if literal == literal.upper() else "\0"
    return literal


# --- finding operations and building the report --------------------------------------------


class _Report:
    def __init__(
        self,
        analysis: _Analysis,
        action: FunctionInfo,
        results: dict[str, dict[Node, GuardState]],
    ) -> None:
        self.analysis = analysis
        self.model = analysis.model
        self.action = action
        self.results = results
        self.has_user = "__user__" in action.param_names()
        self.findings: list[AuthFinding] = []
        self._nodes: dict[str, list[tuple[Node, GuardState]]] = {}

    def build(self) -> AuthFacts:
        ops: list[PrivilegedOp] = []
        for qual in self.results:
            ops += self.find_ops(qual)
        flagged: set[cst.CSTNode] = set()
        for op in ops:
            if op.state is None or "user" not in op.state.roles:
                continue
            finding = self.judge(op)
            if finding is not None:
                self.findings.append(finding)
                flagged.add(op.node)
        self.scan_role_tests()
        self.scan_leaks()
        order = {f: self.model.position(f.node).start.line for f in self.findings}
        findings = sorted(dict.fromkeys(self.findings), key=lambda f: (order[f], f.code))
        return AuthFacts(
            flagged_calls=frozenset(flagged),
            findings=tuple(findings),
            states=self.results,
            ops=ops,
            has_user_param=self.has_user,
        )

    # --- operations ---------------------------------------------------------------------

    def nodes(self, qual: str) -> list[tuple[Node, GuardState]]:
        """The feasible statement nodes of `qual` with their IN states (once: every pass of
        the report walks them)."""
        found = self._nodes.get(qual)
        if found is None:
            info = self.model.functions[qual]
            states = self.results[qual]
            found = self._nodes[qual] = [
                (node, state)
                for node in cfg_for(self.model, info).nodes
                if node.stmt is not None and (state := states.get(node)) is not None
            ]
        return found

    def find_ops(self, qual: str) -> list[PrivilegedOp]:
        info = self.model.functions[qual]
        analysis = self.analysis
        out: list[PrivilegedOp] = []
        for node, state in self.nodes(qual):
            stmt = node.stmt
            assert stmt is not None
            if type(stmt) in _DEFINITIONS:
                continue
            # Walrus bindings earlier in the same test are visible to its calls.
            for walrus in analysis._walruses(info, stmt):
                if type(walrus.target) is cst.Name:
                    state = state.bind(
                        walrus.target.value, analysis.facts(walrus.value, state, info)
                    )
            for call in _calls_in(self.model, stmt):
                op = self.classify_call(call, state, info)
                if op is not None:
                    out.append(op)
            write = self.classify_write(stmt, state, info)
            if write is not None:
                out.append(write)
        return out

    def classify_call(
        self, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> PrivilegedOp | None:
        model = self.model
        analysis = self.analysis
        names = model.resolve_name(call.func)
        imported = model.imported_name(call.func)

        def op(kind: OpKind, label: str, why: str, **extra: Any) -> PrivilegedOp:
            return PrivilegedOp(call, fn.qualname, kind, label, why, state, **extra)

        deferred = model.deferred_call(call)
        if deferred is not None and type(deferred.target) is not cst.Lambda:
            # A call made for the code (`asyncio.to_thread(Users.get_users)`): the operation
            # is the target's, with those arguments, reported at the runner.
            found = self.classify_call(deferred.call, state, fn)
            if found is not None:
                found.node = call
            return found

        extra = names & analysis.extra
        if extra:
            return op("privileged", f"`{min(extra)}`", "is listed as privileged in the config")
        method = lookup_model_method(imported or names)
        if method is not None:
            return self.classify_model_call(method, call, state, fn)
        for name in sorted(imported):
            entry = analysis.catalog.get(name)
            if entry is not None and self.catalog_applies(entry, call, state, fn):
                return op("privileged", f"`{name.removeprefix('builtins.')}`", _WHY[entry.category])
        http = self.admin_http(call, state, fn)
        if http is not None:
            return op("privileged", http, _WHY["http"])
        if (
            "builtins.setattr" in imported
            and call.args
            and CONFIG in analysis.facts(call.args[0].value, state, fn)
        ):
            return op("privileged", "`setattr(...app.state.config, ...)`", _WHY["config"])
        return None

    def classify_model_call(
        self, method: ModelMethod, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> PrivilegedOp | None:
        label = f"`{method.short}`"
        access = method.access
        if access == "free":
            return None
        if access == "admin":
            return PrivilegedOp(call, fn.qualname, "privileged", label, _WHY["admin"], state)
        if access == "bulk":
            return PrivilegedOp(call, fn.qualname, "privileged", label, _WHY["bulk"], state)
        scoped = self.analysis.scoped(method, call, state, fn)
        if access == "write":
            if scoped:
                return None
            return PrivilegedOp(call, fn.qualname, "privileged", label, _WHY["write"], state)
        # Reads.
        if scoped:
            return None
        if method.record is not None:
            return PrivilegedOp(
                call,
                fn.qualname,
                "lookup",
                label,
                "looks up a record by an id the user controls",
                state,
                record=method.record,
                result_name=self.result_name(call),
            )
        args = bind_arguments(call, method.params) or {}
        for param, kind in method.keys:
            if kind != "user":
                continue
            value = args.get(param)
            facts = self.analysis.facts(value, state, fn) if value is not None else frozenset()
            if not facts & {UID, USER, OWN_USER}:
                return PrivilegedOp(
                    call, fn.qualname, "privileged", label, _WHY["cross-read"], state
                )
        return None

    def catalog_applies(
        self, entry: CatalogEntry, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> bool:
        if entry.when == "always":
            return True
        first = call.args[0].value if call.args and not call.args[0].star else None
        if entry.when == "dynamic-arg":
            return first is not None and string_value(first) is None
        if first is None:
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "path":
                    first = arg.value
        if first is None:
            return False
        return TEMP not in self.analysis.facts(first, state, fn)

    def admin_http(self, call: cst.Call, state: GuardState, fn: FunctionInfo) -> str | None:
        """`requests.post(f"{base}/api/v1/users/{uid}/update")` and the like."""
        func = call.func
        names = self.model.imported_name(func)
        verb: str | None = None
        if type(func) is cst.Attribute and func.attr.value in _HTTP_METHODS:
            verb = func.attr.value
        elif any(n.startswith(_HTTP_MODULES) for n in names):
            verb = "request"
        if verb is None:
            return None
        url: cst.BaseExpression | None = None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "url":
                url = arg.value
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if url is None and positional:
            index = 1 if verb == "request" and len(positional) > 1 else 0
            url = positional[index].value
        if url is None:
            return None
        texts = [f[1] for f in self.analysis.facts(url, state, fn) if f[0] == "text"]
        for text in texts:
            path = admin_api_path(text)
            if path is not None:
                method = "" if verb == "request" else f"{verb.upper()} "
                return f"{method}`{path}`"
        return None

    def classify_write(
        self, stmt: cst.CSTNode, state: GuardState, fn: FunctionInfo
    ) -> PrivilegedOp | None:
        targets: list[cst.BaseExpression] = []
        if type(stmt) is cst.Assign:
            targets = [t.target for t in stmt.targets]
        elif type(stmt) is cst.AugAssign or type(stmt) is cst.AnnAssign or type(stmt) is cst.Del:
            targets = [stmt.target]
        for target in targets:
            if type(target) is cst.Subscript and "os.environ" in self.model.resolve_name(
                target.value
            ):
                return PrivilegedOp(
                    stmt, fn.qualname, "privileged", "`os.environ[...]`", _WHY["environ"], state
                )
            if type(target) is cst.Attribute or type(target) is cst.Subscript:
                base = target.value
                while isinstance(base, (cst.Attribute, cst.Subscript)):
                    if CONFIG in self.analysis.facts(base, state, fn):
                        return PrivilegedOp(
                            stmt,
                            fn.qualname,
                            "privileged",
                            f"`{_code(target)} = ...`",
                            _WHY["config"],
                            state,
                        )
                    base = base.value
        return None

    def result_name(self, call: cst.Call) -> str | None:
        node: cst.CSTNode = self.model.real_call(call)
        parent = self.model.parent(node)
        if type(parent) is cst.Await:
            node, parent = parent, self.model.parent(parent)
        if isinstance(parent, (cst.Assign, cst.AnnAssign)):
            targets = (
                [t.target for t in parent.targets]
                if isinstance(parent, cst.Assign)
                else [parent.target]
            )
            if len(targets) == 1 and type(targets[0]) is cst.Name:
                return targets[0].value
        return None

    # --- judging ------------------------------------------------------------------------

    def judge(self, op: PrivilegedOp) -> AuthFinding | None:
        where = self.path_text(op.function)
        if op.kind == "lookup":
            if not self.lookup_used_unchecked(op):
                return None
            record = op.record or "record"
            var = op.result_name or record
            fix = (
                f'check `{var}.user_id == __user__["id"]` before using it'
                if record != "user"
                else 'only look up `__user__["id"]`, or check `__user__["role"] == "admin"` first'
            )
            # Not "by changing it": the id may also come from a bulk read of the data layer.
            whose = "account" if record == "user" else record
            return AuthFinding(
                "OWA305",
                op.node,
                f"{op.label} looks up a {record} by an id that does not come from "
                f'`body["chat_id"]` or `__user__["id"]`, so whoever clicks can read '
                f"another user's {whose}; {fix}{where}",
            )
        if not self.has_user:
            return AuthFinding(
                "OWA303",
                op.node,
                f"{op.label} {op.why}, but `action` has no `__user__` parameter, so it cannot "
                "tell who clicked and runs it for everyone; add `__user__=None` to the "
                f'signature and check `__user__["role"] == "admin"` first{where}',
            )
        return AuthFinding(
            "OWA301",
            op.node,
            f"{op.label} runs for every user who clicks this button ({op.why}); check "
            f'`__user__["role"] == "admin"` first and return otherwise{where}',
        )

    def lookup_used_unchecked(self, op: PrivilegedOp) -> bool:
        """The looked-up record is used on some path before an ownership check or guard."""
        if op.result_name is None:
            return True
        qual = op.function
        call = op.node
        target = op.result_name
        tag = ("lookup", id(call))
        for node, state in self.nodes(qual):
            stmt = node.stmt
            assert stmt is not None
            if any(c is call for c in _calls_in(self.model, stmt)):
                continue
            if "user" not in state.roles:
                continue
            facts = state.facts(target)
            if not any(f[:2] == tag for f in facts) or OWN in facts:
                continue
            if not any(n.value == target for n in _names_in(self.model, stmt)):
                continue
            if _only_presence_or_owner_test(stmt, target):
                continue
            return True
        return False

    def unguarded_path(self, qual: str) -> tuple[CallSite, ...] | None:
        """Call sites from `action` to `qual` along which admin is not established."""
        start = self.action.qualname
        if qual == start:
            return ()
        paths: dict[str, tuple[CallSite, ...]] = {start: ()}
        queue: deque[str] = deque([start])
        while queue:
            current = queue.popleft()
            if current not in self.results:
                continue
            cfg = cfg_for(self.model, self.model.functions[current])
            for site in self.model.call_sites.get(current, []):
                if site.callee in paths or site.callee not in self.results:
                    continue
                state = self.analysis._site_state(cfg, self.results[current], site)
                if state is None or "user" not in state.roles:
                    continue
                paths[site.callee] = (*paths[current], site)
                if site.callee == qual:
                    return paths[qual]
                queue.append(site.callee)
        return None

    def path_text(self, qual: str) -> str:
        if qual == self.action.qualname:
            return ""
        path = self.unguarded_path(qual)
        if path is None:
            reach = self.model.reachable.get(qual)
            path = reach.path if reach else ()
        if not path:
            return ""
        first = self.model.position(path[0].node).start.line
        chain = join_chain([_display_callee(site) for site in path])
        return f" (line {first} reaches it through {chain})"

    # --- OWA302 ---------------------------------------------------------------------------

    def scan_role_tests(self) -> None:
        analysis = self.analysis
        seen: set[cst.CSTNode] = set()
        for qual in self.results:
            info = self.model.functions[qual]
            comparisons = analysis.contains(info, cst.Comparison)
            for node, state in self.nodes(qual):
                stmt = node.stmt
                assert stmt is not None
                for comparison in _comparisons_in(self.model, stmt) if comparisons else ():
                    if comparison in seen:
                        continue
                    seen.add(comparison)
                    test = analysis.role_test(comparison, state, info)
                    if test is not None and test[2]:
                        bad = ", ".join(f'"{b}"' for b in sorted(test[2]))
                        dead = not test[0] or not test[1]
                        consequence = (
                            "so this test always gives the same answer and the code it "
                            "protects is dead or unprotected"
                            if dead
                            else "so that part of the test never matches"
                        )
                        self.findings.append(
                            AuthFinding(
                                "OWA302",
                                comparison,
                                f"the role is compared with {bad}, which Open WebUI never "
                                f'uses (roles are only "user" and "admin"), {consequence}; '
                                'compare with "admin": `__user__["role"] == "admin"`',
                            )
                        )
                if node.kind == "case" and type(stmt) is cst.MatchCase:
                    self._case_literals(stmt, state, info)
                if node.kind == "assert":
                    self._assert_guard(node, state, info, seen)
                if node.kind == "test" and type(node.owner) is cst.If:
                    self._non_stopping_branch(node, state, info, seen)

    def _case_literals(self, case: cst.MatchCase, state: GuardState, fn: FunctionInfo) -> None:
        match = self.model.parent(case)
        if type(match) is not cst.Match:
            return
        if not any(f[0] == "role" for f in self.analysis.facts(match.subject, state, fn)):
            return
        literals = _pattern_literals(case.pattern) or set()
        bad = sorted(lit for lit in literals if lit not in ROLES)
        if bad:
            self.findings.append(
                AuthFinding(
                    "OWA302",
                    case.pattern,
                    f"`case {_code(case.pattern)}` matches a role Open WebUI never uses "
                    '(roles are only "user" and "admin"); match "admin" instead',
                )
            )

    def _assert_guard(
        self, node: Node, state: GuardState, fn: FunctionInfo, seen: set[cst.CSTNode]
    ) -> None:
        owner = node.owner
        assert_stmt = None
        if isinstance(node.stmt, cst.CSTNode):
            for parent in self.model.ancestors(node.stmt):
                if type(parent) is cst.Assert:
                    assert_stmt = parent
                    break
        if assert_stmt is None or assert_stmt in seen or owner is None:
            return
        test = node.stmt
        if not isinstance(test, cst.BaseExpression):
            return
        truth = self.analysis.truth(test, state, fn)
        if truth is None or truth == (ROLES, ROLES) or not truth[0] or not truth[1]:
            return
        seen.add(assert_stmt)
        self.findings.append(
            AuthFinding(
                "OWA302",
                assert_stmt,
                "`assert` is not a role check: `python -O` strips it, and a failed assert "
                "becomes an error toast rather than a refusal; write "
                '`if __user__["role"] != "admin": return ...` instead',
            )
        )

    def _non_stopping_branch(
        self, node: Node, state: GuardState, fn: FunctionInfo, seen: set[cst.CSTNode]
    ) -> None:
        """`if role != "admin": log(...)` with no return/raise: the refusal is only words."""
        stmt_if = node.owner
        assert type(stmt_if) is cst.If
        if stmt_if in seen or node.stmt is not stmt_if.test or stmt_if.orelse is not None:
            return
        truth = self.analysis.truth(stmt_if.test, state, fn)
        if truth is None or "admin" in truth[0] or "user" not in truth[0]:
            return  # the body is not the non-admin branch
        if "admin" not in truth[1]:
            return
        body = stmt_if.body
        stmts = list(body.body) if type(body) is cst.IndentedBlock else [body]
        if _always_stops(stmts) or not self._only_talks(stmts, state, fn):
            return
        seen.add(stmt_if)
        self.findings.append(
            AuthFinding(
                "OWA302",
                stmt_if.test,
                "the branch for non-admins only logs or notifies and then carries on, so "
                "what follows runs for every user; end it with `return` (or `raise`)",
            )
        )

    def _only_talks(
        self, stmts: Sequence[cst.CSTNode], state: GuardState, fn: FunctionInfo
    ) -> bool:
        """The branch logs, prints, notifies or emits (and may prepare a message in a
        variable), and does nothing else: a refusal in words only."""
        talked = False
        for stmt in stmts:
            if not isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                return False
            for small in stmt.body:
                if isinstance(small, (cst.Pass, cst.Assign, cst.AnnAssign)):
                    continue
                if type(small) is not cst.Expr:
                    return False
                value = small.value
                if type(value) is cst.Await:
                    value = value.expression
                if type(value) is not cst.Call:
                    return False
                name = _talk_name(value)
                if not (
                    name in _LOG_METHODS
                    or name == "print"
                    or any(word in name for word in _TALK_WORDS)
                    or self.analysis.is_emitter(value.func, state, fn)
                ):
                    return False
                talked = True
        return talked

    # --- OWA304 ---------------------------------------------------------------------------

    def scan_leaks(self) -> None:
        analysis = self.analysis
        for qual in self.results:
            info = self.model.functions[qual]
            for node, state in self.nodes(qual):
                stmt = node.stmt
                assert stmt is not None
                if type(stmt) in _DEFINITIONS:
                    continue
                if (
                    type(stmt) is cst.Return
                    and qual == self.action.qualname
                    and stmt.value is not None
                    and self.leaks(stmt.value, state, info)
                ):
                    self.leak(stmt, "returned from `action` (the browser receives it)")
                if type(stmt) is cst.Assign or type(stmt) is cst.AugAssign:
                    self._message_write(stmt, state, info)
                for call in _calls_in(self.model, stmt):
                    sink = self.sink(call, state, info)
                    if sink is None:
                        continue
                    kind, args = sink
                    if any(analysis.facts(a, state, info) & LEAKY for a in args):
                        self.leak(call, kind)

    def leaks(self, expr: cst.BaseExpression, state: GuardState, fn: FunctionInfo) -> bool:
        return bool(self.analysis.facts(expr, state, fn) & LEAKY)

    def leak(self, node: cst.CSTNode, where: str) -> None:
        self.findings.append(
            AuthFinding(
                "OWA304",
                node,
                f"the whole `__user__` dict is {where}; it carries the email, OAuth data and "
                "other plugins' per-user settings and secrets; use only the fields you need, "
                'such as `__user__["name"]` or `__user__["id"]`',
            )
        )

    def _message_write(
        self, stmt: cst.Assign | cst.AugAssign, state: GuardState, fn: FunctionInfo
    ) -> None:
        targets = (
            [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
        )
        for target in targets:
            base: cst.BaseExpression = target
            while isinstance(base, (cst.Subscript, cst.Attribute)):
                base = base.value
            if base is target or BODY not in self.analysis.facts(base, state, fn):
                continue
            if self.leaks(stmt.value, state, fn):
                self.leak(stmt, "written into the chat message")
                return

    def sink(
        self, call: cst.Call, state: GuardState, fn: FunctionInfo
    ) -> tuple[str, list[cst.BaseExpression]] | None:
        names = self.model.imported_name(call.func)
        func = call.func
        attr = func.attr.value if type(func) is cst.Attribute else None
        kind: str | None = None
        if "builtins.print" in names:
            kind = "printed to the server log"
        elif (attr is not None and any(n.startswith("logging.") for n in names)) or (
            attr in _LOG_METHODS and "log" in _code(cast(cst.Attribute, func).value).lower()
        ):
            kind = "logged"
        elif attr == "write" and _code(cast(cst.Attribute, func).value) in (
            "sys.stdout",
            "sys.stderr",
        ):
            kind = "printed to the server log"
        elif self.analysis.is_emitter(func, state, fn):
            kind = "sent to the browser in an event"
        if kind is not None:
            return kind, [a.value for a in call.args]
        if attr in _HTTP_METHODS or any(n.startswith(_HTTP_MODULES) for n in names):
            payload = [
                a.value
                for a in call.args
                if a.keyword is not None and a.keyword.value in _HTTP_PAYLOAD_KEYWORDS
            ]
            if payload:
                return "sent over HTTP", payload
        return None


_WHY = {
    "process": "it runs a program on the server",
    "code": "it runs code on the server",
    "import": "it imports a module chosen at run time",
    "environ": "it changes the server's environment variables",
    "rmtree": "it deletes a directory tree that is not a temporary one",
    "config": "it changes the server's configuration",
    "http": "it calls Open WebUI's admin API",
    "admin": "it changes accounts, roles, credentials, server code or access control",
    "bulk": "it reads every user's records",
    "write": "it changes data that is not the clicking user's own",
    "cross-read": "it reads another user's data",
}


def _display_callee(site: CallSite) -> str:
    """The callee as written at the call (`self._purge`), else its qualified name."""
    if site.kind == "call" and type(site.node) is cst.Call:
        text = _code(site.node.func)
        if len(text) <= 40 and "\n" not in text:
            return f"`{text}`"
    return f"`{site.callee}`"


def _comparisons_in(model: ActionModule, node: cst.CSTNode) -> list[cst.Comparison]:
    return model.scoped(node, cst.Comparison)


def _only_presence_or_owner_test(stmt: cst.CSTNode, name: str) -> bool:
    """`x`, `not x`, `x is None`, `x.user_id != uid`: tests that do not use the record."""
    expr = stmt
    while type(expr) is cst.UnaryOperation and type(expr.operator) is cst.Not:
        expr = expr.expression
    if type(expr) is cst.Name:
        return expr.value == name
    if type(expr) is cst.Comparison and len(expr.comparisons) == 1:
        left, right = expr.left, expr.comparisons[0].comparator
        if type(left) is cst.Name and left.value == name:
            return type(right) is cst.Name and right.value == "None"
        for side in (left, right):
            base = _owner_field_base(side)
            if base is not None and base.value == name:
                return True
    return False


def _always_stops(stmts: Sequence[cst.CSTNode]) -> bool:
    """Every way through `stmts` ends in `return` / `raise` / `break` / `continue` (an
    `if` / `elif` chain is followed branch by branch, with a stack: chains can be long)."""
    pending = [stmts]
    while pending:
        current = pending.pop()
        if not current:
            return False
        last = current[-1]
        if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            if not any(
                isinstance(s, (cst.Return, cst.Raise, cst.Break, cst.Continue)) for s in last.body
            ):
                return False
        elif type(last) is cst.If:
            if last.orelse is None:
                return False
            body = list(last.body.body) if type(last.body) is cst.IndentedBlock else [last.body]
            other = last.orelse
            rest = (
                [other]
                if type(other) is cst.If
                else list(other.body.body)
                if type(other.body) is cst.IndentedBlock
                else [other.body]
            )
            pending += [rest, body]
        elif isinstance(last, (cst.Try, cst.With)):
            pending.append(
                list(last.body.body) if type(last.body) is cst.IndentedBlock else [last.body]
            )
        # Loops and others: not a plain fall-through we can be sure of (they count as stops).
    return True


def _talk_name(call: cst.Call) -> str:
    func = call.func
    if type(func) is cst.Attribute:
        return func.attr.value.lower()
    return func.value.lower() if type(func) is cst.Name else ""


# --- `owui-lint debug-cfg` ------------------------------------------------------------------


def debug_report(
    model: ActionModule, settings: Settings | None = None, every_function: bool = False
) -> str:
    """The control-flow graph of `action` (and, with `every_function`, of every function it
    reaches): nodes with their line and guard state, edges, then each privileged operation
    with the guard state before it and the rule it triggers."""
    from analyzer.flow.cfg import describe_node  # local: only the debug command needs it

    action = model.action_method
    if action is None:
        return "no `action` method: nothing to analyse\n"
    facts = authorization_facts(model, settings)
    quals = [action.qualname]
    if every_function:
        quals += [q for q in facts.states if q != action.qualname]
    lines: list[str] = []
    for qual in quals:
        info = model.functions[qual]
        cfg = cfg_for(model, info)
        states = facts.states.get(qual, {})
        start = model.position(info.node).start.line
        lines.append(f"{qual} (line {start}): {len(cfg.nodes)} nodes")
        for node in cfg.nodes:
            state = states.get(node)
            roles = "unreachable" if state is None else "roles " + "|".join(sorted(state.roles))
            edges = ", ".join(_edge_text(e) for e in node.succs) or "-"
            lines.append(f"  {describe_node(node, model)}  [{roles}]  -> {edges}")
        lines.append("")
    flagged = {f.node: f.code for f in facts.findings if f.code in ("OWA301", "OWA303", "OWA305")}
    shown = [op for op in facts.ops if every_function or op.function == action.qualname]
    lines.append("privileged operations:" if shown else "privileged operations: none")
    for op in sorted(shown, key=lambda o: model.position(o.node).start.line):
        line = model.position(op.node).start.line
        guard = describe_roles(op.state.roles) if op.state else "unreachable"
        verdict = flagged.get(op.node, "ok")
        kind = " (lookup)" if op.kind == "lookup" else ""
        lines.append(f"  L{line} {op.label}{kind} in {op.function}: {guard} -> {verdict}")
    if not every_function:
        others = [op for op in facts.ops if op.function != action.qualname]
        if others:
            lines.append(f"  ({len(others)} more in helpers: use --all)")
    return "\n".join(lines) + "\n"


def _edge_text(edge: Edge) -> str:
    return f"{edge.dst.id}" if edge.kind == "normal" else f"{edge.dst.id} ({edge.kind})"
