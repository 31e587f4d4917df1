"""A small, reusable taint analysis over the control-flow graphs of the module's functions.

**Sources** (labels): `body` and everything derived from it (`BODY`); model output, the
result of `generate_chat_completion` and friends (`MODEL`); `__user__` fields (`USER`, low
confidence: the user's own profile), except `__user__["valves"]` (`USER_VALVES`, any user
sets them); answers of `__event_call__` other than confirmations (`INPUT`). Admin `Valves`
(`self.valves.*`) and instance attributes are trusted.

**Propagation** is flow-sensitive inside a function (a forward dataflow over `cfg.py`, state =
which local names carry which labels, union at merges): assignments replace, `x["k"] = v`,
`x.append(v)`, `x += v` add, `for` / `with` / comprehension targets take their iterable's
labels (the counter of `for i, x in enumerate(xs)` is clean). Expressions carry the union
of their parts (f-strings, `+`, `%`, `.format`, method calls on a tainted receiver,
containers). Comparisons, `len()`, `int()` and the like are clean. A call of a
`TaintPolicy.sanitizers` name, or one its `sanitizer_call` accepts, is clean. A policy may
trust server-set `__user__` fields (`__user__["id"]`), make awaited library calls opaque,
and treat `action`'s injected objects (`__request__`, the emitter) as sources.

**Between functions** of the module: each function is analysed once with its parameters as
symbolic labels (`Label("param", name)`). A helper call's result is the helper's return
taint with the parameter labels replaced by the argument taints at that call (so
`_escape(x)` stays clean and `_wrap(x)` carries `x`'s labels). What a parameter holds is
the union over the call sites of functions reachable from `action` (context-insensitive),
including calls made for you: `asyncio.to_thread(f, a)`, `loop.run_in_executor(None, f, a)`
and `functools.partial(f, a)` bind `a` to `f`'s first parameter.
Summaries wait for each other on an explicit stack (`dataflow.Tasks`), not on Python's; a
recursive helper's return taint is the least fixed point (`dataflow.CycleTask`).

Calls of functions outside the module are assumed to pass their arguments' taint through
(`markdown.markdown(text)` is as tainted as `text`). Names from enclosing functions
(closures) and instance attributes are not tracked.
**One analysis for every policy**: policies differ only in what cleans a value, so a module
is analysed once for all of them (`_SharedTaint`); a taint is an int holding one block of
label bits per policy (`_Layout`), and every step treats each block alone, so a policy's
block is exactly what an analysis under that policy alone would give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

import libcst as cst

from analyzer.flow.cfg import CFG, Node, cfg_for
from analyzer.flow.dataflow import (
    SHALLOW,
    CycleTask,
    ForwardAnalysis,
    Solver,
    Tasks,
    TooDeep,
    operands_bottom_up,
)
from analyzer.flow.events import (
    DictV,
    Evaluator,
    bind_arguments,
    const_str,
    event_facts,
    subscript_key,
    unwrap_await,
)
from analyzer.model import ActionModule, CallSite, FunctionInfo

LabelKind = Literal["body", "model", "user", "user_valves", "input", "object", "param"]


@dataclass(frozen=True, order=True)
class Label:
    kind: LabelKind
    detail: str = ""  # the parameter name for "param" and "object" labels

    def describe(self) -> str:
        return LABEL_TEXT.get(self.kind, self.kind)


BODY = Label("body")
MODEL = Label("model")
USER = Label("user")
USER_VALVES = Label("user_valves")
INPUT = Label("input")

LABEL_TEXT: dict[str, str] = {
    "body": "`body` (client-controlled chat content)",
    "model": "model output",
    "user": "`__user__` fields",
    "user_valves": "UserValves (any user sets them)",
    "input": "an `input` answer",
    "object": "an injected per-request object",
    "param": "a parameter",
}

# Injected per-request objects (`TaintPolicy.objects`): `__event_emitter__`, ... themselves.
INJECTED_OBJECTS: tuple[str, ...] = (
    "__event_emitter__",
    "__event_call__",
    "__request__",
    "__model__",
)

Taint = frozenset[Label]
CLEAN: Taint = frozenset()

# Results of these calls are model output (matched on the last dotted component).
MODEL_OUTPUT_CALLS: frozenset[str] = frozenset(
    {
        "generate_chat_completion",
        "generate_openai_chat_completion",
        "generate_ollama_chat_completion",
        "generate_direct_chat_completion",
        "chat_completion",
    }
)

# Builtins whose result carries no attacker-controlled text.
CLEAN_CALLS: frozenset[str] = frozenset(
    {
        "len",
        "int",
        "float",
        "bool",
        "round",
        "abs",
        "isinstance",
        "issubclass",
        "hasattr",
        "callable",
        "hash",
        "id",
        "ord",
        "range",
        "type",
        "time.time",
        "uuid.uuid4",
    }
)

# Encoders whose output alphabet cannot break out of a string or open a tag.
ENCODERS: frozenset[str] = frozenset(
    {
        "base64.b64encode",
        "base64.urlsafe_b64encode",
        "base64.standard_b64encode",
        "urllib.parse.quote",
        "urllib.parse.quote_plus",
        "urllib.parse.urlencode",
    }
)


# A policy's own test for a sanitising call (`name.replace("/", "_")` for file names).
CallSanitizer = Callable[[ActionModule, cst.Call], bool]


# Every policy built so far: what the shared analysis of a module covers.
_POLICIES: list[TaintPolicy] = []


@dataclass(frozen=True)
class TaintPolicy:
    """What cleans a value for one kind of sink.

    `trusted_user_keys`: `__user__` fields the server sets (`id`, `role`): reading one of them
    (`__user__["id"]`, `__user__.get("id")`) gives a clean value. `objects`: `action`'s
    injected objects (`INJECTED_OBJECTS`) are sources themselves (`Label("object", name)`).
    `sanitizer_call`: a test for calls that clean a value beyond the named `sanitizers`.
    `opaque_awaited`: an awaited call of a function outside the module (`await
    generate_speech(request, user)`) gives a new object, not its arguments' taint.
    `writes_taint`: `f.write(x)` makes `f` hold `x` (a buffer read back later); a path
    policy turns it off, since what is written into a file never becomes its name
    (`tmp = NamedTemporaryFile(); tmp.write(data); open(tmp.name)`).
    """

    name: str
    sanitizers: frozenset[str] = field(default_factory=frozenset)
    trusted_user_keys: frozenset[str] = field(default_factory=frozenset)
    objects: bool = False
    sanitizer_call: CallSanitizer | None = None
    opaque_awaited: bool = False
    writes_taint: bool = True

    def __post_init__(self) -> None:
        # Known before any module is analysed: one analysis serves every policy.
        if self not in _POLICIES:
            _POLICIES.append(self)

    def is_sanitizer(self, names: Iterable[str]) -> bool:
        return any(n in self.sanitizers for n in names)


# OWA406: text that becomes JavaScript source.
JS_POLICY = TaintPolicy(
    "javascript",
    frozenset({"json.dumps", "html.escape", *ENCODERS}),
)
# OWA408: text that becomes HTML.
HTML_POLICY = TaintPolicy(
    "html",
    frozenset(
        {
            "html.escape",
            "markupsafe.escape",
            "markupsafe.Markup.escape",
            "bleach.clean",
            "nh3.clean",
            *ENCODERS,
        }
    ),
)

# --- all policies at once -------------------------------------------------------------------
#
# The policies differ only in what cleans a value, so one analysis serves them all: a taint
# is an int with one block of bits per policy (`_Layout`), each block the labels that policy
# sees. Every step works on each block alone (a union is `|`, a sanitiser clears its
# policies' blocks), so block `p` is exactly what an analysis under policy `p` alone gives.

Bits = int
# Name -> its labels (never 0). Never changed once built: a new state is a new dict.
State = Mapping[str, Bits]


# Label positions inside a block; parameters follow.
_FIXED: tuple[Label, ...] = (
    BODY,
    MODEL,
    USER,
    USER_VALVES,
    INPUT,
    *(Label("object", n) for n in INJECTED_OBJECTS),
)
_USER_AT = _FIXED.index(USER)
_VALVES_AT = _FIXED.index(USER_VALVES)
assert _VALVES_AT == _USER_AT + 1  # `_field` moves USER bits onto USER_VALVES by a shift


def is_low_confidence(taint: Taint) -> bool:
    """Only `__user__` fields (the clicking user's own profile): report with low confidence."""
    return bool(taint) and all(label.kind == "user" for label in taint)


def describe_taint(taint: Taint) -> str:
    """`body` (…) and model output — for messages, most serious first."""
    order = ["body", "model", "user_valves", "input", "user", "object"]
    kinds = sorted({label.kind for label in taint if label.kind != "param"}, key=order.index)
    texts = [LABEL_TEXT[k] for k in kinds]
    if len(texts) <= 1:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " and " + texts[-1]


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    """The names an assignment target binds (`a`, `a, (b, *c)`), left to right."""
    pending = [target]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Name):
            yield current.value
        elif isinstance(current, (cst.Tuple, cst.List)):
            pending += [element.value for element in reversed(current.elements)]
        elif isinstance(current, cst.StarredElement):
            pending.append(current.value)


def _root_name(expr: cst.BaseExpression) -> str | None:
    """`x` for `x`, `x["a"]`, `x.a["b"]` (not for `self.x`)."""
    current = expr
    while isinstance(current, (cst.Subscript, cst.Attribute)):
        current = current.value
    if isinstance(current, cst.Name) and current.value not in ("self", "cls"):
        return current.value
    return None


def _assign(state: State, names: Iterable[str], taint: Bits, *, strong: bool) -> State:
    if not strong and not taint:
        return state
    out = dict(state)
    for name in names:
        if strong:
            if taint:
                out[name] = taint
            else:
                out.pop(name, None)
        else:
            out[name] = out.get(name, 0) | taint
    return out


class _Layout:
    """Which bit is which (policy, label): bit `p * width + i` is label `labels[i]` under
    policy `policies[p]`. Parameter labels are the module's parameter names."""

    def __init__(self, model: ActionModule, policies: tuple[TaintPolicy, ...]) -> None:
        self.policies = policies
        params = sorted({n for info in model.functions.values() for n in info.param_names()})
        self.labels: tuple[Label, ...] = (*_FIXED, *(Label("param", n) for n in params))
        self.param_at = {n: len(_FIXED) + i for i, n in enumerate(params)}
        width = self.width = len(self.labels)
        block = self.block = (1 << width) - 1
        self.blocks = [block << (p * width) for p in range(len(policies))]
        self.all = sum(self.blocks)

        def every(bits: Bits) -> Bits:
            return sum(bits << (p * width) for p in range(len(policies)))

        def where(test: Callable[[TaintPolicy], bool]) -> Bits:
            return sum(b for b, policy in zip(self.blocks, policies, strict=True) if test(policy))

        self.every = every
        self.params = every(block ^ ((1 << len(_FIXED)) - 1))
        # Each parameter's label under every policy.
        self.param_bits = {n: every(1 << at) for n, at in self.param_at.items()}
        self.user = every(1 << _USER_AT)
        self.model_output = every(1 << _FIXED.index(MODEL))
        self.input = every(1 << _FIXED.index(INPUT))
        self.objects = where(lambda p: p.objects)
        self.writes = where(lambda p: p.writes_taint)
        self.opaque_awaited = where(lambda p: p.opaque_awaited)
        # `sanitized`: most calls name no sanitiser, and few policies have a test of their own.
        self.sanitizer_names = frozenset(n for p in policies for n in p.sanitizers)
        self.sanitizer_calls = [
            (b, p.sanitizer_call)
            for b, p in zip(self.blocks, policies, strict=True)
            if p.sanitizer_call is not None
        ]
        # The USER bits of the policies that trust a `__user__` field.
        self.trusted: dict[str, Bits] = {}
        for block, policy in zip(self.blocks, policies, strict=True):
            for key in policy.trusted_user_keys:
                self.trusted[key] = self.trusted.get(key, 0) | (block & self.user)

    def label_bits(self, label: Label) -> Bits:
        """`label` under every policy."""
        return self.every(1 << self.labels.index(label))

    def sanitized(self, model: ActionModule, call: cst.Call, names: frozenset[str]) -> Bits:
        """The blocks of the policies for which `call` cleans its value."""
        out = 0
        if not self.sanitizer_names.isdisjoint(names):
            for block, policy in zip(self.blocks, self.policies, strict=True):
                if not policy.sanitizers.isdisjoint(names):
                    out |= block
        for block, test in self.sanitizer_calls:
            if not out & block and test(model, call):
                out |= block
        return out

    def substitute(self, taint: Bits, params: Mapping[str, Bits]) -> Bits:
        """`taint` with each parameter label replaced by what `params` gives for it, under
        the same policy."""
        symbolic = taint & self.params
        out = taint ^ symbolic
        if not symbolic:
            return out
        param_at, param_bits, block = self.param_at, self.param_bits, self.block
        for name, given in params.items():
            present = symbolic & param_bits.get(name, 0)
            if present and given:
                # `present >> at` has one bit at the start of each policy's block where the
                # label is; times `block`, those whole blocks (they do not overlap).
                out |= given & ((present >> param_at[name]) * block)
        return out

    def decode(self, taint: Bits, slot: int) -> Taint:
        """The labels of `taint` under `policies[slot]`."""
        block = (taint >> (slot * self.width)) & ((1 << self.width) - 1)
        out: list[Label] = []
        while block:
            low = block & -block
            block ^= low
            out.append(self.labels[low.bit_length() - 1])
        return frozenset(out)


class _FunctionTaint(ForwardAnalysis[State]):
    def __init__(self, engine: _SharedTaint, info: FunctionInfo, initial: State) -> None:
        self.engine = engine
        self.info = info
        self._initial = initial

    def initial(self) -> State:
        return self._initial

    def join(self, a: State, b: State) -> State:
        if a is b:
            return a
        out = dict(a)
        for name, bits in b.items():
            old = out.get(name)
            out[name] = bits if old is None else old | bits
        return out

    def transfer(self, node: Node, state: State) -> State:
        stmt = node.stmt
        if stmt is None:
            return state
        taint_of = self.engine.expr_taint
        info = self.info
        if node.kind == "for" and isinstance(node.owner, cst.For):
            t = taint_of(node.owner.iter, state, info)
            target: cst.BaseExpression = node.owner.target
            counter = self.engine.enumerate_counter(node.owner.iter, target)
            if counter is not None:  # `for i, x in enumerate(xs)`: `i` is a number
                state = _assign(state, [counter], 0, strong=True)
                target = cst.ensure_type(target, cst.Tuple).elements[1].value
            return _assign(state, _target_names(target), t, strong=True)
        kind = type(stmt)
        if node.kind == "with" and kind is cst.WithItem:
            item = cast(cst.WithItem, stmt)
            if item.asname is not None:
                t = taint_of(item.item, state, info)
                return _assign(state, _target_names(item.asname.name), t, strong=True)
            return state
        state = self._walrus(stmt, state)
        if kind is cst.Assign:
            assign = cast(cst.Assign, stmt)
            t = taint_of(assign.value, state, info)
            for assign_target in assign.targets:
                state = self._store(assign_target.target, t, state)
        elif kind is cst.AnnAssign:
            annotated = cast(cst.AnnAssign, stmt)
            if annotated.value is not None:
                t = taint_of(annotated.value, state, info)
                state = self._store(annotated.target, t, state)
        elif kind is cst.AugAssign:
            augmented = cast(cst.AugAssign, stmt)
            root = _root_name(augmented.target)
            if root is not None:
                t = taint_of(augmented.value, state, info)
                state = _assign(state, [root], t, strong=False)
        elif kind is cst.Expr:
            state = self._mutating_call(cast(cst.Expr, stmt).value, state)
        return state

    def _store(self, target: cst.BaseExpression, taint: Bits, state: State) -> State:
        if isinstance(target, (cst.Name, cst.Tuple, cst.List)):
            return _assign(state, _target_names(target), taint, strong=True)
        root = _root_name(target)
        if root is not None:  # x["k"] = v, x.attr = v: x now holds v too
            return _assign(state, [root], taint, strong=False)
        return state

    def _mutating_call(self, expr: cst.BaseExpression, state: State) -> State:
        call = unwrap_await(expr)
        if type(call) is not cst.Call:
            return state
        func = call.func
        if type(func) is not cst.Attribute:
            return state
        method = func.attr.value
        if method not in _MUTATORS:
            return state
        root = _root_name(func.value)
        if root is None:
            return state
        t = 0
        for arg in call.args:
            t |= self.engine.expr_taint(arg.value, state, self.info)
        if method == "write":  # not for the policies where a write never taints the file
            t &= self.engine.layout.writes
        return _assign(state, [root], t, strong=False) if t else state

    def _walrus(self, stmt: cst.CSTNode, state: State) -> State:
        if not self.engine.walruses:
            return state
        for node in self.engine.model.scoped(stmt, cst.NamedExpr, lambdas=False):
            if isinstance(node.target, cst.Name):
                t = self.engine.expr_taint(node.value, state, self.info)
                state = _assign(state, [node.target.value], t, strong=True)
        return state


_MUTATORS = frozenset(
    {"append", "extend", "insert", "update", "add", "setdefault", "write", "appendleft"}
)


@dataclass
class FunctionSummary:
    """One function analysed with symbolic parameters."""

    cfg: CFG
    states: dict[Node, State]
    returns: Bits


@dataclass
class _CallFacts:
    """What `_SharedTaint._call` needs about one call that no state changes."""

    call: cst.Call
    info: FunctionInfo
    # 0: evaluate; 1: clean; 2: model output; 3: an `__event_call__` answer.
    outcome: int
    kill: Bits  # the blocks of the policies for which the result is clean
    callee: FunctionInfo | None = None
    binding: dict[str, cst.BaseExpression] | None = None
    answer: Bits = 0


_CONSTANTS = frozenset({cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary})
_Pair = cst.ConcatenatedString | cst.BinaryOperation | cst.BooleanOperation
_PAIRS = frozenset({cst.ConcatenatedString, cst.BinaryOperation, cst.BooleanOperation})
_Sequence = cst.List | cst.Tuple | cst.Set
_SEQUENCES = frozenset({cst.List, cst.Tuple, cst.Set})
_Comprehension = cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp})


class _SharedTaint:
    """The taint analysis of one module under several policies at once (see `_Layout`)."""

    def __init__(self, model: ActionModule, policies: tuple[TaintPolicy, ...]) -> None:
        self.model = model
        self.policies = policies
        self.layout = _Layout(model, policies)
        self._summaries: dict[str, FunctionSummary] = {}
        # Summaries being computed wait for each other here, not on the Python stack.
        self._tasks = Tasks()
        # `params_of`: what each parameter may hold, for the functions settled so far.
        self._params: dict[str, dict[str, Bits]] = {}
        self._settled: set[str] = set()
        self._callers: dict[str, list[CallSite]] | None = None
        # `_expr`: how deep the current evaluation is, and its memo.
        self._depth = 0
        self._memo: _Memo | None = None
        self._calls: dict[int, _CallFacts] = {}  # by `id(call)`: the module keeps them alive
        self.walruses = model.index.has(cst.NamedExpr)  # most modules have none

    # --- per-function analysis ------------------------------------------------------------

    def initial_state(self, info: FunctionInfo) -> State:
        layout = self.layout
        names = info.param_names()
        out: dict[str, Bits] = {}
        if info is self.model.action_method:
            if "body" in names:
                out["body"] = layout.label_bits(BODY)
            if "__user__" in names:
                out["__user__"] = layout.user
            if layout.objects:
                for n in INJECTED_OBJECTS:
                    if n in names:
                        out[n] = layout.label_bits(Label("object", n)) & layout.objects
            return out
        skip = 1 if info.class_name is not None and names and names[0] in ("self", "cls") else 0
        for n in names[skip:]:
            at = layout.param_at.get(n)
            if at is not None:  # always: the layout has every parameter of the module
                out[n] = layout.every(1 << at)
        return out

    def summary(self, info: FunctionInfo) -> FunctionSummary:
        """The function analysed with symbolic parameters (for a recursive call, while it is
        being analysed: the summary so far, see `CycleTask`)."""
        found = self._summaries.get(info.qualname)
        if found is not None:
            return found
        task = self._tasks.find(("taint", info.qualname))
        if isinstance(task, _SummaryTask):
            # Recursive: the summary so far, iterated to a fixed point (`CycleTask`).
            approximation: FunctionSummary = self._tasks.recursive(task)
            return approximation
        # Inside a running analysis this suspends it until the summary is computed.
        self._tasks.run(_SummaryTask(self, info))
        return self._summaries[info.qualname]

    def state_at(self, node: cst.CSTNode, info: FunctionInfo) -> State | None:
        """The symbolic state before the statement holding `node` (None: unreachable)."""
        summary = self.summary(info)
        cfg_node = summary.cfg.node_of(node, self.model)
        if cfg_node is None:
            return None
        return summary.states.get(cfg_node)

    # --- expressions -----------------------------------------------------------------------

    def expr_taint(self, expr: cst.BaseExpression, state: State, info: FunctionInfo) -> Bits:
        """Symbolic labels of `expr` evaluated in `state` (parameter labels unresolved)."""
        return self._evaluate(expr, state, info, {})  # a new scope: always a new evaluation

    def _expr(
        self,
        expr: cst.BaseExpression,
        state: State,
        info: FunctionInfo,
        local: Mapping[str, Bits],
    ) -> Bits:
        """`_taint` of `expr`, recursing at most `SHALLOW` operands deep (see
        `guards._Analysis._bounded`); when deeper, each operand evaluated once, bottom-up."""
        memo = self._memo
        if memo is None or not (memo.state is state and memo.info is info and memo.local is local):
            return self._evaluate(expr, state, info, local)
        table = memo.table
        if table is not None:  # bottom-up: the operands below are known
            known = table.get(id(expr))
            if known is not None:
                return known
        entry = self._depth
        if entry >= SHALLOW:
            raise TooDeep
        # No `finally`: whatever leaves here leaves the `_evaluate` that resets the depth.
        self._depth = entry + 1
        value = self._taint(expr, state, info, local)
        self._depth = entry
        if table is not None:
            table[id(expr)] = value
        return value

    def _evaluate(
        self,
        expr: cst.BaseExpression,
        state: State,
        info: FunctionInfo,
        local: Mapping[str, Bits],
    ) -> Bits:
        """A new evaluation (its own memo); bottom-up when deeper than `SHALLOW`
        (`"<b>" + a + "</b>" + ...` nests to the left, one level per operand)."""
        saved = (self._memo, self._depth)
        memo = self._memo = _Memo(state, info, local)
        self._depth = 0
        try:
            try:
                return self._expr(expr, state, info, local)
            except TooDeep:
                pass
            table = memo.table = {}
            for operand in operands_bottom_up(self.model, expr, _opaque, if_tests=False):
                self._depth = 0
                self._expr(operand, state, info, local)
            return table[id(expr)]
        finally:
            self._memo, self._depth = saved

    def _taint(
        self,
        expr: cst.BaseExpression,
        state: State,
        info: FunctionInfo,
        local: Mapping[str, Bits],
    ) -> Bits:
        # Dispatch on the exact node type: LibCST's classes are ABCs, so each `isinstance`
        # against them runs `ABCMeta.__instancecheck__` (a tenth of a run spent there when
        # this was a chain of them); the parser only builds these concrete classes.
        rec = self._expr
        kind = type(expr)
        if kind is cst.Name:
            name = cast(cst.Name, expr).value
            if name in local:
                return local[name]
            return state.get(name, 0)
        if kind is cst.Attribute:
            attribute = cast(cst.Attribute, expr)
            owner = attribute.value
            if type(owner) is cst.Name and owner.value in ("self", "cls"):
                return 0  # admin valves and instance attributes are trusted
            return self._field(rec(owner, state, info, local), attribute.attr.value)
        if kind is cst.Call:
            return self._call(cast(cst.Call, expr), state, info, local)
        if kind in _CONSTANTS:
            return 0
        if kind is cst.Subscript:
            subscript = cast(cst.Subscript, expr)
            return self._field(rec(subscript.value, state, info, local), subscript_key(subscript))
        if kind is cst.FormattedString:
            out = 0
            for part in cast(cst.FormattedString, expr).parts:
                if type(part) is cst.FormattedStringExpression:
                    out |= rec(part.expression, state, info, local)
            return out
        if kind in _PAIRS:  # concatenated strings, binary and boolean operations
            pair = cast(_Pair, expr)
            return rec(pair.left, state, info, local) | rec(pair.right, state, info, local)
        if kind is cst.Await:
            return rec(cast(cst.Await, expr).expression, state, info, local)
        if kind is cst.UnaryOperation:
            unary = cast(cst.UnaryOperation, expr)
            if type(unary.operator) is cst.Not:
                return 0
            return rec(unary.expression, state, info, local)
        if kind is cst.Comparison:
            return 0
        if kind is cst.IfExp:
            branches = cast(cst.IfExp, expr)
            return rec(branches.body, state, info, local) | rec(branches.orelse, state, info, local)
        if kind in _SEQUENCES:
            out = 0
            for element in cast(_Sequence, expr).elements:
                out |= rec(element.value, state, info, local)
            return out
        if kind is cst.Dict:
            out = 0
            for item in cast(cst.Dict, expr).elements:
                if type(item) is cst.DictElement:
                    out |= rec(item.key, state, info, local) | rec(item.value, state, info, local)
                else:
                    out |= rec(item.value, state, info, local)
            return out
        if kind in _COMPREHENSIONS:
            return self._comprehension(cast(_Comprehension, expr), state, info, local)
        if kind is cst.NamedExpr:
            return rec(cast(cst.NamedExpr, expr).value, state, info, local)
        if kind is cst.StarredElement:
            return rec(cast(cst.StarredElement, expr).value, state, info, local)
        return 0

    def enumerate_counter(
        self, iterable: cst.BaseExpression, target: cst.BaseExpression
    ) -> str | None:
        """`i` in `for i, x in enumerate(xs)`: a counter, never tainted."""
        if (
            isinstance(iterable, cst.Call)
            and "builtins.enumerate" in self.model.resolve_name(iterable.func)
            and isinstance(target, cst.Tuple)
            and len(target.elements) == 2
            and isinstance(target.elements[0].value, cst.Name)
        ):
            return target.elements[0].value.value
        return None

    def _comprehension(
        self,
        expr: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp,
        state: State,
        info: FunctionInfo,
        local: Mapping[str, Bits],
    ) -> Bits:
        scope = dict(local)
        comp: cst.CompFor | None = expr.for_in
        while comp is not None:
            t = self._expr(comp.iter, state, info, scope)
            target: cst.BaseExpression = comp.target
            counter = self.enumerate_counter(comp.iter, target)
            if counter is not None:
                scope[counter] = 0
                target = cst.ensure_type(target, cst.Tuple).elements[1].value
            for name in _target_names(target):
                scope[name] = t
            comp = comp.inner_for_in
        if isinstance(expr, cst.DictComp):
            return self._expr(expr.key, state, info, scope) | self._expr(
                expr.value, state, info, scope
            )
        return self._expr(expr.elt, state, info, scope)

    def _call_facts(self, call: cst.Call, info: FunctionInfo) -> _CallFacts:
        """`_CallFacts` of `call` in `info`, worked out once."""
        facts = self._calls.get(id(call))
        if facts is not None and facts.call is call and facts.info is info:
            return facts
        model, layout = self.model, self.layout
        names = frozenset(n.removeprefix("builtins.") for n in model.resolve_name(call.func))
        if names & CLEAN_CALLS:
            self._calls[id(call)] = facts = _CallFacts(call, info, 1, layout.all)
            return facts
        kill = layout.sanitized(model, call, names)
        if any(n.rsplit(".", 1)[-1] in MODEL_OUTPUT_CALLS for n in names):
            facts = _CallFacts(call, info, 2, kill)
        else:
            kind = event_facts(model).alias_kind(call.func, info)
            if kind == "call":
                facts = _CallFacts(call, info, 3, kill, answer=self._answer_taint(call, info))
            elif kind == "emitter":
                facts = _CallFacts(call, info, 1, layout.all)
            else:
                callee_name = model.resolve_callable(call.func, info)
                callee = model.functions.get(callee_name) if callee_name else None
                if callee is None and isinstance(model.parent(call), cst.Await):
                    # `await library_call(...)`: a new object, not a transformed value
                    kill |= layout.opaque_awaited
                binding = None
                if callee is not None and callee.node.name.value != "__init__":
                    binding = bind_arguments(call, callee)
                else:
                    callee = None
                facts = _CallFacts(call, info, 0, kill, callee, binding)
        self._calls[id(call)] = facts
        return facts

    def _call(
        self, call: cst.Call, state: State, info: FunctionInfo, local: Mapping[str, Bits]
    ) -> Bits:
        facts = self._call_facts(call, info)
        kill = facts.kill
        outcome = facts.outcome
        if outcome:
            if outcome == 1:
                return 0
            if outcome == 2:
                return self.layout.model_output & ~kill
            return facts.answer & ~kill
        layout = self.layout
        if kill == layout.all:
            return 0
        callee = facts.callee
        binding = facts.binding
        if callee is not None and binding is not None:
            # Only the arguments of the parameters the helper returns count.
            returns = self.summary(callee).returns
            symbolic = returns & layout.params
            if not symbolic:
                return returns & ~kill
            param_bits = layout.param_bits
            arg_taints = {
                p: self._expr(a, state, info, local)
                for p, a in binding.items()
                if symbolic & param_bits.get(p, 0)
            }
            return layout.substitute(returns, arg_taints) & ~kill
        args = 0
        for arg in call.args:
            args |= self._expr(arg.value, state, info, local)
        if callee is not None:
            return (args | (self.summary(callee).returns & ~layout.params)) & ~kill
        func = call.func
        if type(func) is cst.Attribute:
            # A method of a value: `text.strip()`, `", ".join(parts)`, `tpl.format(x)`.
            method = func
            receiver = method.value
            if type(receiver) is cst.Name and receiver.value in ("self", "cls"):
                return args & ~kill
            held = self._expr(receiver, state, info, local)
            if method.attr.value == "get" and call.args:  # `__user__.get("id")`
                key = call.args[0].value
                if type(key) is cst.SimpleString:
                    held = self._field(held, const_key(key))
            return (args | held) & ~kill
        return args & ~kill

    def _field(self, taint: Bits, key: str | int | None) -> Bits:
        """The taint of field `key` of a value holding `taint`: `__user__["valves"]` is
        UserValves; a trusted `__user__` field (`TaintPolicy.trusted_user_keys`) is clean."""
        user = taint & self.layout.user
        if not user:
            return taint
        if key == "valves":
            return (taint ^ user) | (user << (_VALVES_AT - _USER_AT))
        if isinstance(key, str):
            trusted = self.layout.trusted.get(key)
            if trusted:
                return taint & ~trusted
        return taint

    def _answer_taint(self, call: cst.Call, info: FunctionInfo) -> Bits:
        """An `__event_call__` answer: confirmations are booleans, anything else is input."""
        payload = next((a.value for a in call.args if a.keyword is None and not a.star), None)
        if payload is not None:
            value = Evaluator(self.model, info).value(payload, call)
            if isinstance(value, DictV) and const_str(value.items.get("type")) == "confirmation":
                return 0
        return self.layout.input

    # --- concrete answers -------------------------------------------------------------------

    def params_of(self, qual: str) -> dict[str, Bits]:
        """What each parameter of `qual` may hold when `action` runs.

        A parameter depends only on the call sites of `qual`'s callers, whose states depend on
        their own callers' parameters: the fixed point runs over `qual` and the functions that
        reach it, not over every reachable function (a sink in one helper of a 100-helper
        exporter needs the summaries of that helper's callers only)."""
        if qual in self._settled:
            return self._params.get(qual, {})
        callers = self._call_graph()
        scope, todo = {qual}, [qual]
        while todo:
            for site in callers.get(todo.pop(), ()):
                if site.caller not in scope:
                    scope.add(site.caller)
                    todo.append(site.caller)
        pending = scope - self._settled
        out = self._params
        sites: list[CallSite] = []
        for name in self.model.reachable:  # source order: a deterministic iteration
            if name in pending:
                out.setdefault(name, {})
                sites += callers.get(name, ())
        changed = True
        rounds = 0
        while changed and rounds < 20:
            changed = False
            rounds += 1
            for site in sites:
                if self._propagate(site, out):
                    changed = True
        self._settled |= scope
        return out.get(qual, {})

    def _call_graph(self) -> dict[str, list[CallSite]]:
        """The call sites through which each reachable function receives arguments."""
        if self._callers is None:
            model = self.model
            callers: dict[str, list[CallSite]] = {}
            for qual in model.reachable:
                for site in model.call_sites.get(qual, []):
                    if site.kind not in ("call", "offload") or not isinstance(site.node, cst.Call):
                        continue
                    if site.callee in model.functions and site.callee in model.reachable:
                        callers.setdefault(site.callee, []).append(site)
            self._callers = callers
        return self._callers

    def _propagate(self, site: CallSite, out: dict[str, dict[str, Bits]]) -> bool:
        """Join what `site` passes into its callee's parameters; True if any grew."""
        model = self.model
        info = model.functions[site.caller]
        callee = model.functions[site.callee]
        node = cast(cst.Call, site.node)
        binding = (
            bind_arguments(node, callee)
            if site.kind == "call"
            else self._offload_binding(node, callee, info)
        )
        if binding is None:
            return False
        summary = self.summary(info)
        cfg_node = summary.cfg.node_of(node, model)
        state = summary.states.get(cfg_node) if cfg_node is not None else None
        if state is None:
            return False
        grew = False
        given = out.get(site.caller, {})
        into = out[site.callee]
        for pname, arg in binding.items():
            concrete = self.layout.substitute(self.expr_taint(arg, state, info), given)
            old = into.get(pname, 0)
            if concrete & ~old:
                into[pname] = old | concrete
                grew = True
        return grew

    def _offload_binding(
        self, call: cst.Call, callee: FunctionInfo, info: FunctionInfo
    ) -> dict[str, cst.BaseExpression] | None:
        """`asyncio.to_thread(f, a, b)`, `loop.run_in_executor(None, f, a)`,
        `functools.partial(f, a)`: the arguments after `f` are `f`'s arguments."""
        for position, arg in enumerate(call.args):
            if arg.keyword is None and self.model.resolve_callable(arg.value, info) == (
                callee.qualname
            ):
                return bind_arguments(call.with_changes(args=call.args[position + 1 :]), callee)
        return None

    def taint(self, expr: cst.BaseExpression, info: FunctionInfo) -> Bits:
        """The concrete labels `expr` (in `info`) may carry when `action` runs."""
        if expr in self.model.index and not self.model.walk_of(expr, cst.Name):
            # A literal (`"/tmp/x"`, `["ls", "-l"]`, an f-string of constants) names nothing
            # that could carry a label: no need to analyse the module.
            return 0
        state = self.state_at(expr, info)
        if state is None:
            return 0
        symbolic = self.expr_taint(expr, state, info)
        if not symbolic & self.layout.params:
            # Nothing from a parameter: what callers pass in cannot matter.
            return symbolic
        return self.layout.substitute(symbolic, self.params_of(info.qualname))


class TaintEngine:
    """Taint questions about one module under one policy: a view of the module's analysis
    under all policies (`_SharedTaint`). Use `taint_engine(model, policy)`."""

    def __init__(self, shared: _SharedTaint, policy: TaintPolicy) -> None:
        self.model = shared.model
        self.policy = policy
        self._shared = shared
        self._slot = shared.policies.index(policy)

    def taint(self, expr: cst.BaseExpression, info: FunctionInfo) -> Taint:
        """The concrete labels `expr` (in `info`) may carry when `action` runs."""
        return self._shared.layout.decode(self._shared.taint(expr, info), self._slot)


class _SummaryTask(CycleTask):
    """`_SharedTaint.summary`: one function analysed with symbolic parameters."""

    def __init__(self, engine: _SharedTaint, info: FunctionInfo) -> None:
        self.engine = engine
        self.info = info
        self.tag = ("taint", info.qualname)
        self.cfg = cfg_for(engine.model, info)
        self.approximation = FunctionSummary(self.cfg, {}, 0)  # returns nothing
        self.solver = self._solver()

    def _solver(self) -> Solver[State]:
        engine, info = self.engine, self.info
        # The `return` values folded so far: a helper's summary asked for by the next one
        # suspends the step, which then goes on from there instead of folding them again
        # (`action` returning the results of 20 helpers would fold 210 of them).
        self._returns: list[tuple[cst.BaseExpression, State]] | None = None
        self._folded = 0
        self._returned: Bits = 0
        return Solver(self.cfg, _FunctionTaint(engine, info, engine.initial_state(info)))

    def agrees(self) -> bool:
        approximation: FunctionSummary = self.approximation
        return self.engine._summaries[self.info.qualname].returns == approximation.returns

    def next_round(self) -> None:
        self.approximation = self.engine._summaries.pop(self.info.qualname)
        self.solver = self._solver()

    def forget(self) -> None:
        self.engine._summaries.pop(self.info.qualname, None)

    def step(self) -> None:
        states = self.solver.run()
        returns = self._returns
        if returns is None:  # the states are final from here on
            returns = self._returns = [
                (stmt.value, state)
                for node, state in states.items()
                if type(stmt := node.stmt) is cst.Return and stmt.value is not None
            ]
        engine, info = self.engine, self.info
        while self._folded < len(returns):
            value, state = returns[self._folded]
            self._returned |= engine.expr_taint(value, state, info)
            self._folded += 1
        engine._summaries[info.qualname] = FunctionSummary(self.cfg, states, self._returned)


class _Memo:
    """One evaluation: its state and scope, and once it goes bottom-up, the taint of the
    operands evaluated so far."""

    __slots__ = ("info", "local", "state", "table")

    def __init__(self, state: State, info: FunctionInfo, local: Mapping[str, Bits]) -> None:
        self.state = state
        self.info = info
        self.local = local
        # Keyed by `id(node)`: LibCST's `CSTNode.__hash__` is Python code, and this table is
        # asked about every operand; the nodes outlive the evaluation, so ids stay unique.
        self.table: dict[int, Bits] | None = None


# `_expr` does not look inside these (comprehensions are evaluated in a scope of their own).
_OPAQUE = (
    cst.Lambda,
    cst.Comparison,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
    cst.GeneratorExp,
)


def _opaque(node: cst.CSTNode) -> bool:
    """What `_expr` never looks inside (a `not` is clean whatever its operand)."""
    return isinstance(node, _OPAQUE) or (
        isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)
    )


def const_key(node: cst.SimpleString) -> str | None:
    """The text of a plain string literal used as a key (`"id"`), else None."""
    value = node.evaluated_value
    return value if isinstance(value, str) else None


_SHARED = ("taint", "shared")  # `memo_table("taint_engines")` key of the shared analysis


def taint_engine(model: ActionModule, policy: TaintPolicy) -> TaintEngine:
    """The model's engine for `policy`, built once; every policy built so far shares one
    analysis of the module."""
    cache: dict[object, object] = model.memo_table("taint_engines")
    engine = cache.get(policy.name)
    if isinstance(engine, TaintEngine) and engine.policy == policy:
        return engine
    shared = cache.get(_SHARED)
    if not isinstance(shared, _SharedTaint) or policy not in shared.policies:
        if policy not in _POLICIES:
            _POLICIES.append(policy)
        shared = cache[_SHARED] = _SharedTaint(model, tuple(_POLICIES))
    engine = cache[policy.name] = TaintEngine(shared, policy)
    return engine


__all__ = [
    "BODY",
    "HTML_POLICY",
    "INJECTED_OBJECTS",
    "INPUT",
    "JS_POLICY",
    "MODEL",
    "USER",
    "USER_VALVES",
    "Label",
    "Taint",
    "TaintEngine",
    "TaintPolicy",
    "describe_taint",
    "is_low_confidence",
    "taint_engine",
]
