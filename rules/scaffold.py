"""OWA1: the class scaffold Open WebUI's loader and invoker need (action contract §1, §3, §6, §7).

Every rule here reads the module without running it. Where a fact depends on code outside
the module (an imported base class, a decorator, a value computed at run time), the rules
stay silent rather than guess.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from analyzer.findings import Confidence, Fix, Level
from analyzer.flow.guards import authorization_facts
from analyzer.model import (
    INJECTED_PARAMS,
    NEVER_INJECTED_PARAMS,
    NEVER_NONE_PARAMS,
    ActionModule,
    CallSite,
    FunctionInfo,
    assigned_value,
    dotted_name,
    string_value,
)
from analyzer.rule import Invalid, LintRule, Valid


def _class_provides(model: ActionModule, cls: cst.ClassDef, name: str, seen: set[str]) -> bool:
    """True when `cls` (or a base we cannot see into) may define attribute `name`.

    Module base classes are followed with a stack, however deep the hierarchy."""
    pending = [cls]
    while pending:
        current = pending.pop()
        if current.name.value in seen:
            continue
        seen.add(current.name.value)
        for stmt in current.body.body:
            if type(stmt) is cst.FunctionDef and stmt.name.value in (name, "__getattr__"):
                return True
            if type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    targets: list[cst.BaseExpression] = []
                    if type(small) is cst.Assign:
                        targets = [t.target for t in small.targets]
                    elif type(small) is cst.AnnAssign:
                        targets = [small.target]
                    if any(type(t) is cst.Name and t.value == name for t in targets):
                        return True
            elif isinstance(stmt, (cst.If, cst.Try, cst.With)):
                return True  # conditional definitions: we cannot tell, so assume it is there
        bases: list[cst.ClassDef] = []
        for base in current.bases:
            if base.keyword is not None:
                continue
            value = base.value
            if type(value) is cst.Name and value.value == "object":
                continue
            if type(value) is cst.Name and value.value in model.classes:
                bases.append(model.classes[value.value])
                continue
            return True  # an imported or computed base may well provide it
        pending += reversed(bases)
    return False


# --- shared helpers -------------------------------------------------------------------------

# Names that are a coroutine's way onto the event loop: handing a coroutine to one of these
# counts as awaiting or scheduling it (rules.md "Awaited").
AWAITING_CONSUMERS: frozenset[str] = frozenset(
    {
        "asyncio.wait_for",
        "asyncio.gather",
        "asyncio.shield",
        "asyncio.create_task",
        "asyncio.ensure_future",
        "asyncio.run_coroutine_threadsafe",
        "asyncio.wait",
        "asyncio.as_completed",
    }
)
AWAITING_METHODS: frozenset[str] = frozenset(
    {"create_task", "ensure_future", "run_until_complete", "start_soon"}
)
# Callables that run the function they are handed in another thread.
THREAD_OFFLOADERS: frozenset[str] = frozenset(
    {
        "asyncio.to_thread",
        "threading.Thread",
        "anyio.to_thread.run_sync",
        "starlette.concurrency.run_in_threadpool",
        "fastapi.concurrency.run_in_threadpool",
    }
)
THREAD_OFFLOAD_METHODS: frozenset[str] = frozenset({"run_in_executor", "submit", "map"})

EMITTER_PARAMS: frozenset[str] = frozenset({"__event_emitter__", "__event_call__"})
_CONTEXT_METHODS: frozenset[str] = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__"})


def _is_thread_offloader(model: ActionModule, call: cst.Call) -> bool:
    if model.imported_name(call.func) & THREAD_OFFLOADERS:
        return True
    return type(call.func) is cst.Attribute and call.func.attr.value in THREAD_OFFLOAD_METHODS


def _is_awaiting_consumer(model: ActionModule, call: cst.Call) -> bool:
    if model.imported_name(call.func) & AWAITING_CONSUMERS:
        return True
    return type(call.func) is cst.Attribute and call.func.attr.value in AWAITING_METHODS


def _all_params(fn: cst.FunctionDef) -> list[cst.Param]:
    p = fn.params
    out = [*p.posonly_params, *p.params]
    if type(p.star_arg) is cst.Param:
        out.append(p.star_arg)
    out += list(p.kwonly_params)
    if p.star_kwarg is not None:
        out.append(p.star_kwarg)
    return out


def _is_name(node: cst.CSTNode | None, *values: str) -> bool:
    """`node` is a bare name, one of `values` when any are given."""
    return type(node) is cst.Name and (not values or node.value in values)


def _is_self_attr(node: cst.CSTNode | None, attr: str | None = None) -> bool:
    """`node` is `self.<attr>` (any attribute when `attr` is None)."""
    return (
        type(node) is cst.Attribute
        and _is_name(node.value, "self")
        and (attr is None or node.attr.value == attr)
    )


def _class_bases(model: ActionModule, cls: cst.ClassDef) -> list[cst.ClassDef] | None:
    """Module classes `cls` inherits from (depth-first), or None when a base is not visible."""
    out: list[cst.ClassDef] = []
    seen = {cls.name.value}
    if cls.keywords:
        return None  # metaclass=...: anything can happen
    # Depth-first with a stack of each class's remaining bases (hierarchies can be deep).
    pending = [iter(cls.bases)]
    while pending:
        for base in pending[-1]:
            value = base.value
            if type(value) is cst.Name and value.value == "object":
                continue
            if type(value) is not cst.Name or value.value not in model.classes:
                return None
            target = model.classes[value.value]
            out.append(target)
            if target.name.value in seen:
                continue
            seen.add(target.name.value)
            if target.keywords:
                return None
            pending.append(iter(target.bases))
            break
        else:
            pending.pop()
    return out


def _method_of(model: ActionModule, cls: cst.ClassDef, name: str) -> FunctionInfo | None:
    """`cls.name` as a module function: defined in the class or a module base class."""
    chain = [cls, *(_class_bases(model, cls) or [])]
    for c in chain:
        info = model.functions.get(f"{c.name.value}.{name}")
        if info is not None:
            return info
        for stmt in c.body.body:
            if type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    if (
                        type(small) is cst.Assign
                        and any(_is_name(t.target, name) for t in small.targets)
                        and type(small.value) is cst.Name
                        and small.value.value in model.functions
                    ):
                        return model.functions[small.value.value]
    return None


def action_function(model: ActionModule) -> FunctionInfo | None:
    """The function Open WebUI calls as `action`: the method, an alias, or an inherited one."""
    if model.action_method is not None:
        return model.action_method
    cls = model.action_class
    return _method_of(model, cls, "action") if cls is not None else None


def _is_decorated(info: FunctionInfo) -> bool:
    """A decorator may replace the function: its signature and kind are then unknown."""
    return bool(info.node.decorators)


def reach(
    model: ActionModule, start: FunctionInfo, follow: Callable[[CallSite], bool]
) -> dict[str, tuple[FunctionInfo, tuple[CallSite, ...]]]:
    """Functions reachable from `start` along the call sites `follow` accepts, with a path."""
    out: dict[str, tuple[FunctionInfo, tuple[CallSite, ...]]] = {start.qualname: (start, ())}
    queue: deque[str] = deque([start.qualname])
    while queue:
        current = queue.popleft()
        path = out[current][1]
        for site in model.call_sites.get(current, []):
            if site.callee in out or site.callee not in model.functions or not follow(site):
                continue
            out[site.callee] = (model.functions[site.callee], (*path, site))
            queue.append(site.callee)
    return out


def _in_lambda(model: ActionModule, node: cst.CSTNode, stop: cst.CSTNode) -> bool:
    for parent in model.ancestors(node):
        if parent is stop:
            return False
        if type(parent) is cst.Lambda:
            return True
    return False


def _where(model: ActionModule, info: FunctionInfo, path: tuple[CallSite, ...]) -> str:
    """` in `Action._fetch` (line 41 reaches it through Action._fetch)`, or "" in `action`."""
    if not path:
        return ""
    return f" in `{info.qualname}` ({model.describe_path(path)})"


def _code(node: cst.CSTNode, limit: int = 60) -> str:
    """Source text of a node on one line, shortened for messages."""
    text = " ".join(cst.Module([]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call_text(call: cst.Call) -> str:
    func = dotted_name(call.func) or _code(call.func, 40)
    return f"{func}(...)"


def _top_level(model: ActionModule, node: cst.CSTNode) -> bool:
    """True when the statement holding `node` sits directly in the module body."""
    stmt = node if isinstance(node, (cst.ClassDef, cst.FunctionDef)) else model.statement_of(node)
    return model.parent(stmt) is model.module


def _is_annotation_only(model: ActionModule, node: cst.CSTNode) -> bool:
    parent = model.parent(node)
    return type(parent) is cst.AnnAssign and parent.value is None and parent.target is node


def final_bindings(model: ActionModule, name: str) -> list[cst.CSTNode]:
    """Module-level bindings of `name` that may hold its value once the module has run.

    An unconditional top-level binding replaces every earlier one; bindings inside
    `if`/`try`/`with`/`for` blocks are all possible.
    """
    out: list[cst.CSTNode] = []
    for node in model.bindings.get(name, []):
        if _is_annotation_only(model, node):
            continue  # `Pipe: int` binds nothing at run time
        if _top_level(model, node):
            out = [node]
        else:
            out.append(node)
    return out


def _deleted_names(model: ActionModule) -> set[str]:
    """Names removed by a top-level `del` (after that the loader no longer sees them)."""
    out: set[str] = set()
    for stmt in model.module.body:
        if type(stmt) is not cst.SimpleStatementLine:
            continue
        for small in stmt.body:
            if type(small) is not cst.Del:
                continue
            targets = (
                [e.value for e in small.target.elements]
                if isinstance(small.target, (cst.Tuple, cst.List))
                else [small.target]
            )
            out |= {t.value for t in targets if type(t) is cst.Name}
    return out


def _binding_node(node: cst.CSTNode, name: str) -> cst.CSTNode:
    """The most specific node that binds `name`: a class/def name, an import alias, a target."""
    if isinstance(node, (cst.ClassDef, cst.FunctionDef)):
        return node.name
    if isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(
        node.names, cst.ImportStar
    ):
        for alias in node.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            if type(bound) is cst.Name and bound.value == name:
                return alias
    return node


def _binding_kind(model: ActionModule, node: cst.CSTNode) -> str:
    if type(node) is cst.ClassDef:
        return "a class"
    if type(node) is cst.FunctionDef:
        return "a function"
    if isinstance(node, (cst.Import, cst.ImportFrom)):
        return "an import"
    for parent in model.ancestors(node):
        if isinstance(parent, (cst.For, cst.CompFor)):
            return "a `for` target"
        if type(parent) is cst.WithItem:
            return "a `with` target"
        if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
            return "an assignment"
        if type(parent) is cst.ExceptHandler:
            return "an `except` target"
        if isinstance(parent, cst.BaseStatement):
            break
    return "a binding"


class ActionShadowed(LintRule):
    """
    ## What it does
    Reports a module-level name `Pipe` or `Filter` in an action module, however it is
    bound: a class, an import (`from logging import Filter`), an assignment, a `for` or
    `with` target, also inside `if`/`try` blocks.

    ## Why is this bad?
    Open WebUI's loader runs the module and then checks `hasattr(module, X)` in the fixed
    order `Pipe` → `Filter` → `Action` → `Event`, taking the first it finds. Any module-level
    `Pipe` or `Filter` name, even an unrelated import, turns the file into a pipe or a
    filter: the action button never appears and `Action` is never instantiated.

    A name removed again by a top-level `del` is not reported. A name that only a
    `from x import *` could bind is invisible to owui-lint.

    ## Example
    ```python
    from logging import Filter

    class Action:
        async def action(self, body: dict) -> dict:
            return body
    ```

    ## Use instead
    ```python
    import logging

    class Action:
        async def action(self, body: dict) -> dict:
            return body
    ```
    """

    code = "OWA101"
    name = "action-shadowed"
    level = Level.ERROR
    summary = "A module-level `Pipe` or `Filter` name makes the loader treat the file as a pipe or filter."

    def check(self) -> None:
        deleted = _deleted_names(self.module)
        for shadow, kind in (("Pipe", "pipe"), ("Filter", "filter")):
            if shadow in deleted:
                continue
            nodes = [
                n
                for n in self.module.bindings.get(shadow, [])
                if not _is_annotation_only(self.module, n)
            ]
            if not nodes:
                continue
            node = nodes[0]
            what = _binding_kind(self.module, node)
            if type(node) is cst.ImportFrom and node.module is not None:
                source = _code(node.module)
                fix = (
                    f"import it under another name (`from {source} import {shadow} as "
                    f"{source.rsplit('.', 1)[-1].capitalize()}{shadow}`) or use `import {source}`"
                )
            elif type(node) is cst.Import:
                fix = f"bind the module to another name than `{shadow}`"
            elif type(node) is cst.ClassDef:
                fix = f"rename the class (e.g. `_{shadow}`)"
            else:
                fix = f"rename it (e.g. `_{shadow}` or `{shadow.lower()}`)"
            self.report(
                _binding_node(node, shadow),
                f"module-level `{shadow}` ({what}) makes Open WebUI load this file as a {kind}, "
                f"not an action: the loader looks for `Pipe`, then `Filter`, then `Action` and "
                f"takes the first it finds; {fix}",
            )

    VALID = [
        Valid(
            '''
            """
            title: Redacting Exporter
            description: Export the chat with secrets masked
            """
            import logging
            import re

            log = logging.getLogger(__name__)


            class _RedactFilter(logging.Filter):
                def filter(self, record: logging.LogRecord) -> bool:
                    record.msg = re.sub(r"sk-[A-Za-z0-9]+", "sk-***", str(record.msg))
                    return True


            log.addFilter(_RedactFilter())


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    log.info("exporting %d messages", len(body["messages"]))
                    return body
            '''
        ),
        Valid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    priority: int = Field(default=0, description="Button order")

                class Filter(BaseModel):
                    role: str = "assistant"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __user__=None) -> dict:
                    keep = self.Filter()
                    kept = [m for m in body["messages"] if m.get("role") == keep.role]
                    return {"messages": [{"id": body["id"], "content": kept[-1]["content"]}]}
            """
        ),
        Valid(
            """
            import io
            import base64
            from PIL import Image, ImageFilter


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> None:
                    Filter = ImageFilter.GaussianBlur(2)
                    image = Image.new("RGB", (256, 256)).filter(Filter)
                    buffer = io.BytesIO()
                    image.save(buffer, format="PNG")
                    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
                    await __event_emitter__(
                        {"type": "files", "data": {"files": [{"type": "image", "url": url}]}}
                    )
            """
        ),
        Valid(
            """
            from logging import Filter, getLogger


            class _Quiet(Filter):
                def filter(self, record) -> bool:
                    return record.levelno > 20


            getLogger("httpx").addFilter(_Quiet())
            del Filter


            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            '''
            """
            title: Chat Exporter
            description: Export the chat as JSON
            """
            import json
            from logging import Filter, getLogger

            log = getLogger(__name__)


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    data = json.dumps(body["messages"], indent=2)
                    log.info("exported %d bytes", len(data))
                    return body
            ''',
            lines=(6,),
            message="load this file as a filter",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Filter:
                \"\"\"Keeps only the assistant's messages.\"\"\"

                def __init__(self, role: str = "assistant"):
                    self.role = role

                def apply(self, messages: list[dict]) -> list[dict]:
                    return [m for m in messages if m.get("role") == self.role]


            class Action:
                class Valves(BaseModel):
                    role: str = "assistant"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    kept = Filter(self.valves.role).apply(body["messages"])
                    text = "\\n\\n".join(m["content"] for m in kept)
                    return {"messages": [{"id": body["id"], "content": text}]}
            """,
            lines=(4,),
            message="rename the class",
        ),
        Invalid(
            """
            try:
                from open_webui.utils.misc import Pipe
            except ImportError:
                Pipe = None


            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    if Pipe is not None:
                        body["via"] = "pipe"
                    return body
            """,
            lines=(2,),
            message="as a pipe",
        ),
        Invalid(
            """
            import re

            REDACTIONS = {}
            for Filter in ("password", "token", "secret"):
                REDACTIONS[Filter] = re.compile(rf"{Filter}\\s*[:=]\\s*\\S+", re.I)


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    text = body["messages"][-1]["content"]
                    for name, pattern in REDACTIONS.items():
                        text = pattern.sub(f"{name}=***", text)
                    return {"messages": [{"id": body["id"], "content": text}]}
            """,
            lines=(4,),
            message="(a `for` target)",
        ),
        Invalid(
            """
            Pipe = "|"


            def markdown_row(cells: list[str]) -> str:
                return Pipe + Pipe.join(cells) + Pipe


            class Action:
                async def action(self, body: dict) -> dict:
                    rows = [markdown_row([m["role"], m["content"][:40]]) for m in body["messages"]]
                    return {"messages": [{"id": body["id"], "content": "\\n".join(rows)}]}
            """,
            lines=(1,),
        ),
    ]


_BUILTIN_TYPES: frozenset[str] = frozenset(
    {"object", "dict", "list", "str", "int", "float", "bool", "tuple", "set", "frozenset", "bytes"}
)
_LITERAL_KINDS: tuple[tuple[type[cst.CSTNode], str], ...] = (
    (cst.Integer, "a number"),
    (cst.Float, "a number"),
    (cst.Imaginary, "a number"),
    (cst.SimpleString, "a string"),
    (cst.ConcatenatedString, "a string"),
    (cst.FormattedString, "a string"),
    (cst.List, "a list"),
    (cst.ListComp, "a list"),
    (cst.Dict, "a dict"),
    (cst.DictComp, "a dict"),
    (cst.Tuple, "a tuple"),
    (cst.Set, "a set"),
    (cst.SetComp, "a set"),
    (cst.GeneratorExp, "a generator"),
)


@dataclass(frozen=True)
class _Bound:
    """What a module-level name holds, as far as the source tells."""

    kind: Literal["class", "unknown", "other"]
    what: str = ""
    cls: cst.ClassDef | None = None
    confidence: Confidence = Confidence.HIGH


_UNKNOWN = _Bound("unknown")


def _classify_binding(model: ActionModule, node: cst.CSTNode, depth: int = 0) -> _Bound:
    if type(node) is cst.ClassDef:
        return _Bound("class", cls=node)
    if type(node) is cst.FunctionDef:
        return _classify_function(model, node)
    if type(node) is not cst.Name:
        return _UNKNOWN  # imports and everything else we cannot see into
    parent = model.parent(node)
    if not isinstance(parent, (cst.AssignTarget, cst.AnnAssign)):
        return _UNKNOWN  # for/with targets, tuple unpacking, augmented assignment
    value = assigned_value(node, model)
    return _classify_value(model, value, depth) if value is not None else _UNKNOWN


def _classify_function(model: ActionModule, fn: cst.FunctionDef) -> _Bound:
    """A function used where a class is expected: broken unless it is a working factory."""
    info = model.function_of_node.get(fn)
    required = [p for p in (*fn.params.posonly_params, *fn.params.params) if p.default is None]
    returns = [
        n.value
        for n in model.own_nodes(fn.body)
        if type(n) is cst.Return and n.value is not None and not _is_name(n.value, "None")
    ]
    name = info.qualname if info else fn.name.value
    if required:
        return _Bound("other", f"a function (`{name}`) that needs arguments")
    if not returns:
        return _Bound("other", f"a function (`{name}`) that returns None")
    # A factory returning an instance with an `action` method would load; it is still not
    # a class, and nothing else in the toolchain understands it: low confidence.
    return _Bound("other", f"a function (`{name}`)", confidence=Confidence.LOW)


def _classify_name(model: ActionModule, name: str, depth: int) -> _Bound:
    if name in ("None", "True", "False"):
        return _Bound("other", "None" if name == "None" else "a bool")
    candidates = final_bindings(model, name)
    if not candidates:
        return _Bound("class") if name in _BUILTIN_TYPES else _UNKNOWN
    if len(candidates) != 1:
        return _UNKNOWN
    return _classify_binding(model, candidates[0], depth + 1)


def _classify_value(model: ActionModule, value: cst.BaseExpression, depth: int) -> _Bound:
    if depth > 6:
        return _UNKNOWN
    for kind, what in _LITERAL_KINDS:
        if isinstance(value, kind):
            return _Bound("other", what)
    if type(value) is cst.Name:
        return _classify_name(model, value.value, depth)
    if type(value) is cst.Lambda:
        return _Bound("other", "a lambda", confidence=Confidence.LOW)
    if type(value) is cst.Call and type(value.func) is cst.Name:
        callee = value.func.value
        target = _classify_name(model, callee, depth)
        if target.kind == "class" and target.cls is not None:
            if _class_provides(model, target.cls, "__call__", set()):
                return _UNKNOWN  # a callable instance may well build the action
            return _Bound("other", f"an instance of `{callee}`, not the class")
        if target.kind == "class" and callee in _BUILTIN_TYPES and callee != "type":
            return _Bound("other", f"a `{callee}` instance")
        fn = next((n for n in final_bindings(model, callee) if type(n) is cst.FunctionDef), None)
        if fn is not None and len(final_bindings(model, callee)) == 1:
            return _classify_call_result(model, fn, callee, depth)
    return _UNKNOWN


def _classify_call_result(
    model: ActionModule, fn: cst.FunctionDef, callee: str, depth: int
) -> _Bound:
    """`Action = make_action()`: what the module function `make_action` returns."""
    nodes = list(model.own_nodes(fn.body))
    if any(isinstance(n, (cst.Yield, cst.Await)) for n in nodes) or fn.asynchronous:
        return _Bound("other", f"what `{callee}()` returns (a generator or coroutine)")
    values = [n.value for n in nodes if type(n) is cst.Return and n.value is not None]
    if not values:
        return _Bound("other", f"what `{callee}()` returns (None)")
    for value in values:
        if type(value) is cst.Name and value.value != "None":
            return _UNKNOWN  # could be a class built inside the factory
        if _classify_value(model, value, depth + 1).kind != "other":
            return _UNKNOWN
    return _Bound("other", f"what `{callee}()` returns, which is not a class")


def _is_dataclass(model: ActionModule, cls: cst.ClassDef) -> bool | None:
    """True for `@dataclass` (with `init` on), None for any other decorator (unknown)."""
    if not cls.decorators:
        return False
    if len(cls.decorators) != 1:
        return None
    deco = cls.decorators[0].decorator
    func = deco.func if type(deco) is cst.Call else deco
    if "dataclasses.dataclass" not in model.resolve_name(func):
        return None
    if type(deco) is cst.Call:
        for arg in deco.args:
            if arg.keyword is not None and arg.keyword.value == "init":
                return None  # init=False (or computed): no generated __init__ to read
    return True


def _required_dataclass_fields(model: ActionModule, cls: cst.ClassDef) -> list[cst.AnnAssign]:
    out: list[cst.AnnAssign] = []
    for stmt in cls.body.body:
        if type(stmt) is not cst.SimpleStatementLine:
            continue
        for small in stmt.body:
            if type(small) is not cst.AnnAssign or type(small.target) is not cst.Name:
                continue
            annotation = small.annotation.annotation
            base = annotation.value if type(annotation) is cst.Subscript else annotation
            names = model.resolve_name(base)
            if names & {"typing.ClassVar", "ClassVar", "dataclasses.KW_ONLY", "KW_ONLY"}:
                continue
            if small.value is None:
                out.append(small)
            elif type(small.value) is cst.Call and "dataclasses.field" in model.resolve_name(
                small.value.func
            ):
                keywords = {a.keyword.value for a in small.value.args if a.keyword is not None}
                if not keywords & {"default", "default_factory"}:
                    out.append(small)
    return out


def _init_problem(model: ActionModule, cls: cst.ClassDef) -> tuple[cst.CSTNode, str] | None:
    """Where and why `cls()` with no arguments fails, or None when it works or is unknown."""
    dataclass_kind = _is_dataclass(model, cls)
    if dataclass_kind is None:
        return None
    bases = _class_bases(model, cls)
    if bases is None:
        return None  # an imported base's __init__ is not ours to judge
    for c in (cls, *bases):
        if c is not cls and c.decorators:
            return None
        init: cst.FunctionDef | None = None
        for stmt in c.body.body:
            if type(stmt) is cst.FunctionDef and stmt.name.value == "__init__":
                init = stmt
            elif type(stmt) is cst.FunctionDef and stmt.name.value == "__new__":
                return None
            elif isinstance(stmt, cst.BaseCompoundStatement) and not isinstance(
                stmt, (cst.FunctionDef, cst.ClassDef)
            ):
                return None  # conditional class body: we cannot tell which __init__ wins
            elif type(stmt) is cst.SimpleStatementLine and any(
                type(t) is cst.Name and t.value in ("__init__", "__new__")
                for small in stmt.body
                if type(small) is cst.Assign
                for t in (x.target for x in small.targets)
            ):
                return None
        if init is not None:
            return _init_signature_problem(init, c)
        if c is cls and dataclass_kind:
            if bases:
                return None  # inherited dataclass fields: not followed
            fields = _required_dataclass_fields(model, cls)
            if fields:
                names = ", ".join(f"`{cst.ensure_type(f.target, cst.Name).value}`" for f in fields)
                return (
                    fields[0],
                    f"`{cls.name.value}()` fails: Open WebUI creates the action with no "
                    f"arguments, but the dataclass field(s) {names} have no default; give "
                    "each a default (or `field(default_factory=...)`), or move settings into "
                    "`Valves`",
                )
            return None
    return None


def _init_signature_problem(
    init: cst.FunctionDef, owner: cst.ClassDef
) -> tuple[cst.CSTNode, str] | None:
    if init.decorators:
        return None
    p = init.params
    positional = [*p.posonly_params, *p.params]
    where = f"`{owner.name.value}.__init__`"
    if not positional and type(p.star_arg) is not cst.Param:
        return (
            init.name,
            f"{where} takes no `self`, so creating the action raises TypeError and Open WebUI "
            "deactivates the function; write `def __init__(self):`",
        )
    required = [x for x in positional[1:] if x.default is None]
    required += [x for x in p.kwonly_params if x.default is None]
    if not required:
        return None
    names = ", ".join(f"`{x.name.value}`" for x in required)
    return (
        required[0],
        f"{where} requires {names}, but Open WebUI creates the action with no arguments "
        "(`Action()`), so loading raises TypeError and the function is deactivated; give "
        "each parameter a default, or read settings from `self.valves`",
    )


class ActionNotConstructible(LintRule):
    """
    ## What it does
    Reports an `Action` that Open WebUI cannot create with `Action()`: its `__init__` (own,
    inherited from a class of the module, or generated by `@dataclass`) needs arguments
    beyond `self`, or the name `Action` is bound to something that is not a class (a
    number, `None`, an instance, the result of a factory call, a function).

    ## Why is this bad?
    The loader runs `module.Action()` with no arguments right after loading. A `TypeError`
    there is a load failure: the function is marked inactive and its button disappears
    for everyone.

    owui-lint stays silent when it cannot see the answer: an `Action` imported from
    another module, a base class imported from elsewhere (its `__init__` is unknown), a
    class decorator other than `@dataclass`, a metaclass, `__new__`, or a factory whose
    result may be a class. A function bound to `Action` that returns something may be a
    working factory; that case is reported with low confidence.

    ## Example
    ```python
    class Action:
        def __init__(self, api_key: str):
            self.api_key = api_key

        async def action(self, body: dict) -> dict:
            return body
    ```

    ## Use instead
    ```python
    from pydantic import BaseModel

    class Action:
        class Valves(BaseModel):
            model: str = ""

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body: dict) -> dict:
            return body
    ```
    """

    code = "OWA102"
    name = "action-not-constructible"
    level = Level.ERROR
    summary = "`Action()` cannot be called with no arguments, so the function fails to load."

    def check(self) -> None:
        candidates = final_bindings(self.module, "Action")
        bound = [(node, _classify_binding(self.module, node)) for node in candidates]
        if not bound or any(b.kind == "unknown" for _, b in bound):
            return
        has_class = any(b.kind == "class" for _, b in bound)
        for node, b in bound:
            if b.kind == "class" and b.cls is not None:
                problem = _init_problem(self.module, b.cls)
                if problem is not None:
                    self.report(problem[0], problem[1])
            elif b.kind == "other" and (not has_class or _top_level(self.module, node)):
                target: cst.CSTNode = node
                if type(node) is cst.FunctionDef:
                    target = node.name
                else:
                    target = next(
                        (
                            a
                            for a in self.module.ancestors(node)
                            if isinstance(a, (cst.Assign, cst.AnnAssign))
                        ),
                        node,
                    )
                self.report(
                    target,
                    f"`Action` is bound to {b.what}, but Open WebUI calls `Action()` with no "
                    "arguments and uses the result as the action instance, so the function "
                    "fails to load (or loads without an `action`); define `class Action:` "
                    "with an `async def action(self, body, ...)` method",
                    confidence=b.confidence,
                )

    VALID = [
        Valid(
            """
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_key: str = Field(default="", description="Summarizer API key")
                    model: str = Field(default="gpt-4o-mini", description="Model to use")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    await __event_emitter__(
                        {"type": "status", "data": {"description": "Summarizing…", "done": True}}
                    )
                    return body
            """
        ),
        Valid(
            """
            from company_plugins.export import BaseExporter


            class Action(BaseExporter):
                async def action(self, body: dict, __user__=None) -> dict:
                    return await self.export(body, fmt="markdown")
            """
        ),
        Valid(
            """
            class Summarizer:
                def __init__(self, model: str = "llama3", max_words: int = 120, *args, **kwargs):
                    self.model = model
                    self.max_words = max_words

                async def action(self, body: dict) -> dict:
                    words = body["messages"][-1]["content"].split()[: self.max_words]
                    return {"messages": [{"id": body["id"], "content": " ".join(words)}]}


            Action = Summarizer
            """
        ),
        Valid(
            """
            try:
                from acme_actions.images import Action
            except ImportError:

                class Action:
                    async def action(self, body: dict, __event_emitter__=None) -> None:
                        await __event_emitter__(
                            {"type": "notification", "data": {"type": "error", "content": "acme_actions is not installed"}}
                        )
            """
        ),
        Valid(
            """
            from dataclasses import dataclass, field


            @dataclass
            class Action:
                endpoint: str = "https://images.example.com/v1/generate"
                timeout: float = 60.0
                headers: dict = field(default_factory=dict)

                async def action(self, body: dict) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import httpx


            class Action:
                def __init__(self, api_key: str, model: str = "gpt-4o-mini"):
                    self.api_key = api_key
                    self.model = model

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    async with httpx.AsyncClient() as client:
                        reply = await client.post(
                            "https://api.example.com/v1/summarize",
                            headers={"Authorization": f"Bearer {self.api_key}"},
                            json={"model": self.model, "messages": body["messages"]},
                        )
                    return {"messages": [{"id": body["id"], "content": reply.json()["summary"]}]}
            """,
            lines=(5,),
            message="requires `api_key`",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Exporter:
                class Valves(BaseModel):
                    folder: str = "exports"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict) -> dict:
                    return body


            def make_action():
                return Exporter()


            Action = make_action()
            """,
            lines=(19,),
            message="what `make_action()` returns",
        ),
        Invalid(
            """
            from dataclasses import dataclass, field


            @dataclass
            class Action:
                endpoint: str
                timeout: float = 30.0
                headers: dict = field(default_factory=dict)

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(6,),
            message="`endpoint`",
        ),
        Invalid(
            """
            class HttpAction:
                def __init__(self, base_url: str, *, retries: int):
                    self.base_url = base_url
                    self.retries = retries

                async def post(self, path: str, payload: dict) -> dict:
                    return {"url": self.base_url + path, "payload": payload}


            class Action(HttpAction):
                async def action(self, body: dict, __user__=None) -> dict:
                    await self.post("/notes", {"text": body["messages"][-1]["content"]})
                    return body
            """,
            lines=(2,),
            message="`HttpAction.__init__` requires `base_url`, `retries`",
        ),
        Invalid(
            """
            class ImageAction:
                def __init__(self):
                    self.size = "1024x1024"

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__(
                        {"type": "status", "data": {"description": "Generating…", "done": False}}
                    )


            Action = ImageAction()
            """,
            lines=(11,),
            message="an instance of `ImageAction`",
        ),
    ]


class MissingActionMethod(LintRule):
    """
    ## What it does
    Reports a `class Action` that defines no `action` method and has no base class that
    could provide one.

    ## Why is this bad?
    Open WebUI calls `Action().action(...)` when the button is clicked. When the instance
    has no `action` attribute, the invoker silently returns the request body unchanged:
    the button does nothing and nobody is told why.

    A base class imported from another module is assumed to provide `action` (owui-lint
    does not leave the module), so this rule stays silent there rather than guess.

    ## Example
    ```python
    class Action:
        async def run(self, body: dict) -> dict:
            return body
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict) -> dict:
            return body
    ```
    """

    code = "OWA103"
    name = "missing-action-method"
    level = Level.ERROR
    summary = "`class Action` defines no `action` method."

    def check(self) -> None:
        cls = self.module.action_class
        if cls is None or _class_provides(self.module, cls, "action", set()):
            return
        self.report(
            cls.name,
            f"`class {cls.name.value}` has no `action` method, so clicking the button returns "
            "the request unchanged; define `async def action(self, body, __user__=None, "
            "__event_emitter__=None)`",
        )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            from mylib.base import ExportBase

            class Action(ExportBase):
                pass
            """
        ),
        Valid(
            """
            class _Base:
                async def action(self, body: dict) -> dict:
                    return body

            class Action(_Base):
                def __init__(self):
                    self.name = "export"
            """
        ),
        Valid(
            """
            async def _summarize(self, body, __event_emitter__=None):
                return body

            class Action:
                action = _summarize
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                class Valves:
                    pass

                def __init__(self):
                    self.valves = self.Valves()

                async def run(self, body: dict) -> dict:
                    return body
            """,
            lines=(1,),
            message="has no `action` method",
        ),
        Invalid(
            """
            class Mixin:
                def helper(self):
                    return 1

            class Action(Mixin, object):
                async def actions(self, body):
                    return body
            """,
            lines=(5,),
        ),
        Invalid(
            """
            class Summarizer:
                async def summarize(self, body):
                    return body

            Action = Summarizer
            """,
            lines=(1,),
        ),
        Invalid(
            '''
            """
            title: Export to Markdown
            description: Save the chat as a Markdown file
            """

            class Action:
                async def Action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "ok", "done": True}})
            ''',
            lines=(6,),
        ),
    ]


_NEVER_INJECTED_HINTS: dict[str, str] = {
    "__chat_id__": 'read `body["chat_id"]` instead',
    "__message_id__": 'read `body["id"]` (the clicked message) instead',
    "__session_id__": 'read `body["session_id"]` instead',
    "__messages__": 'read `body["messages"]` instead',
    "__metadata__": 'read `body["chat_id"]`, `body["id"]` or `body["session_id"]` instead',
    "__files__": "actions receive no files; look them up through the chat if you need them",
    "__oauth_token__": "actions receive no OAuth token",
    "__task__": "actions are never run as a task",
    "__tools__": "actions receive no tools",
}


def _signature_target(model: ActionModule) -> FunctionInfo | None:
    """The `action` function whose signature Open WebUI inspects, when we can know it."""
    info = action_function(model)
    if info is None or _is_decorated(info):
        return None  # a decorator's wrapper has a signature we cannot see
    return info


class BadActionSignature(LintRule):
    """
    ## What it does
    Reports an `action` method Open WebUI cannot call: no parameter named `body`
    (and no `**kwargs` to catch it), positional-only parameters (`/`), or a parameter
    without a default that Open WebUI never passes (anything but `body`, `__model__`,
    `__id__`, `__event_emitter__`, `__event_call__`, `__request__`, `__user__`).

    ## Why is this bad?
    Open WebUI calls `action(**params)`: `body` by keyword, plus each injected name that
    appears in the signature. A first parameter called `data`, a parameter before `/`, or
    a required `__chat_id__` makes every click fail with `TypeError`, shown to the user as
    an HTTP 400 toast.

    A decorated `action` is not checked: the wrapper's signature is unknown.

    ## Example
    ```python
    class Action:
        async def action(self, data: dict, __chat_id__, /) -> dict:
            return data
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict, __user__=None) -> dict:
            chat_id = body["chat_id"]
            return body
    ```
    """

    code = "OWA104"
    name = "bad-action-signature"
    level = Level.ERROR
    summary = "Open WebUI cannot call `action` with its keyword arguments (`body`, injected names)."

    def check(self) -> None:
        info = _signature_target(self.module)
        if info is None:
            return
        fn = info.node
        p = fn.params
        positional = [*p.posonly_params, *p.params]
        if not positional and type(p.star_arg) is not cst.Param:
            self.report(
                fn.name,
                f"`def {fn.name.value}()` takes no `self`, so every click fails with "
                "TypeError; write `async def action(self, body, __user__=None, "
                "__event_emitter__=None)`",
            )
            return
        rest = positional[1:]  # the first positional parameter receives the instance
        # Parameters Open WebUI can fill by keyword (the instance's own slot excluded).
        regular = list(p.params) if p.posonly_params else list(p.params[1:])
        keyword_capable = [*regular, *p.kwonly_params]
        problems: list[str] = []
        names = {x.name.value for x in keyword_capable}
        posonly = list(p.posonly_params[1:])
        renamed: cst.Param | None = None
        body_posonly = any(x.name.value == "body" for x in posonly)
        if "body" not in names and p.star_kwarg is None and not body_posonly:
            first = rest[0] if rest else None
            if (
                first is not None
                and first.name.value not in INJECTED_PARAMS | NEVER_INJECTED_PARAMS
                and first not in posonly
            ):
                renamed = first
                problems.append(
                    f"there is no parameter named `body` (Open WebUI passes the request as "
                    f"`body=...`): rename `{first.name.value}` to `body`"
                )
            else:
                problems.append(
                    "there is no parameter named `body` (Open WebUI passes the request as "
                    "`body=...`): add `body: dict` after `self`"
                )
        if posonly:
            listed = ", ".join(f"`{x.name.value}`" for x in posonly)
            problems.append(
                f"{listed} {'is' if len(posonly) == 1 else 'are'} positional-only (before `/`), "
                "but Open WebUI passes every argument by keyword: remove the `/`"
            )
        for param in [*rest, *p.kwonly_params]:
            pname = param.name.value
            if (
                param.default is not None
                or pname in INJECTED_PARAMS
                or param in posonly
                or param is renamed
            ):
                continue
            if pname in NEVER_INJECTED_PARAMS:
                problems.append(
                    f"`{pname}` has no default and actions never receive it: remove it "
                    f"({_NEVER_INJECTED_HINTS[pname]})"
                )
            else:
                problems.append(
                    f"`{pname}` has no default and Open WebUI never passes it: give it a "
                    f"default (`{pname}=None`) or remove it"
                )
        if problems:
            self.report(
                fn.name,
                "every click on this action fails with TypeError (HTTP 400): "
                + "; ".join(problems),
            )

    VALID = [
        Valid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    language: str = "English"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(
                    self,
                    body: dict,
                    __user__=None,
                    __event_emitter__=None,
                    __event_call__=None,
                    __model__=None,
                    __request__=None,
                    __id__=None,
                ) -> dict:
                    return body
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__: dict, __event_emitter__) -> None:
                    await __event_emitter__(
                        {"type": "notification", "data": {"type": "info", "content": f"Hi {__user__['name']}"}}
                    )
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body: dict, *, __event_emitter__, __event_call__, style="short") -> dict:
                    answer = await __event_call__(
                        {"type": "input", "data": {"title": "Style", "message": "short or long?", "placeholder": style}}
                    )
                    return body
            """
        ),
        Valid(
            """
            import functools


            def with_status(fn):
                @functools.wraps(fn)
                async def wrapper(self, body, __event_emitter__=None, **kwargs):
                    await __event_emitter__({"type": "status", "data": {"description": "Working…", "done": False}})
                    result = await fn(self, body, __event_emitter__)
                    await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
                    return result

                return wrapper


            class Action:
                @with_status
                async def action(self, payload, emitter):
                    return payload
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, **kwargs) -> dict:
                    body = kwargs["body"]
                    return {"messages": [{"id": body["id"], "content": body["messages"][-1]["content"].upper()}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, data: dict, __event_emitter__=None) -> dict:
                    last = data["messages"][-1]["content"]
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"{len(last.split())} words", "done": True}}
                    )
                    return data
            """,
            lines=(2,),
            message="rename `data` to `body`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __user__=None, /, __event_emitter__=None) -> dict:
                    name = (__user__ or {}).get("name", "there")
                    return {"messages": [{"id": body["id"], "content": f"Hello {name}"}]}
            """,
            lines=(2,),
            message="positional-only",
        ),
        Invalid(
            """
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    folder: str = "/tmp/exports"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(
                    self,
                    body: dict,
                    __chat_id__,
                    __user__=None,
                ) -> dict:
                    path = f"{self.valves.folder}/{__chat_id__}.md"
                    return body
            """,
            lines=(11,),
            message="`__chat_id__` has no default and actions never receive it",
        ),
        Invalid(
            """
            import httpx


            class Action:
                async def action(self, body: dict, __user__, api_base: str, __event_emitter__=None) -> None:
                    async with httpx.AsyncClient(base_url=api_base) as client:
                        await client.post("/notes", json={"text": body["messages"][-1]["content"]})
            """,
            lines=(5,),
            message="`api_base` has no default",
        ),
        Invalid(
            """
            class Action:
                async def action(self, *args) -> None:
                    print("clicked", args)
            """,
            lines=(2,),
            message="no parameter named `body`",
        ),
    ]


class NeverInjectedParameter(LintRule):
    """
    ## What it does
    Reports an `action` parameter with a reserved name that actions never receive
    (`__metadata__`, `__files__`, `__messages__`, `__chat_id__`, `__session_id__`,
    `__message_id__`, `__oauth_token__`, `__task__`, `__tools__`) declared with a default.

    ## Why is this bad?
    Pipes, filters and tools receive these names; actions get only `body`, `__user__`,
    `__event_emitter__`, `__event_call__`, `__request__`, `__model__` and `__id__`. The
    parameter silently keeps its default on every click, so code that relies on it (for
    instance to find the chat) never works. The same values are in `body`.

    Without a default the call fails outright: that is `bad-action-signature` (OWA104).
    A decorated `action` is not checked.

    ## Example
    ```python
    class Action:
        async def action(self, body: dict, __chat_id__=None, __messages__=None) -> None:
            print(__chat_id__, len(__messages__ or []))
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict) -> None:
            print(body["chat_id"], len(body["messages"]))
    ```
    """

    code = "OWA105"
    name = "never-injected-parameter"
    level = Level.WARNING
    summary = "A reserved parameter actions never receive always holds its default."

    def check(self) -> None:
        info = _signature_target(self.module)
        if info is None:
            return
        for param in _all_params(info.node):
            pname = param.name.value
            if pname not in NEVER_INJECTED_PARAMS or param.default is None:
                continue
            self.report(
                info.node.name,
                f"`{pname}` is never passed to actions (only pipes, filters and tools get it), "
                f"so it always holds its default `{_code(param.default, 30)}`; "
                f"{_NEVER_INJECTED_HINTS[pname]}",
            )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
                    chat_id = body["chat_id"]
                    message_id = body["id"]
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"Exporting {chat_id}/{message_id}", "done": True}}
                    )
                    return body
            """
        ),
        Valid(
            """
            class Action:
                actions = [
                    {"id": "short", "name": "Short summary"},
                    {"id": "long", "name": "Long summary"},
                ]

                async def action(self, body: dict, __id__=None, __model__=None) -> dict:
                    length = 50 if __id__ == "short" else 300
                    return {"messages": [{"id": body["id"], "content": body["messages"][-1]["content"][:length]}]}
            """
        ),
        Valid(
            """
            class Action:
                def _render(self, body: dict, __messages__=None) -> str:
                    messages = __messages__ if __messages__ is not None else body["messages"]
                    return "\\n".join(m["content"] for m in messages)

                async def action(self, body: dict) -> dict:
                    return {"messages": [{"id": body["id"], "content": self._render(body)}]}
            """
        ),
        Valid(
            """
            import functools


            def traced(fn):
                @functools.wraps(fn)
                async def wrapper(self, body, **kwargs):
                    return await fn(self, body, __chat_id__=body["chat_id"])

                return wrapper


            class Action:
                @traced
                async def action(self, body: dict, __chat_id__=None) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import json
            import os


            class Action:
                async def action(self, body: dict, __user__=None, __chat_id__=None) -> dict:
                    os.makedirs("exports", exist_ok=True)
                    with open(f"exports/{__chat_id__}.json", "w") as handle:
                        json.dump(body["messages"], handle)
                    return body
            """,
            lines=(6,),
            message='read `body["chat_id"]` instead',
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __messages__=None, __files__=None, __event_emitter__=None) -> None:
                    count = len(__messages__ or [])
                    images = [f for f in (__files__ or []) if f.get("type") == "image"]
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"{count} messages, {len(images)} images", "done": True}}
                    )
            """,
            lines=(2,),
        ),
        Invalid(
            """
            from typing import Optional


            class Action:
                async def action(
                    self,
                    body: dict,
                    __user__: Optional[dict] = None,
                    __metadata__: Optional[dict] = None,
                ) -> dict:
                    session = (__metadata__ or {}).get("session_id", "unknown")
                    return {"messages": [{"id": body["id"], "content": f"Session {session}"}]}
            """,
            lines=(5,),
            message="`__metadata__` is never passed to actions",
        ),
        Invalid(
            """
            import httpx


            class Action:
                async def action(self, body: dict, __oauth_token__: dict | None = None) -> None:
                    token = (__oauth_token__ or {}).get("access_token")
                    async with httpx.AsyncClient() as client:
                        await client.post(
                            "https://graph.example.com/notes",
                            headers={"Authorization": f"Bearer {token}"},
                            json={"text": body["messages"][-1]["content"]},
                        )
            """,
            lines=(5,),
            message="actions receive no OAuth token",
        ),
    ]


_DUNDER = re.compile(r"^__\w+__$")


def _refers_to(model: ActionModule, name: cst.Name, binding: cst.CSTNode) -> bool:
    """True when the Name `name` reads the binding at `binding` (through libcst's scopes)."""
    referents = model.referents(name)
    return referents is not None and any(r is binding for r in referents)


class KwargsNeverFilled(LintRule):
    """
    ## What it does
    Reports reading an injected or reserved name (`__user__`, `__event_emitter__`,
    `__chat_id__`, …) out of the `**kwargs` parameter of `action`, whatever that parameter
    is called: `kwargs["__user__"]`, `kwargs.get("__event_emitter__")`,
    `"__user__" in kwargs`, also through a plain alias (`extra = kwargs`).

    ## Why is this bad?
    Open WebUI passes an injected argument only when the signature has a parameter with
    exactly that name (`key in sig.parameters`). `**kwargs` therefore receives nothing but
    `body`: `kwargs["__user__"]` raises `KeyError`, `kwargs.get(...)` is always `None`, and
    code written for the user or the emitter never runs. The Open WebUI docs show
    `action(self, body, **kwargs)`, which makes this an easy trap.

    When the function writes into the mapping first (`kwargs = ...`, `kwargs.update(...)`,
    `kwargs[...] = ...`) the rule stays silent.

    ## Example
    ```python
    class Action:
        async def action(self, body: dict, **kwargs) -> None:
            emitter = kwargs.get("__event_emitter__")
            if emitter:
                await emitter({"type": "status", "data": {"description": "Done", "done": True}})
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict, __event_emitter__=None) -> None:
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    ```
    """

    code = "OWA106"
    name = "kwargs-never-filled"
    level = Level.WARNING
    summary = "An injected name read from `**kwargs`, which Open WebUI never fills."

    def check(self) -> None:
        info = action_function(self.module)
        if info is None or info.node.params.star_kwarg is None:
            return
        star = info.node.params.star_kwarg
        kw = star.name.value
        # Names in the body that read the `**` parameter (closures included).
        reads: list[cst.Name] = [
            n
            for n in self.module.walk(info.node.body)
            if type(n) is cst.Name and n.value == kw and _refers_to(self.module, n, star)
        ]
        aliases = self._aliases(info, reads)
        if aliases is None:
            return
        reads += aliases
        for name in reads:
            self._check_read(name, kw)

    def _aliases(self, info: FunctionInfo, reads: list[cst.Name]) -> list[cst.Name] | None:
        """Reads of plain aliases (`extra = kwargs`); None when the mapping is written to."""
        out: list[cst.Name] = []
        alias_names: set[str] = set()
        for name in reads:
            parent = self.module.parent(name)
            if (
                type(parent) is cst.Attribute
                and parent.value is name
                and parent.attr.value in ("update", "setdefault", "__setitem__")
            ):
                return None
            if type(parent) is cst.Subscript and parent.value is name:
                grand = self.module.parent(parent)
                if isinstance(grand, (cst.AssignTarget, cst.AugAssign)):
                    return None
            if isinstance(parent, (cst.AssignTarget, cst.AugAssign)) or (
                type(parent) is cst.AnnAssign and parent.target is name
            ):
                return None  # `kwargs = {...}`: it may hold anything now
            if type(parent) is cst.Assign and parent.value is name:
                targets = [t.target for t in parent.targets]
                alias_names |= {t.value for t in targets if type(t) is cst.Name}
        if alias_names:
            assigned: dict[str, int] = {}
            for node in self.module.walk(info.node.body):
                if type(node) is cst.AssignTarget and type(node.target) is cst.Name:
                    assigned[node.target.value] = assigned.get(node.target.value, 0) + 1
            for node in self.module.walk(info.node.body):
                if (
                    type(node) is cst.Name
                    and node.value in alias_names
                    and assigned.get(node.value) == 1
                    and type(self.module.parent(node)) is not cst.AssignTarget
                ):
                    out.append(node)
        return out

    def _check_read(self, name: cst.Name, kw: str) -> None:
        parent = self.module.parent(name)
        key: str | None = None
        how = ""
        node: cst.CSTNode = name
        if type(parent) is cst.Subscript and parent.value is name and len(parent.slice) == 1:
            index = parent.slice[0].slice
            if type(index) is cst.Index:
                key = string_value(index.value)
                how = "raises KeyError"
                node = parent
        elif type(parent) is cst.Attribute and parent.value is name:
            call = self.module.parent(parent)
            if (
                parent.attr.value in ("get", "pop")
                and type(call) is cst.Call
                and call.func is parent
                and call.args
            ):
                key = string_value(call.args[0].value)
                how = "is always missing"
                node = call
        elif type(parent) is cst.ComparisonTarget and isinstance(
            parent.operator, (cst.In, cst.NotIn)
        ):
            comparison = self.module.parent(parent)
            if type(comparison) is cst.Comparison and len(comparison.comparisons) == 1:
                key = string_value(comparison.left)
                how = "is always False" if type(parent.operator) is cst.In else "is always True"
                node = comparison
        if key is None or not _DUNDER.match(key):
            return
        if key in INJECTED_PARAMS:
            fix = f"declare `{key}=None` as a parameter of `action` and use it directly"
        elif key in NEVER_INJECTED_PARAMS:
            fix = f"actions never receive `{key}` at all: {_NEVER_INJECTED_HINTS[key]}"
        else:
            fix = "Open WebUI injects nothing under that name"
        self.report(
            None,
            f"`{_code(node, 50)}` {how}: Open WebUI fills only parameters named in the "
            f"signature, so `**{kw}` never receives `{key}`; {fix}",
            location=self.module.statement_location(node),
        )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __user__=None, __event_emitter__=None, **kwargs) -> dict:
                    name = (__user__ or {}).get("name", "there")
                    await __event_emitter__(
                        {"type": "notification", "data": {"type": "info", "content": f"Hi {name}"}}
                    )
                    return body
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body: dict, **options) -> dict:
                    temperature = options.get("temperature", 0.2)
                    style = options.get("style", "bullet points")
                    return {"messages": [{"id": body["id"], "content": f"{style} @ {temperature}"}]}
            """
        ),
        Valid(
            """
            class Action:
                def __init__(self):
                    self.defaults = {"__user__": {"name": "anonymous"}}

                async def action(self, body: dict, **kwargs) -> dict:
                    kwargs.update(self.defaults)
                    user = kwargs.get("__user__")
                    return {"messages": [{"id": body["id"], "content": f"by {user['name']}"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def _summarize(self, body: dict, **kwargs) -> str:
                    user = kwargs.get("__user__") or {}
                    return f"Summary for {user.get('name', 'you')}"

                async def action(self, body: dict, __user__=None) -> dict:
                    text = await self._summarize(body, __user__=__user__)
                    return {"messages": [{"id": body["id"], "content": text}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body: dict, **kwargs) -> dict:
                    emitter = kwargs.get("__event_emitter__")
                    if emitter:
                        await emitter(
                            {"type": "status", "data": {"description": "Summarizing…", "done": True}}
                        )
                    return body
            """,
            lines=(3,),
            message="is always missing",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, **kwargs) -> dict:
                    if kwargs["__user__"]["role"] != "admin":
                        return {"messages": [{"id": body["id"], "content": "Admins only"}]}
                    return body
            """,
            lines=(3,),
            message="raises KeyError",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, **extra) -> dict:
                    if "__event_call__" in extra:
                        answer = await extra["__event_call__"](
                            {"type": "confirmation", "data": {"title": "Export", "message": "Export this chat?"}}
                        )
                        if answer is not True:
                            return body
                    return body
            """,
            lines=(3, 4),
            message="`**extra` never receives `__event_call__`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, **kwargs) -> dict:
                    opts = kwargs
                    user = opts.get("__user__", {})
                    chat = opts.get("__chat_id__")
                    return {"messages": [{"id": body["id"], "content": f"{user.get('name')} in {chat}"}]}
            """,
            lines=(4, 5),
        ),
    ]


class SyncAction(LintRule):
    """
    ## What it does
    Reports an `action` defined with plain `def` instead of `async def`.

    ## Why is this bad?
    Open WebUI awaits `action` when it is a coroutine function and otherwise calls it
    directly on the server's event loop, with no thread offload. While a sync action runs
    (an HTTP request, a model call, file work) the whole server stops answering every
    user. A sync `action` also cannot `await` the event emitter, so it cannot show status.

    A decorated `action` is not checked: the decorator may make it async.

    ## Example
    ```python
    import requests

    class Action:
        def action(self, body: dict) -> dict:
            requests.post("https://hooks.example.com/chat", json=body, timeout=10)
            return body
    ```

    ## Use instead
    ```python
    import asyncio
    import requests

    class Action:
        async def action(self, body: dict) -> dict:
            await asyncio.to_thread(
                requests.post, "https://hooks.example.com/chat", json=body, timeout=10
            )
            return body
    ```

    ## Fix
    `check --fix` writes `async def action` when nothing can tell the difference: the method
    is written in `Action` itself, nothing else in the module names it (no other caller),
    it has no `yield`, calls no coroutine function and makes no known blocking call (the
    calls OWA112 reports). Otherwise moving the work to `asyncio.to_thread` is yours to do.
    """

    code = "OWA107"
    name = "sync-action"
    level = Level.WARNING
    summary = "`def action` is not `async`: it runs on the event loop and blocks every user."
    fixable = True

    def check(self) -> None:
        info = _signature_target(self.module)
        if info is None or info.is_async:
            return
        self.report(
            info.node.name,
            f"`def {info.name}` is not `async`: Open WebUI calls it on the server's event "
            "loop, so while it runs no other user gets an answer; write `async def "
            f"{info.name}(...)` (and move blocking work into `await asyncio.to_thread(...)`)",
            fix=self._async_fix(info),
        )

    def _async_fix(self, info: FunctionInfo) -> Fix | None:
        """`def action` -> `async def action`, only when nothing can tell the difference:
        a method written in `Action` itself, no other mention of its name in the module (no
        other caller, no reference), no `yield`, no known blocking call on its way (OWA112's
        list), and no call of a coroutine function whose coroutine could be returned."""
        model = self.module
        cls = model.action_class
        if cls is None or type(cls.body) is not cst.IndentedBlock:
            return None
        if not any(stmt is info.node for stmt in cls.body.body):
            return None
        name = info.node.name
        if any(n.value == name.value and n is not name for n in model.index.of_type(cst.Name)):
            return None
        own = model.own_nodes(info.node.body, lambdas=False)
        if any(isinstance(n, (cst.Yield, cst.Await)) for n in own):
            return None
        for node in own:
            if type(node) is cst.Return and type(node.value) is cst.Call:
                callee = model.resolve_callable(node.value.func, info)
                target = model.functions.get(callee) if callee else None
                if target is None or target.is_async:
                    return None
            if type(node) is cst.Call:
                callee = model.resolve_callable(node.func, info)
                target = model.functions.get(callee) if callee else None
                if target is not None and target.is_async:
                    return None
        if next(blocking_calls(model, info), None) is not None:
            return None
        return Fix(f"Make `{name.value}` `async`", (self.insert_before(info.node, "async "),))

    VALID = [
        Valid(
            """
            import asyncio

            import requests


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    await asyncio.to_thread(
                        requests.post, "https://hooks.example.com/chat", json=body, timeout=10
                    )
                    return body
            """
        ),
        Valid(
            """
            class Action:
                def _render(self, body: dict) -> str:
                    return "\\n\\n".join(f"**{m['role']}**: {m['content']}" for m in body["messages"])

                async def action(self, body: dict) -> dict:
                    return {"messages": [{"id": body["id"], "content": self._render(body)}]}
            """
        ),
        Valid(
            """
            from acme.decorators import run_in_thread


            class Action:
                @run_in_thread
                def action(self, body: dict) -> dict:
                    return body
            """
        ),
        Valid(
            """
            class _Base:
                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__(
                        {"type": "status", "data": {"description": self.label, "done": True}}
                    )


            class Action(_Base):
                label = "Copied"
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import requests
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    webhook_url: str = ""

                def __init__(self):
                    self.valves = self.Valves()

                def action(self, body: dict, __user__=None) -> dict:
                    requests.post(self.valves.webhook_url, json={"text": body["messages"][-1]["content"]}, timeout=10)
                    return body
            """,
            lines=(12,),
            message="is not `async`",
        ),
        Invalid(
            """
            class Action:
                async def _summarize(self, body: dict) -> dict:
                    text = body["messages"][-1]["content"]
                    return {"messages": [{"id": body["id"], "content": text[:200]}]}

                def action(self, body: dict):
                    return self._summarize(body)
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import time


            class Action:
                def action(self, body: dict, __event_emitter__=None) -> None:
                    __event_emitter__({"type": "status", "data": {"description": "Waiting…", "done": False}})
                    time.sleep(5)
            """,
            lines=(5,),
        ),
        Invalid(
            """
            import csv
            import io


            class CsvExporter:
                def action(self, body: dict) -> dict:
                    buffer = io.StringIO()
                    writer = csv.writer(buffer)
                    for message in body["messages"]:
                        writer.writerow([message["role"], message["content"]])
                    return {"messages": [{"id": body["id"], "content": buffer.getvalue()}]}


            Action = CsvExporter
            """,
            lines=(6,),
            fixed="""
                import csv
                import io


                class CsvExporter:
                    async def action(self, body: dict) -> dict:
                        buffer = io.StringIO()
                        writer = csv.writer(buffer)
                        for message in body["messages"]:
                            writer.writerow([message["role"], message["content"]])
                        return {"messages": [{"id": body["id"], "content": buffer.getvalue()}]}


                Action = CsvExporter
            """,
        ),
        Invalid(
            """
            class Action:
                # Called by Open WebUI when the button is clicked.
                def action(self, body: dict) -> dict:  # returns the reply unchanged
                    return {"messages": [{"id": body["id"], "content": self._clean(body)}]}

                def _clean(self, body: dict) -> str:
                    return body["messages"][-1]["content"].strip()
            """,
            lines=(3,),
            fixed="""
                class Action:
                    # Called by Open WebUI when the button is clicked.
                    async def action(self, body: dict) -> dict:  # returns the reply unchanged
                        return {"messages": [{"id": body["id"], "content": self._clean(body)}]}

                    def _clean(self, body: dict) -> str:
                        return body["messages"][-1]["content"].strip()
            """,
        ),
        Invalid(
            """
            class Action:
                def action(self, body: dict) -> dict:  # no autofix: `run` calls it directly
                    return body

                def run(self, body: dict) -> dict:
                    return self.action(body)
            """,
            lines=(2,),
        ),
    ]


class ActionIsGenerator(LintRule):
    """
    ## What it does
    Reports `yield` (or `yield from`) in `action`, which makes it a generator (or an async
    generator). The first `yield` is reported; one finding per `action`.

    ## Why is this bad?
    Open WebUI does not iterate what `action` returns: it awaits `action(...)` (or calls
    it) and serialises the result. A generator object cannot be serialised, so the click
    fails with a server error and no part of the work is shown. Streaming output belongs in
    `__event_emitter__` events (`message`, `status`), not in `yield`.

    `yield` inside a nested function or lambda does not count. A decorated `action` is
    not checked.

    ## Example
    ```python
    class Action:
        async def action(self, body: dict):
            for chunk in ["Summarising", "…", "done"]:
                yield chunk
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body: dict, __event_emitter__=None) -> None:
            for chunk in ["Summarising", "…", "done"]:
                await __event_emitter__({"type": "message", "data": {"content": chunk}})
    ```
    """

    code = "OWA108"
    name = "action-is-generator"
    level = Level.ERROR
    summary = "`action` contains `yield`: its result is a generator that cannot be serialised."

    def check(self) -> None:
        info = _signature_target(self.module)
        if info is None:
            return
        yields = self.module.own_of(info.node.body, cst.Yield, lambdas=False)
        if yields:
            kind = "an async generator" if info.is_async else "a generator"
            self.report(
                yields[0],
                f"`yield` makes `{info.name}` {kind}: Open WebUI cannot serialise the "
                "generator it returns, so the click fails; send partial output with "
                '`await __event_emitter__({"type": "message", "data": {"content": ...}})` '
                "and `return` the final result",
            )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    def chunks(text: str, size: int = 400):
                        for start in range(0, len(text), size):
                            yield text[start : start + size]

                    text = body["messages"][-1]["content"]
                    for part in chunks(text):
                        await __event_emitter__({"type": "message", "data": {"content": part}})
                    return body
            """
        ),
        Valid(
            """
            class Action:
                def _rows(self, body: dict):
                    for message in body["messages"]:
                        yield f"| {message['role']} | {len(message['content'])} |"

                async def action(self, body: dict) -> dict:
                    table = "\\n".join(["| role | chars |", "|---|---|", *self._rows(body)])
                    return {"messages": [{"id": body["id"], "content": table}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body: dict) -> dict:
                    words = sum(len(m["content"].split()) for m in body["messages"])
                    return {"messages": [{"id": body["id"], "content": f"{words} words"}]}
            """
        ),
        Valid(
            """
            from contextlib import asynccontextmanager


            class Action:
                @asynccontextmanager
                async def action(self, body: dict):
                    yield body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import httpx


            class Action:
                async def action(self, body: dict, __event_emitter__=None):
                    async with httpx.AsyncClient() as client:
                        async with client.stream("POST", "https://llm.example.com/summarize", json=body) as reply:
                            async for chunk in reply.aiter_text():
                                yield chunk
            """,
            lines=(9,),
            message="async generator",
        ),
        Invalid(
            """
            class Action:
                def action(self, body: dict):
                    for message in body["messages"]:
                        yield {"role": message["role"], "length": len(message["content"])}
            """,
            lines=(4,),
        ),
        Invalid(
            """
            class Action:
                def _pages(self, body: dict):
                    for message in body["messages"]:
                        yield message["content"]

                async def action(self, body: dict, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Paging", "done": True}})
                    result = yield "start"
                    for page in self._pages(body):
                        yield page
            """,
            lines=(8,),
        ),
        Invalid(
            """
            import json


            class Action:
                def action(self, body: dict, __user__=None):
                    try:
                        yield from (json.dumps(m) for m in body["messages"])
                    finally:
                        print("export finished")
            """,
            lines=(7,),
            message="a generator",
        ),
    ]


_VALUE_KINDS: tuple[tuple[type[cst.CSTNode], str], ...] = (
    *_LITERAL_KINDS,
    (cst.Lambda, "a lambda"),
)


def _literal_kind(model: ActionModule, node: cst.BaseExpression) -> str | None:
    """'a string', 'a number', 'None', … for a literal; None when the value is not literal."""
    if type(node) is cst.Name and node.value in ("None", "True", "False"):
        return "None" if node.value == "None" else "a bool"
    for kind, what in _VALUE_KINDS:
        if isinstance(node, kind):
            return what
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _dict_items(
    model: ActionModule, node: cst.BaseExpression
) -> tuple[dict[str, cst.BaseExpression], bool] | None:
    """Literal keys of a `{...}` or `dict(...)` entry, and whether unknown keys may exist."""
    if type(node) is cst.Dict:
        items: dict[str, cst.BaseExpression] = {}
        open_ended = False
        for element in node.elements:
            if type(element) is cst.DictElement:
                key = string_value(element.key)
                if key is None:
                    open_ended = True
                else:
                    items[key] = element.value
            else:
                open_ended = True  # `**base`
        return items, open_ended
    if (
        type(node) is cst.Call
        and type(node.func) is cst.Name
        and node.func.value == "dict"
        and "dict" not in model.bindings
    ):
        items = {}
        open_ended = False
        for arg in node.args:
            if arg.keyword is not None and not arg.star:
                items[arg.keyword.value] = arg.value
            else:
                open_ended = True
        return items, open_ended
    return None


def _actions_problems(model: ActionModule, value: cst.BaseExpression) -> list[str]:
    kind = _literal_kind(model, value)
    if not isinstance(value, (cst.List, cst.Tuple)):
        if kind is None or kind in ("a list", "a tuple"):
            return []  # computed (a call, a name, a comprehension): not ours to guess
        return [f"it is {kind}, not a list of dicts"]
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, element in enumerate(value.elements, start=1):
        if type(element) is not cst.Element:
            continue  # `*base`: unknown entries
        entry = element.value
        items = _dict_items(model, entry)
        if items is None:
            entry_kind = _literal_kind(model, entry)
            if entry_kind is not None:
                problems.append(f"entry {index} is {entry_kind}, not a dict")
            continue
        keys, open_ended = items
        if "id" not in keys:
            if not open_ended:
                problems.append(f'entry {index} has no `"id"`')
            continue
        ident = keys["id"]
        text = string_value(ident)
        if text is None:
            id_kind = _literal_kind(model, ident)
            if id_kind is not None:
                problems.append(f"entry {index}'s `id` is {id_kind}, not a string")
            continue
        if "." in text:
            problems.append(f'entry {index}\'s id `"{text}"` contains `.`')
        if text in seen:
            problems.append(f'id `"{text}"` repeats (entries {seen[text]} and {index})')
        else:
            seen[text] = index
    return problems


class MalformedActionsList(LintRule):
    """
    ## What it does
    Checks a literal `actions` list (a class attribute of `Action`, or `self.actions = …`
    in `__init__`): it must be a list of dicts, each with a string `id` that contains no
    `.`, and no two ids may be equal. Only literal values are checked; a list built at run
    time (a call, a comprehension, `*base` entries, `**defaults` in an entry) is not
    guessed at.

    ## Why is this bad?
    Open WebUI builds one button per entry while it assembles the model list, reading
    `action["id"]` and `action.get(...)` with no error handling. An entry that is not a dict
    or has no `id` raises inside `/api/models` and breaks the model list for every user.
    The button id is `"<function_id>.<id>"` and is split on `.` when clicked, so a dotted
    id fails with HTTP 400. Duplicate ids make two buttons that do the same thing.

    ## Example
    ```python
    class Action:
        actions = [
            {"id": "summary.short", "name": "Short summary"},
            {"name": "Long summary"},
            "translate",
        ]

        async def action(self, body: dict, __id__=None) -> dict:
            return body
    ```

    ## Use instead
    ```python
    class Action:
        actions = [
            {"id": "summary_short", "name": "Short summary"},
            {"id": "summary_long", "name": "Long summary"},
            {"id": "translate", "name": "Translate"},
        ]

        async def action(self, body: dict, __id__=None) -> dict:
            return body
    ```
    """

    code = "OWA109"
    name = "malformed-actions-list"
    level = Level.ERROR
    summary = "`actions` is not a list of dicts with unique, dot-free string ids."

    def check(self) -> None:
        cls = self.module.action_class
        if cls is None:
            return
        for stmt in cls.body.body:
            if type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    self._check_assignment(small, lambda t: _is_name(t, "actions"))
        init = self.module.class_methods(cls).get("__init__")
        if init is not None:
            for node in self.module.own_nodes(init.body):
                self._check_assignment(
                    node,
                    lambda t: _is_self_attr(t, "actions"),
                )

    def _check_assignment(
        self, node: cst.CSTNode, is_target: Callable[[cst.BaseExpression], bool]
    ) -> None:
        if type(node) is cst.Assign and any(is_target(t.target) for t in node.targets):
            value: cst.BaseExpression | None = node.value
        elif type(node) is cst.AnnAssign and is_target(node.target):
            value = node.value
        else:
            return
        if value is None:
            return
        problems = _actions_problems(self.module, value)
        if not problems:
            return
        impacts = []
        if any(p.startswith("it is") or "not a dict" in p or "no `" in p for p in problems):
            impacts.append(
                'Open WebUI reads `action["id"]` of every entry with no error handling while '
                "it lists models, so this breaks the model list for every user"
            )
        if any("contains `.`" in p for p in problems):
            impacts.append(
                "the button id `<function_id>.<id>` is split on `.` when clicked, so a dotted "
                "id fails with HTTP 400"
            )
        if any("repeats" in p for p in problems):
            impacts.append("repeated ids give two buttons that run the same sub-action")
        if any("not a string" in p for p in problems):
            impacts.append(
                "the sub-id comes back to `action` as a string (`__id__`), so it never equals "
                "a non-string id"
            )
        self.report(
            node,
            f"`actions` is malformed: {'; '.join(problems)}. {_sentence('; '.join(impacts))}; "
            'write a list of dicts with unique, dot-free string ids, e.g. `actions = [{"id": '
            '"summary", "name": "Summarize"}]`',
        )

    VALID = [
        Valid(
            """
            class Action:
                actions = [
                    {"id": "summary_short", "name": "Short summary", "icon_url": "https://cdn.example.com/s.svg"},
                    {"id": "summary_long", "name": "Long summary"},
                    {"id": "translate", "name": "Translate"},
                ]

                async def action(self, body: dict, __id__=None, __event_emitter__=None) -> dict:
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"Running {__id__}", "done": True}}
                    )
                    return body
            """
        ),
        Valid(
            """
            LANGUAGES = ["english", "french", "german"]


            class Action:
                def __init__(self):
                    self.actions = [{"id": f"to_{lang}", "name": f"Translate to {lang.title()}"} for lang in LANGUAGES]

                async def action(self, body: dict, __id__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            COMMON = {"icon_url": "https://cdn.example.com/export.svg"}
            EXTRA_ACTIONS = [{"id": "pdf", "name": "PDF"}]


            class Action:
                actions = [
                    {"id": "markdown", "name": "Markdown", **COMMON},
                    {"id": "html", "name": "HTML", **COMMON},
                    *EXTRA_ACTIONS,
                ]

                async def action(self, body: dict, __id__=None) -> dict:
                    return body
            """
        ),
        Valid(
            """
            class Action:
                actions = (
                    dict(id="png", name="Render as PNG"),
                    dict(id="svg", name="Render as SVG"),
                )

                async def action(self, body: dict, __id__=None) -> dict:
                    return body
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                actions = [
                    {"id": "export.markdown", "name": "Markdown"},
                    {"id": "export.pdf", "name": "PDF"},
                ]

                async def action(self, body: dict, __id__=None) -> dict:
                    fmt = (__id__ or "").split(".")[-1]
                    return body
            """,
            lines=(2,),
            message="contains `.`",
        ),
        Invalid(
            """
            class Action:
                actions = [
                    {"id": "summary", "name": "Summarize"},
                    {"name": "Translate", "icon_url": "https://cdn.example.com/t.svg"},
                    "keywords",
                ]

                async def action(self, body: dict, __id__=None) -> dict:
                    return body
            """,
            lines=(2,),
            message="breaks the model list for every user",
        ),
        Invalid(
            """
            class Action:
                def __init__(self):
                    self.name = "Image tools"
                    self.actions = [
                        {"id": "generate", "name": "Generate image"},
                        {"id": "upscale", "name": "Upscale"},
                        {"id": "generate", "name": "Generate variation"},
                    ]

                async def action(self, body: dict, __id__=None, __event_emitter__=None) -> None:
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"{__id__}…", "done": True}}
                    )
            """,
            lines=(4,),
            message='id `"generate"` repeats',
        ),
        Invalid(
            """
            class Action:
                def __init__(self):
                    self.actions = {"id": "export", "name": "Export chat"}

                async def action(self, body: dict) -> dict:
                    return body
            """,
            lines=(3,),
            message="it is a dict, not a list of dicts",
        ),
        Invalid(
            """
            class Action:
                actions: list[dict] = [
                    {"id": 1, "name": "First draft"},
                    {"id": 2, "name": "Second draft"},
                ]

                async def action(self, body: dict, __id__=None) -> dict:
                    return body
            """,
            lines=(2,),
            message="is a number, not a string",
        ),
    ]


def _nested_in(info: FunctionInfo, outer: FunctionInfo) -> bool:
    """`info` is `outer` or a function defined inside it (a closure sees its parameters)."""
    current: FunctionInfo | None = info
    while current is not None:
        if current is outer:
            return True
        current = current.parent
    return False


class UndefinedInjectedName(LintRule):
    """
    ## What it does
    Reports an injected name (`__user__`, `__event_emitter__`, `__event_call__`,
    `__request__`, `__model__`, `__id__`) or a reserved one actions never receive
    (`__chat_id__`, `__messages__`, …) used in `action`, or in a function of the module that
    `action` reaches, where it is neither a parameter, a local or enclosing variable, nor a
    module-level name. One finding per name and function, on its first use.

    ## Why is this bad?
    Open WebUI passes injected values as *arguments*: they exist only inside a function
    that declares them. Elsewhere the name is undefined and the line raises `NameError`
    when the button is clicked; a helper that reads `__event_emitter__` must receive it as a
    parameter. A use guarded by `except NameError` is not reported.

    ## Example
    ```python
    class Action:
        async def _status(self, text: str) -> None:
            await __event_emitter__({"type": "status", "data": {"description": text, "done": True}})

        async def action(self, body: dict) -> None:
            name = __user__["name"]
            await self._status(f"Hello {name}")
    ```

    ## Use instead
    ```python
    class Action:
        async def _status(self, emitter, text: str) -> None:
            await emitter({"type": "status", "data": {"description": text, "done": True}})

        async def action(self, body: dict, __user__=None, __event_emitter__=None) -> None:
            name = __user__["name"]
            await self._status(__event_emitter__, f"Hello {name}")
    ```
    """

    code = "OWA110"
    name = "undefined-injected-name"
    level = Level.ERROR
    summary = "An injected name used where it is not a parameter: NameError at run time."

    WATCHED: frozenset[str] = NEVER_NONE_PARAMS | NEVER_INJECTED_PARAMS

    def check(self) -> None:
        start = action_function(self.module)
        if start is None:
            return
        reached = reach(self.module, start, lambda site: True)
        done: set[tuple[str, str]] = set()
        for qual, (info, path) in reached.items():
            for node in self.module.own_of(info.node.body, cst.Name):
                if node.value not in self.WATCHED:
                    continue
                if (qual, node.value) in done or not self._undefined(node):
                    continue
                done.add((qual, node.value))
                self._report(node, info, path, start)
        # Nested functions of `action` that nothing calls directly (callbacks) still run.
        for qual, info in self.module.functions.items():
            if not qual.startswith(f"{start.qualname}.") or qual in reached:
                continue
            for name in self.module.own_of(info.node.body, cst.Name):
                if (
                    name.value in self.WATCHED
                    and (qual, name.value) not in done
                    and self._undefined(name)
                ):
                    done.add((qual, name.value))
                    self._report(name, info, (), start)

    def _undefined(self, name: cst.Name) -> bool:
        referents = self.module.referents(name)
        if referents is None:
            return False  # not a read (an attribute name, a keyword, a target)
        return not referents and not self._name_error_guarded(name)

    def _name_error_guarded(self, name: cst.Name) -> bool:
        """Inside `try:` with an `except NameError` handler, or under a `locals()` test."""
        child: cst.CSTNode = name
        for parent in self.module.ancestors(name):
            if type(parent) is cst.Try and child is parent.body:
                for handler in parent.handlers:
                    if handler.type is not None and "NameError" in _code(handler.type, 200):
                        return True
            if isinstance(parent, (cst.If, cst.IfExp)):
                test = parent.test
                if any(
                    type(n) is cst.Call and _is_name(n.func, "locals", "globals", "vars")
                    for n in self.module.walk(test)
                ):
                    return True
            if type(parent) is cst.FunctionDef:
                return False
            child = parent
        return False

    def _report(
        self,
        node: cst.Name,
        info: FunctionInfo,
        path: tuple[CallSite, ...],
        start: FunctionInfo,
    ) -> None:
        name = node.value
        where = f"`{info.qualname}`" + (f" ({self.module.describe_path(path)})" if path else "")
        if name in NEVER_INJECTED_PARAMS:
            message = (
                f"`{name}` is used in {where} but actions never receive it, so this raises "
                f"NameError when the button is clicked; {_NEVER_INJECTED_HINTS[name]}"
            )
        elif _nested_in(info, start):
            message = (
                f"`{name}` is used in {where} but is not a parameter of `{start.name}`, so this "
                "raises NameError when the button is clicked (Open WebUI passes injected values "
                f"only as arguments); add `{name}=None` to `def {start.name}(...)`"
            )
        else:
            first = (
                f"declare `{name}=None` in `def {start.name}(...)`, then pass"
                if name not in start.param_names()
                else "pass"
            )
            message = (
                f"`{name}` is used in {where}, where it is not defined: Open WebUI passes "
                f"injected values only as arguments of `{start.name}`, so this raises NameError "
                f"when the button is clicked; {first} it to `{info.name}` as an argument "
                f"(and give `{info.name}` a parameter for it)"
            )
        self.report(None, message, location=self.module.statement_location(node))

    VALID = [
        Valid(
            """
            class Action:
                async def _status(self, __event_emitter__, text: str, done: bool = False) -> None:
                    await __event_emitter__({"type": "status", "data": {"description": text, "done": done}})

                async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
                    name = (__user__ or {}).get("name", "there")
                    await self._status(__event_emitter__, f"Exporting for {name}…")
                    await self._status(__event_emitter__, "Done", done=True)
                    return body
            """
        ),
        Valid(
            """
            import asyncio


            class Action:
                async def action(self, body: dict, __event_emitter__=None, __event_call__=None) -> None:
                    async def notify(text: str) -> None:
                        await __event_emitter__(
                            {"type": "notification", "data": {"type": "info", "content": text}}
                        )

                    answer = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Share", "message": "Share this chat?"}}
                    )
                    await asyncio.gather(notify("Shared" if answer is True else "Cancelled"))
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body: dict) -> dict:
                    try:
                        who = __user__["name"]
                    except NameError:
                        who = "someone"
                    return {"messages": [{"id": body["id"], "content": f"Exported by {who}"}]}
            """
        ),
        Valid(
            """
            __model__ = {"id": "fallback", "name": "Fallback model"}


            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    __user__ = __user__ or {}
                    model = __model__["name"]
                    return {"messages": [{"id": body["id"], "content": f"{model} for {__user__.get('name')}"}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    if __user__.get("role") != "admin":
                        return {"messages": [{"id": body["id"], "content": "Admins only"}]}
                    await __event_emitter__({"type": "status", "data": {"description": "Purging…", "done": True}})
                    return body
            """,
            lines=(3,),
            message="add `__user__=None` to `def action(...)`",
        ),
        Invalid(
            """
            import base64


            class Action:
                async def _emit_image(self, png: bytes) -> None:
                    url = "data:image/png;base64," + base64.b64encode(png).decode()
                    await __event_emitter__(
                        {"type": "files", "data": {"files": [{"type": "image", "url": url}]}}
                    )

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__({"type": "status", "data": {"description": "Drawing…", "done": False}})
                    await self._emit_image(b"\\x89PNG...")
                    await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            """,
            lines=(7,),
            message="line 13 reaches it through Action._emit_image",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    async def ask(question: str) -> str:
                        reply = await __event_call__(
                            {"type": "input", "data": {"title": "Export", "message": question, "placeholder": "chat"}}
                        )
                        return reply if isinstance(reply, str) else ""

                    filename = await ask("File name?")
                    return {"messages": [{"id": body["id"], "content": f"Saved as {filename}.md"}]}
            """,
            lines=(4,),
            message="add `__event_call__=None`",
        ),
        Invalid(
            """
            import json
            import os


            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    os.makedirs("exports", exist_ok=True)
                    with open(f"exports/{__chat_id__}.json", "w") as handle:
                        json.dump(body["messages"], handle)
                    return body
            """,
            lines=(8,),
            message="actions never receive it",
        ),
    ]


# The loader's own line pattern (contract §7), applied the same way (`re.match`, IGNORECASE).
_FRONTMATTER_LINE = re.compile(r"^\s*([a-z_]+):\s*(.*)\s*$", re.IGNORECASE)
# A `key: value` line whose key is one word but breaks the loader's pattern (`author-url:`).
_KEY_LIKE = re.compile(r"^\s*([A-Za-z][\w.\-]*)\s*:\s*(.*)$")
_KNOWN_KEYS: frozenset[str] = frozenset(
    {
        "title",
        "author",
        "author_url",
        "git_url",
        "funding_url",
        "version",
        "description",
        "license",
        "icon_url",
        "requirements",
        "required_open_webui_version",
    }
)
_YAML_BLOCK = frozenset({"|", ">", "|-", ">-", "|+", ">+"})


def _unlist(items: list[str]) -> str:
    """`a, b` from the items of a YAML list (quotes dropped)."""
    return ", ".join(i.strip().strip("\"'") for i in items if i.strip())


def _shorten(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def frontmatter(text: str) -> dict[str, tuple[int, str]]:
    """The loader's `extract_frontmatter`: key -> (line, raw value), a later line of the same
    key winning; {} without a frontmatter."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != '"""':
        return {}
    out: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if '"""' in line:
            break
        match = _FRONTMATTER_LINE.match(line)
        if match:
            out[match.group(1)] = (number, match.group(2).strip())  # keys keep their case
    return out


def frontmatter_problems(text: str) -> list[str]:
    """Every problem Open WebUI's frontmatter parser would meet in `text` (contract §7).

    The parser: line 1 (after `str.splitlines`) stripped must be exactly `\"\"\"`; then each
    line up to the next one containing `\"\"\"` is matched against `_FRONTMATTER_LINE`; lines
    that do not match (blank ones included) are skipped; values are kept raw.
    """
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if first.strip() != '"""':
        stripped = first.strip()
        if not stripped:
            why = "line 1 is blank"
        elif stripped.startswith("#!"):
            why = "line 1 is a shebang"
        elif stripped.startswith("#"):
            why = "line 1 is a comment"
        elif stripped.startswith('"""'):
            why = 'the text after `"""` on line 1 must go on its own line'
        elif re.match(r"^[rRuUbBfF]{0,2}('''|\"\"\")", stripped):
            why = f'line 1 opens the docstring with `{_shorten(stripped, 8)}`, not a bare `"""`'
        else:
            why = f"line 1 is `{_shorten(stripped)}`"
        return [
            f'line 1 is not exactly `"""` ({why}), so Open WebUI sees no frontmatter at all: '
            "no title, description, version or requirements; start the file with a line "
            'holding only `"""`, then `title: ...` and `description: ...` lines'
        ]
    problems: list[str] = []
    keys: dict[str, str] = {}
    # What the loader ends with (a later line of the same key wins), for messages that say
    # what a key holds while the loop below is still on an earlier line.
    final = {key: value for key, (_, value) in frontmatter(text).items()}
    last_key: str | None = None  # the key of the previous line when no blank line came between
    reported_continuation: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        if '"""' in line:
            before = line.split('"""', 1)[0]
            if _FRONTMATTER_LINE.match(before) and before.strip():
                problems.append(
                    f'line {number} `{_shorten(before)}` shares its line with the closing `"""`, '
                    'and the parser stops before reading it: put `"""` on a line of its own'
                )
            break
        match = _FRONTMATTER_LINE.match(line)
        if match:
            key, value = match.group(1), match.group(2).strip()
            keys[key] = value
            last_key = key
            lowered = key.lower()
            if key != lowered and lowered in _KNOWN_KEYS:
                problems.append(
                    f"key `{key}` (line {number}) is stored as `{key}`, not `{lowered}`: "
                    "keys are case-sensitive, write it in lower case"
                )
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                problems.append(
                    f"the value of `{key}` (line {number}) is quoted: Open WebUI keeps the quotes "
                    f"as part of the text; write `{key}: {_shorten(value[1:-1])}`"
                )
            elif value.startswith("[") and value.endswith("]"):
                problems.append(
                    f"the value of `{key}` (line {number}) is a YAML list: Open WebUI reads the "
                    f"raw text `{_shorten(value)}`; write `{key}: "
                    f"{_shorten(_unlist(value[1:-1].split(',')))}`"
                )
            elif value in _YAML_BLOCK:
                problems.append(
                    f"the value of `{key}` (line {number}) is a YAML block (`{value}`): Open WebUI "
                    f"reads only this line, so `{key}` is `{value}`; write the value on one line"
                )
            continue
        if not line.strip():
            last_key = None  # the loader skips blank lines; they also end a continuation
            continue
        if last_key is not None and last_key not in reported_continuation:
            item = line.strip()
            if item.startswith("- ") or item == "-":
                reported_continuation.add(last_key)
                items: list[str] = []
                for following in lines[number - 1 :]:
                    if not following.strip().startswith("-") or '"""' in following:
                        break
                    items.append(following.strip()[1:])
                held = final.get(last_key) or ""
                problems.append(
                    f"the value of `{last_key}` is a YAML list (from line {number}): the loader "
                    f"skips `- item` lines, so `{last_key}` is "
                    + (f"`{_shorten(held)}`" if held else "empty")
                    + f"; write `{last_key}: {_shorten(_unlist(items))}` on one line"
                )
                continue
            if line[:1].isspace():
                reported_continuation.add(last_key)
                problems.append(
                    f"the value of `{last_key}` continues on line {number}, but the loader reads "
                    "one line per key and skips the rest: keep the value on one line"
                )
                continue
        key_like = _KEY_LIKE.match(line)
        if key_like:
            key = key_like.group(1)
            normal = re.sub(r"[\-.\s]", "_", key.lower())
            if normal in _KNOWN_KEYS:
                problems.append(
                    f"key `{key}` (line {number}) does not match `[a-z_]+` followed directly by "
                    f"`:`, so Open WebUI ignores the line; write `{normal}:`"
                )
    lowered_keys = {k.lower() for k in keys}
    for required, why in (
        ("title", "it names the function and gives it its id"),
        ("description", "it describes the button and is required to save the function"),
    ):
        if required not in keys and required in lowered_keys:
            continue  # already reported as a key written with capitals
        if required not in keys:
            problems.append(f"`{required}` is missing ({why})")
        elif not keys[required]:
            problems.append(f"`{required}` is empty ({why})")
    return problems


class BadFrontmatter(LintRule):
    """
    ## What it does
    Checks the module's frontmatter the way Open WebUI's parser reads it, and reports
    every problem at once, on line 1:

    - line 1 is not exactly `\"\"\"` (a shebang, a comment, a blank line, `'''`, `r\"\"\"`,
      or `\"\"\"title: ...` on line 1 all mean *no frontmatter at all*);
    - a key does not match `[a-z_]+` directly followed by `:` (`author-url:`, `title :`),
      or is written with capitals (`Title:` is stored as `Title`, not `title`); only the
      known keys are checked, so prose such as `Note: ...` is left alone;
    - a value is quoted (`title: "Export"` keeps the quotes), a YAML list
      (`requirements: [a, b]` or `- item` lines), a YAML block (`description: >`) or
      continues on an indented next line;
    - a line shares the closing `\"\"\"` (the parser stops before reading it);
    - `title` or `description` is missing or empty.

    Blank lines inside the block are fine: the loader skips every line that does not
    match its pattern, so blank lines and prose after a blank line are not reported.

    ## Why is this bad?
    Open WebUI does not parse YAML: it matches each line against
    `^\\s*([a-z_]+):\\s*(.*)\\s*$` between a first line that is exactly `\"\"\"` and the next
    line containing `\"\"\"`, keeping values as raw strings. Anything else is silently lost
    or garbled: the function gets a quoted name, the requirements are not installed
    (`[requests` is not a package), the description is empty. The editor needs `title`
    and `description` to save the function.

    ## Example
    ```python
    #!/usr/bin/env python
    \"\"\"
    title: "Export to Markdown"
    requirements: [markdown, requests]
    \"\"\"
    ```

    ## Use instead
    ```python
    \"\"\"
    title: Export to Markdown
    description: Save the chat as a Markdown file
    requirements: markdown, requests
    \"\"\"

    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "notification", "data": {"type": "info", "content": "Saved"}})
    ```
    """

    code = "OWA111"
    name = "bad-frontmatter"
    level = Level.WARNING
    summary = "The frontmatter is not what Open WebUI's line parser reads."

    def check(self) -> None:
        problems = frontmatter_problems(self.module.source.text)
        if problems:
            self.report(
                None,
                "frontmatter: " + "; ".join(problems),
                location=self.module.line_location(1),
            )

    VALID = [
        Valid(
            '''
            """
            title: Export to Markdown
            author: open-webui community
            author_url: https://github.com/example/owui-actions
            funding_url: https://github.com/sponsors/example
            version: 1.4.0
            license: MIT
            description: Save the conversation as a Markdown file attached to the reply
            requirements: markdown>=3.5, requests
            """

            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            '''
        ),
        Valid(
            '''
            """
            title: Image Generator

            description: Turns the clicked reply into an image prompt
            icon_url: https://cdn.example.com/icons/image.svg

            Usage: click the button under any reply; the image appears as an attachment.
            Changelog v1.2: retries on timeouts.
            """

            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await __event_emitter__({"type": "status", "data": {"description": "Drawing…", "done": True}})
            '''
        ),
        Valid(
            '''
            """
            title: Summarize: short version
            description: Summary in three bullet points - uses the current model
            required_open_webui_version: 0.5.0
            """

            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            '''
        ),
        Valid(
            '''
            """
            title: Word Count
            description: Counts words and characters in the reply
            Note: the count ignores code blocks.
            """
            import re


            class Action:
                async def action(self, body: dict) -> dict:
                    text = re.sub(r"```.*?```", "", body["messages"][-1]["content"], flags=re.S)
                    return {"messages": [{"id": body["id"], "content": f"{len(text.split())} words"}]}
            '''
        ),
    ]
    INVALID = [
        Invalid(
            '''
            #!/usr/bin/env python3
            """
            title: Export to Markdown
            description: Save the chat as a Markdown file
            """

            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            ''',
            lines=(1,),
            message="sees no frontmatter at all",
        ),
        Invalid(
            '''
            """
            title: "Summarize Message"
            description: 'Adds a button to summarize the selected message.'
            version: '0.1.0'
            requirements: ['asyncio', 'httpx']
            """

            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    return body
            ''',
            lines=(1,),
            message="write `requirements: asyncio, httpx`",
        ),
        Invalid(
            '''
            """
            title: Chat to Notion
            author-url: https://github.com/example
            Version: 0.3
            """
            import httpx


            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            ''',
            lines=(1,),
            message="`description` is missing",
        ),
        Invalid(
            '''
            """title: Translate
            description: Translate the reply into the language set in your user settings
            """

            class Action:
                async def action(self, body: dict, __user__=None) -> dict:
                    return body
            ''',
            lines=(1,),
            message='the text after `"""` on line 1 must go on its own line',
        ),
        Invalid(
            '''
            """
            title: Image Generator
            description: Generates an image from the clicked reply
              using the configured image model.
            requirements:
              - openai
              - pillow
            """

            class Action:
                async def action(self, body: dict) -> dict:
                    return body
            ''',
            lines=(1,),
            message="write `requirements: openai, pillow`",
        ),
    ]


_BLOCKING_FUNCTIONS: frozenset[str] = frozenset(
    {
        *(
            f"requests.{v}"
            for v in ("get", "post", "put", "patch", "delete", "head", "options", "request")
        ),
        *(
            f"httpx.{v}"
            for v in (
                "get",
                "post",
                "put",
                "patch",
                "delete",
                "head",
                "options",
                "request",
                "stream",
            )
        ),
        "time.sleep",
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        *(
            f"subprocess.{v}"
            for v in (
                "run",
                "call",
                "check_call",
                "check_output",
                "Popen",
                "getoutput",
                "getstatusoutput",
            )
        ),
    }
)
# Sync HTTP clients whose request methods block (`requests.Session().get`, `httpx.Client().post`).
_SYNC_CLIENTS: frozenset[str] = frozenset({"requests.Session", "requests.session", "httpx.Client"})
_CLIENT_METHODS: frozenset[str] = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream"}
)


class _SyncClients:
    """Where the module keeps sync HTTP clients: local names per function, `self` attributes."""

    def __init__(self, model: ActionModule) -> None:
        self.model = model
        self.attributes: set[tuple[str, str]] = set()
        for info in model.functions.values():
            owner = _owner_class(info)
            if owner is None:
                continue
            for node in model.own_of(info.node.body, cst.Assign):
                if self.is_client_factory(node.value):
                    for t in node.targets:
                        if _is_self_attr(t.target):
                            attr = cst.ensure_type(t.target, cst.Attribute).attr.value
                            self.attributes.add((owner, attr))

    def is_client_factory(self, expr: cst.BaseExpression) -> bool:
        return type(expr) is cst.Call and bool(self.model.imported_name(expr.func) & _SYNC_CLIENTS)

    def local_clients(self, info: FunctionInfo) -> set[str]:
        out: set[str] = set()
        for node in self.model.own_nodes_of(info.node.body, cst.Assign, cst.WithItem):
            if type(node) is cst.Assign and self.is_client_factory(node.value):
                out |= {t.target.value for t in node.targets if type(t.target) is cst.Name}
            elif (
                type(node) is cst.WithItem
                and self.is_client_factory(node.item)
                and node.asname is not None
                and type(node.asname.name) is cst.Name
            ):
                out.add(node.asname.name.value)
        return out

    def is_client(self, expr: cst.BaseExpression, info: FunctionInfo, local: set[str]) -> bool:
        if self.is_client_factory(expr):
            return True
        if type(expr) is cst.Name:
            return expr.value in local
        owner = _owner_class(info)
        return (
            owner is not None
            and _is_self_attr(expr)
            and (owner, cst.ensure_type(expr, cst.Attribute).attr.value) in self.attributes
        )


def _owner_class(info: FunctionInfo) -> str | None:
    while info.parent is not None:
        info = info.parent
    return info.class_name


def _blocking_call(
    model: ActionModule, call: cst.Call, info: FunctionInfo, clients: _SyncClients, local: set[str]
) -> tuple[str, str] | None:
    """What the blocking call is, and the non-blocking way to write it."""
    names = model.imported_name(call.func) & _BLOCKING_FUNCTIONS
    if names:
        name = min(names)
        if name == "time.sleep":
            instead = "`await asyncio.sleep(...)`"
        elif name.startswith("subprocess."):
            instead = "`await asyncio.create_subprocess_exec(...)`"
        else:
            instead = "an async client (`httpx.AsyncClient`, `aiohttp`)"
        return f"`{name}(...)`", instead
    func = call.func
    if (
        type(func) is cst.Attribute
        and func.attr.value in _CLIENT_METHODS
        and clients.is_client(func.value, info, local)
    ):
        return (
            f"`{_code(func, 40)}(...)` on a sync HTTP client",
            "an async client (`httpx.AsyncClient`, `aiohttp`)",
        )
    return None


BlockingCall = tuple[cst.Call, FunctionInfo, tuple[CallSite, ...], tuple[str, str]]


def blocking_calls(model: ActionModule, start: FunctionInfo) -> Iterator[BlockingCall]:
    """Known blocking calls (OWA112's) that `start` runs on the event loop: in it or in
    what it calls directly (a call written in a lambda is handed to a thread: not followed)."""
    clients = _SyncClients(model)

    def direct(site: CallSite) -> bool:
        caller = model.functions[site.caller]
        return site.kind == "call" and not _in_lambda(model, site.node, caller.node)

    for _qual, (info, path) in reach(model, start, direct).items():
        local = clients.local_clients(info)
        for node in model.own_of(info.node.body, cst.Call, lambdas=False):
            found = _blocking_call(model, node, info, clients, local)
            deferred = model.deferred_call(node)
            if found is None and deferred is not None and deferred.kind == "partial":
                # `functools.partial(requests.get, url)`: a call of `requests.get` made on
                # the event loop (a partial handed to a thread is the thread's).
                found = _blocking_call(model, deferred.call, info, clients, local)
            if found is not None:
                yield node, info, path, found


class BlockingCallInAsyncAction(LintRule):
    """
    ## What it does
    Reports a blocking call reachable from an `async def action` without being handed to
    a thread: `requests.get/post/...` (also on a `requests.Session`), `httpx.get/post/...`
    and the methods of a sync `httpx.Client`, `time.sleep`, `urllib.request.urlopen`,
    `subprocess.run/call/check_call/check_output/Popen`. The call is reported where it is;
    in a helper, the message names the path from `action`.

    ## Why is this bad?
    Open WebUI runs every action on the server's single event loop. A blocking call inside
    a coroutine stops that loop until it returns: no other user gets a reply, no event is
    delivered, the web socket pings fail. Offloading it to a thread keeps the server
    responsive.

    Methods of the module's own classes count when the object's class is evident
    (`fetcher = TemplateFetcher(url)`, a factory method returning one, a parameter annotated
    with the class, `self.client = Client()`, `with Downloader(url) as path:` running its
    `__enter__`).

    Not reported: calls handed to a thread (`await asyncio.to_thread(requests.get, url)`,
    `loop.run_in_executor(None, fn)`, an executor's `submit`, a `lambda` given to one of
    them), helpers reached only through such an offload, code no feasible path reaches
    (behind an impossible role guard such as `if role != "Admin": return`), async clients
    (`httpx.AsyncClient`, `aiohttp`), a sync `def action` (that is `sync-action`, OWA107),
    and clients the module receives from elsewhere (not visible).

    ## Example
    ```python
    import requests

    class Action:
        async def action(self, body: dict) -> dict:
            reply = requests.post("https://api.example.com/summarize", json=body, timeout=30)
            return {"messages": [{"id": body["id"], "content": reply.json()["summary"]}]}
    ```

    ## Use instead
    ```python
    import httpx

    class Action:
        async def action(self, body: dict) -> dict:
            async with httpx.AsyncClient(timeout=30) as client:
                reply = await client.post("https://api.example.com/summarize", json=body)
            return {"messages": [{"id": body["id"], "content": reply.json()["summary"]}]}
    ```
    """

    code = "OWA112"
    name = "blocking-call-in-async-action"
    level = Level.WARNING
    summary = "A blocking call (requests, time.sleep, subprocess, …) on the event loop of an async action."

    def check(self) -> None:
        start = action_function(self.module)
        if start is None or not start.is_async or _is_decorated(start):
            return
        auth = authorization_facts(self.module, self.settings)
        for node, info, path, (what, instead) in blocking_calls(self.module, start):
            if auth.is_dead(self.module, node):
                continue  # dead code: only OWA302 applies there
            where = _where(self.module, info, path)
            parent = self.module.parent(node)
            grand = self.module.parent(parent) if parent is not None else None
            if (
                type(parent) is cst.Arg
                and type(grand) is cst.Call
                and _is_thread_offloader(self.module, grand)
            ):
                fix = (
                    "it runs before the thread starts: pass the function and its arguments "
                    f"separately, `await asyncio.to_thread({self._callable(node)}, ...)`"
                )
            else:
                fix = f"use {instead}, or {self._offload_hint(node, path)}"
            self.report(
                None,
                f"{what} blocks the event loop{where}: `{start.name}` is `async`, so while "
                f"it waits no other user of the server gets an answer; {fix}",
                location=self.module.statement_location(node),
            )

    def _callable(self, call: cst.Call) -> str:
        deferred = self.module.deferred_call(call)
        if deferred is not None and deferred.kind == "partial":
            call = deferred.call  # `functools.partial(requests.get, ...)`: `requests.get`
        return dotted_name(call.func) or "fn"

    def _offload_hint(self, call: cst.Call, path: tuple[CallSite, ...]) -> str:
        """Offload at the first sync function on the path (the call itself in async code)."""
        for site in path:
            callee = self.module.functions.get(site.callee)
            if callee is not None and callee.name in _CONTEXT_METHODS:
                continue  # run by a `with` statement: no callable to hand to a thread
            if callee is not None and not callee.is_async and type(site.node) is cst.Call:
                line = self.module.position(site.node).start.line
                return (
                    f"run `{callee.qualname}` in a thread at line {line}: "
                    f"`await asyncio.to_thread({self._callable(site.node)}, ...)`"
                )
        return f"run it in a thread: `await asyncio.to_thread({self._callable(call)}, ...)`"

    VALID = [
        Valid(
            """
            import asyncio

            import requests
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    webhook_url: str = ""

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    reply = await asyncio.to_thread(
                        requests.post, self.valves.webhook_url, json={"text": body["messages"][-1]["content"]}, timeout=10
                    )
                    await __event_emitter__(
                        {"type": "status", "data": {"description": f"Sent ({reply.status_code})", "done": True}}
                    )
                    return body
            """
        ),
        Valid(
            """
            import asyncio
            import subprocess
            import tempfile


            class Action:
                def _pandoc(self, markdown: str) -> bytes:
                    with tempfile.NamedTemporaryFile("w", suffix=".md") as source:
                        source.write(markdown)
                        source.flush()
                        return subprocess.run(
                            ["pandoc", source.name, "-o", "-", "-t", "docx"], capture_output=True, check=True
                        ).stdout

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    text = "\\n\\n".join(m["content"] for m in body["messages"])
                    loop = asyncio.get_running_loop()
                    docx = await loop.run_in_executor(None, self._pandoc, text)
                    preview = await loop.run_in_executor(None, lambda: subprocess.run(["pandoc", "--version"], capture_output=True))
                    return {"messages": [{"id": body["id"], "content": f"{len(docx)} bytes"}]}
            """
        ),
        Valid(
            """
            import httpx


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    async with httpx.AsyncClient(timeout=60) as client:
                        reply = await client.post(
                            "https://images.example.com/v1/generate",
                            json={"prompt": body["messages"][-1]["content"]},
                        )
                    url = reply.json()["url"]
                    await __event_emitter__(
                        {"type": "files", "data": {"files": [{"type": "image", "url": url}]}}
                    )
                    return body
            """
        ),
        Valid(
            """
            import requests


            class Action:
                def action(self, body: dict) -> dict:
                    requests.post("https://hooks.example.com/chat", json=body, timeout=10)
                    return body
            """
        ),
        Valid(
            """
            import asyncio
            from concurrent.futures import ThreadPoolExecutor

            import requests

            POOL = ThreadPoolExecutor(max_workers=4)


            class Action:
                def _fetch(self, url: str) -> bytes:
                    return requests.get(url, timeout=30).content

                async def action(self, body: dict) -> dict:
                    urls = [m["content"] for m in body["messages"] if m["content"].startswith("https://")]
                    futures = [asyncio.wrap_future(POOL.submit(self._fetch, url)) for url in urls]
                    pages = await asyncio.gather(*futures)
                    return {"messages": [{"id": body["id"], "content": f"{len(pages)} pages"}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import requests
            from pydantic import BaseModel, Field


            class Action:
                class Valves(BaseModel):
                    api_url: str = Field(default="https://api.example.com/summarize")

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    await __event_emitter__({"type": "status", "data": {"description": "Summarizing…", "done": False}})
                    reply = requests.post(self.valves.api_url, json={"messages": body["messages"]}, timeout=60)
                    await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
                    return {"messages": [{"id": body["id"], "content": reply.json()["summary"]}]}
            """,
            lines=(14,),
            message="`requests.post(...)` blocks the event loop",
        ),
        Invalid(
            """
            import base64

            import requests as http


            class Action:
                def _download(self, url: str) -> str:
                    data = http.get(url, timeout=30).content
                    return "data:image/png;base64," + base64.b64encode(data).decode()

                async def _attach(self, url: str, emitter) -> None:
                    image = self._download(url)
                    await emitter({"type": "files", "data": {"files": [{"type": "image", "url": image}]}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await self._attach(body["messages"][-1]["content"], __event_emitter__)
            """,
            lines=(8,),
            message="line 16 reaches it through Action._attach → Action._download",
        ),
        Invalid(
            """
            import time

            import httpx


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> None:
                    async with httpx.AsyncClient() as client:
                        job = (await client.post("https://images.example.com/jobs", json={"prompt": "cat"})).json()
                        while True:
                            status = (await client.get(f"https://images.example.com/jobs/{job['id']}")).json()
                            if status["state"] == "done":
                                break
                            time.sleep(2)
                    await __event_emitter__({"type": "status", "data": {"description": "Image ready", "done": True}})
            """,
            lines=(14,),
            message="`await asyncio.sleep(...)`",
        ),
        Invalid(
            """
            import subprocess
            import tempfile


            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    with tempfile.TemporaryDirectory() as folder:
                        with open(f"{folder}/chat.md", "w") as handle:
                            handle.write("\\n\\n".join(m["content"] for m in body["messages"]))
                        subprocess.run(
                            ["pandoc", f"{folder}/chat.md", "-o", f"{folder}/chat.pdf"],
                            check=True,
                        )
                    return body
            """,
            lines=(10,),
            message="create_subprocess_exec",
        ),
        Invalid(
            """
            import httpx


            class NotionClient:
                def __init__(self, token: str = ""):
                    self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"})

                def create_page(self, title: str, text: str) -> dict:
                    return self.http.post("https://api.notion.com/v1/pages", json={"title": title, "text": text}).json()


            class Action:
                def __init__(self):
                    self.notion = NotionClient()

                async def action(self, body: dict) -> dict:
                    page = self.notion.create_page("Chat export", body["messages"][-1]["content"])
                    with httpx.Client() as client:
                        client.post("https://hooks.example.com/exported", json=page)
                    return body
            """,
            lines=(9, 19),
            message="on a sync HTTP client",
        ),
    ]


def _param_nodes(info: FunctionInfo) -> list[cst.Param]:
    p = info.node.params
    return [*p.posonly_params, *p.params, *p.kwonly_params]


def _skips_self(model: ActionModule, callee: FunctionInfo, func: cst.BaseExpression) -> bool:
    """Whether a call through `func` binds the callee's first parameter implicitly."""
    if callee.class_name is None or callee.parent is not None:
        return False
    decorators = {dotted_name(d.decorator) for d in callee.node.decorators}
    if "staticmethod" in decorators:
        return False
    if "classmethod" in decorators or callee.name == "__init__":
        return True
    # `Class.method(obj, ...)` passes `self` explicitly; `self.method(...)`, `obj.method(...)` not.
    return not (type(func) is cst.Attribute and _is_name(func.value, callee.class_name))


class _Emitters:
    """Which expressions hold `__event_emitter__` / `__event_call__` in the code `action` reaches.

    Tracks the parameters themselves, plain aliases (`emit = __event_emitter__`, also
    `__event_emitter__ or noop`), `self.attr = __event_emitter__` in the same class, and the
    parameters of module helpers the emitter is passed to (`self._notify(__event_emitter__)`).
    """

    def __init__(self, model: ActionModule, start: FunctionInfo) -> None:
        self.model = model
        self.start = start
        reached = reach(model, start, lambda site: True)
        self.functions: dict[str, tuple[FunctionInfo, tuple[CallSite, ...]]] = dict(reached)
        for qual, info in model.functions.items():
            if qual in self.functions:
                continue
            parent = info.parent
            while parent is not None and parent.qualname not in reached:
                parent = parent.parent
            if parent is not None:  # a closure of reached code (a callback): it runs too
                self.functions[qual] = (info, reached[parent.qualname][1])
        # Keyed by `id` of the binding node (the module keeps it alive): LibCST's
        # `__hash__` is Python code, asked here for every name read on every round.
        self.bindings: dict[int, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        for info, _path in self.functions.values():
            for param in _param_nodes(info):
                if param.name.value in EMITTER_PARAMS:
                    self.bindings[id(param)] = param.name.value
        self._solve()

    # --- what is an emitter ------------------------------------------------------------

    def origin(self, expr: cst.BaseExpression, info: FunctionInfo) -> str | None:
        """`__event_emitter__` or `__event_call__` when `expr` holds one, else None."""
        # `a if c else b if d else e` nests to the right: the chain's last value first.
        chain: list[cst.IfExp] = []
        while True:
            # Exact types: a failed `isinstance` against LibCST's ABCs runs Python code.
            while type(expr) is cst.BooleanOperation and type(expr.operator) is cst.Or:
                expr = expr.left  # injected emitters are never falsy
            if type(expr) is not cst.IfExp:
                break
            chain.append(expr)
            expr = expr.orelse
        found = self._origin(expr, info)
        for ifexp in reversed(chain):
            body = self._origin(ifexp.body, info)
            other = ifexp.orelse
            found = body if body and (_is_name(other, "None") or found == body) else None
        return found

    def _origin(self, expr: cst.BaseExpression, info: FunctionInfo) -> str | None:
        if type(expr) is cst.Name:
            referents = self.model.referents(expr)
            if referents is None:
                return None
            bindings = self.bindings
            origins = {bindings.get(id(r)) if r is not None else None for r in referents}
            return next(iter(origins)) if len(origins) == 1 else None
        if type(expr) is cst.Attribute:
            if not _is_name(expr.value, "self"):
                return None
            owner = _owner_class(info)
            return self.attributes.get((owner, expr.attr.value)) if owner else None
        if type(expr) is cst.IfExp or (
            type(expr) is cst.BooleanOperation and type(expr.operator) is cst.Or
        ):
            return self.origin(expr, info)  # a parenthesized chain
        return None

    # --- fixpoint -----------------------------------------------------------------------

    def _solve(self) -> None:
        for _ in range(12):
            before = (len(self.bindings), dict(self.attributes))
            self._aliases()
            self._call_sites()
            if (len(self.bindings), self.attributes) == before:
                return

    def _aliases(self) -> None:
        attr_values: dict[tuple[str, str], list[str | None]] = {}
        for info, _path in self.functions.values():
            owner = _owner_class(info)
            for node in self.model.own_nodes_of(info.node.body, cst.Assign, cst.AnnAssign):
                if type(node) is cst.Assign:
                    pairs = [(t.target, node.value) for t in node.targets]
                elif type(node) is cst.AnnAssign and node.value is not None:
                    pairs = [(node.target, node.value)]
                else:
                    continue
                for target, value in pairs:
                    origin = self.origin(value, info)
                    if type(target) is cst.Name and origin is not None:
                        self.bindings[id(target)] = origin
                    elif owner is not None and _is_self_attr(target):
                        key = (owner, cst.ensure_type(target, cst.Attribute).attr.value)
                        if origin is None and _is_name(value, "None"):
                            continue  # `self.emitter = None` in __init__ is a placeholder
                        attr_values.setdefault(key, []).append(origin)
        for key, origins in attr_values.items():
            if len(set(origins)) == 1 and origins[0] is not None:
                self.attributes[key] = origins[0]
            else:
                self.attributes.pop(key, None)

    def _call_sites(self) -> None:
        for qual, (info, _path) in list(self.functions.items()):
            for site in self.model.call_sites.get(qual, []):
                callee = self.model.functions.get(site.callee)
                if callee is None or type(site.node) is not cst.Call:
                    continue
                call = site.node
                if site.kind == "call":
                    func: cst.BaseExpression = call.func
                    args = list(call.args)
                else:
                    index = next(
                        (
                            i
                            for i, a in enumerate(call.args)
                            if self.model.resolve_callable(a.value, info) == site.callee
                        ),
                        None,
                    )
                    if index is None:
                        continue
                    func = call.args[index].value
                    args = list(call.args[index + 1 :])
                self._bind(info, callee, func, args)

    def _bind(
        self,
        caller: FunctionInfo,
        callee: FunctionInfo,
        func: cst.BaseExpression,
        args: list[cst.Arg],
    ) -> None:
        params = _param_nodes(callee)
        positional = [*callee.node.params.posonly_params, *callee.node.params.params]
        if _skips_self(self.model, callee, func):
            positional = positional[1:]
        by_name = {p.name.value: p for p in params}
        index = 0
        for arg in args:
            if arg.star:
                if arg.star == "*":
                    index = len(positional)  # positions after `*args` are unknown
                continue
            target: cst.Param | None
            if arg.keyword is not None:
                target = by_name.get(arg.keyword.value)
            elif index < len(positional):
                target = positional[index]
                index += 1
            else:
                target = None
            origin = self.origin(arg.value, caller)
            if target is not None and origin is not None:
                self.bindings[id(target)] = origin


_NOTHING_SENT = {
    "__event_emitter__": "the event is never sent",
    "__event_call__": "the dialog never opens and no answer comes back",
}


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


class EventNotAwaited(LintRule):
    """
    ## What it does
    Reports a call of `__event_emitter__` or `__event_call__` whose coroutine is never
    awaited, in `action` or in the module code it reaches. Aliases are followed
    (`emit = __event_emitter__`, `self.emitter = __event_emitter__`, a helper parameter
    that receives the emitter: `await self._notify(__event_emitter__, "x")`). Reported:

    - the call as a plain statement (`__event_emitter__({...})`), a condition
      (`if __event_call__({...}):`) or a comparison;
    - `r = __event_call__({...})` when `r` is never awaited, passed on or returned;
    - a helper that returns the emitter's coroutine (`return emitter(x)`) called without
      `await`, and an `async` helper doing so whose awaited result is thrown away;
    - the emitter (or an async helper that emits) handed to `asyncio.to_thread`,
      `run_in_executor` or an executor: the thread only creates a coroutine.

    ## Why is this bad?
    Both are coroutine functions. Calling one without `await` only creates a coroutine
    object: nothing reaches the browser (no status, no notification, no confirmation
    dialog) and Python prints "coroutine was never awaited" in the server log. A
    confirmation result read from an un-awaited call is a coroutine, not the answer.

    Awaiting in any of the usual ways counts: `await`, `asyncio.wait_for`, `gather`,
    `shield`, `create_task`, `ensure_future`, or keeping the result and awaiting it later
    (`r = f(); if inspect.isawaitable(r): r = await r`). When the result is passed to a
    function owui-lint cannot see into, it stays silent.

    ## Example
    ```python
    class Action:
        def _status(self, emitter, text: str) -> None:
            emitter({"type": "status", "data": {"description": text, "done": False}})

        async def action(self, body: dict, __event_emitter__=None) -> None:
            self._status(__event_emitter__, "Exporting…")
            __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    ```

    ## Use instead
    ```python
    class Action:
        async def _status(self, emitter, text: str) -> None:
            await emitter({"type": "status", "data": {"description": text, "done": False}})

        async def action(self, body: dict, __event_emitter__=None) -> None:
            await self._status(__event_emitter__, "Exporting…")
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    ```

    ## Fix
    `check --fix` adds the `await` inside an `async def` (not in a comprehension or a
    conditional expression, where it would change more than the call). In a plain `def`
    the function must become `async` first: no fix.
    """

    code = "OWA113"
    name = "event-not-awaited"
    level = Level.ERROR
    fixable = True
    summary = (
        "`__event_emitter__(...)` / `__event_call__(...)` called without `await`: nothing is sent."
    )

    def check(self) -> None:
        start = action_function(self.module)
        if start is None:
            return
        self.emitters = _Emitters(self.module, start)
        self._calls: dict[str, list[tuple[cst.Call, str | None, str | None]]] = {}
        # Sync helpers that hand back the emitter's coroutine (`return emitter(x)`):
        # a call of one of them is as good as a call of the emitter.
        self.returning: dict[str, str] = {}
        for _ in range(8):
            size = len(self.returning)
            for info, _path in self.emitters.functions.values():
                for call, origin in self._emitting_calls(info):
                    if not info.is_async and self._consumption(call) == "return":
                        self.returning.setdefault(info.qualname, origin)
            if len(self.returning) == size:
                break
        for info, path in self.emitters.functions.values():
            for call, origin in self._emitting_calls(info):
                self._check_call(call, origin, info, path)
            for node in self.module.own_of(info.node.body, cst.Call, lambdas=False):
                if _is_thread_offloader(self.module, node):
                    self._check_offload(node, info, path)

    def _emitting_calls(self, info: FunctionInfo) -> Iterator[tuple[cst.Call, str]]:
        for node, emitter, callee in self._calls_of(info):
            origin = emitter
            if origin is None:
                origin = self.returning.get(callee) if callee else None
            if origin is not None:
                yield node, origin

    def _calls_of(self, info: FunctionInfo) -> list[tuple[cst.Call, str | None, str | None]]:
        """The calls in `info`, with the emitter each calls (or None) and otherwise the
        module function it calls; fixed once the emitters are known, so computed once
        (the fixpoint over `returning` asks again every round)."""
        found = self._calls.get(info.qualname)
        if found is None:
            found = []
            for node in self.module.own_of(info.node.body, cst.Call, lambdas=False):
                origin = self.emitters.origin(node.func, info)
                callee = self.module.resolve_callable(node.func, info) if origin is None else None
                found.append((node, origin, callee))
            self._calls[info.qualname] = found
        return found

    def _consumption(self, call: cst.Call) -> str:
        """How the coroutine is used: await, flag, return, var (assigned) or ok (unknown)."""
        node: cst.CSTNode = call
        parent = self.module.parent(node)
        while type(parent) is cst.IfExp and node is not parent.test:
            node, parent = parent, self.module.parent(parent)
        if type(parent) is cst.Await:
            return "await"
        if type(parent) is cst.Expr:
            return "flag"
        if type(parent) is cst.Return:
            return "return"
        if type(parent) is cst.Assign and len(parent.targets) == 1:
            return "var" if type(parent.targets[0].target) is cst.Name else "ok"
        if type(parent) is cst.AnnAssign and type(parent.target) is cst.Name:
            return "var"
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
            return "flag"
        if isinstance(parent, (cst.If, cst.While)) and node is parent.test:
            return "flag"
        if type(parent) is cst.UnaryOperation and type(parent.operator) is cst.Not:
            return "flag"
        if type(parent) is cst.BooleanOperation:
            return "flag"
        return "ok"  # an argument, a collection, …: it may be awaited elsewhere

    def _check_call(
        self, call: cst.Call, origin: str, info: FunctionInfo, path: tuple[CallSite, ...]
    ) -> None:
        how = self._consumption(call)
        where = _where(self.module, info, path)
        text = _call_text(call)
        lost = _NOTHING_SENT.get(origin, "nothing is sent")
        callee = self.module.resolve_callable(call.func, info)
        if callee in self.returning and self.emitters.origin(call.func, info) is None:
            text_note = f" (it returns the un-awaited coroutine of an event call in `{callee}`)"
        else:
            text_note = ""
        if how == "flag":
            self.report(
                None,
                f"`{text}` is called without `await`{where}{text_note}: it only creates a "
                f"coroutine, so {lost}; write `await {text}`"
                + ("" if info.is_async else f" and make `{info.qualname}` `async`"),
                location=self.module.statement_location(call),
                fix=self._await_fix(call, info),
            )
        elif how == "var":
            assign = next(
                a for a in self.module.ancestors(call) if isinstance(a, (cst.Assign, cst.AnnAssign))
            )
            target = (
                assign.targets[0].target
                if type(assign) is cst.Assign
                else cst.ensure_type(assign, cst.AnnAssign).target
            )
            if self._awaited_later(cst.ensure_type(target, cst.Name), info):
                return
            var = cst.ensure_type(target, cst.Name).value
            self.report(
                None,
                f"`{var} = {text}` keeps a coroutine that is never awaited{where}: {lost}, and "
                f"`{var}` is a coroutine object, not the result; write `{var} = await {text}`",
                location=self.module.statement_location(call),
                fix=self._await_fix(call, info),
            )
        elif how == "return" and info.is_async:
            for site in self.module.callers.get(info.qualname, []):
                await_node = self.module.parent(site.node)
                if (
                    site.kind == "call"
                    and type(await_node) is cst.Await
                    and type(self.module.parent(await_node)) is cst.Expr
                ):
                    line = self.module.position(site.node).start.line
                    self.report(
                        None,
                        f"`return {text}` in `async def {info.qualname}` hands back a "
                        f"coroutine nobody awaits: line {line} awaits `{info.name}(...)` and "
                        f"drops its result, so {lost}; write `return await {text}`",
                        location=self.module.statement_location(call),
                        fix=self._await_fix(call, info),
                    )
                    return

    def _await_fix(self, call: cst.Call, info: FunctionInfo) -> Fix | None:
        """`await` before the call, only inside an `async def` (where `await` is legal and
        the coroutine the call makes is what the code meant to run) and only where the call
        is the whole operand (`await` binds tighter than any operator around it)."""
        if not info.is_async or self.module.index.fence(call, lambdas=True) is not info.node:
            return None
        parent = self.module.parent(call)
        if type(parent) is cst.IfExp or (
            isinstance(parent, (cst.Attribute, cst.Subscript, cst.Call)) and parent is not call
        ):
            return None
        for above in self.module.ancestors(call):
            if above is info.node:
                break
            if isinstance(above, _COMPREHENSIONS):  # `await` would make it asynchronous
                return None
        return Fix("Add the missing `await`", (self.insert_before(call, "await "),))

    def _awaited_later(self, target: cst.Name, info: FunctionInfo) -> bool:
        """True when the variable holding the coroutine is awaited, passed on or returned."""
        for node in self.module.walk(info.node.body):
            if type(node) is not cst.Name or node.value != target.value or node is target:
                continue
            if not _refers_to(self.module, node, target):
                continue
            parent = self.module.parent(node)
            if isinstance(
                parent,
                (
                    cst.Await,
                    cst.Arg,
                    cst.Return,
                    cst.Element,
                    cst.Assign,
                    cst.Yield,
                    cst.StarredElement,
                ),
            ):
                return True
        return False

    def _check_offload(
        self, call: cst.Call, info: FunctionInfo, path: tuple[CallSite, ...]
    ) -> None:
        for arg in call.args:
            origin = self.emitters.origin(arg.value, info)
            what = f"`{_code(arg.value, 40)}`"
            if origin is None:
                callee = self.module.resolve_callable(arg.value, info)
                target = self.emitters.functions.get(callee) if callee else None
                if target is None or not target[0].is_async:
                    continue
                if not any(True for _ in self._emitting_calls(target[0])):
                    continue
                origin = "__event_emitter__"
                what = f"the async helper `{target[0].qualname}`"
            self.report(
                None,
                f"{what} is handed to a thread by `{_call_text(call)}`{_where(self.module, info, path)}: "
                f"it is a coroutine function, so the thread only creates a coroutine that "
                f"nobody awaits and {_NOTHING_SENT.get(origin, 'nothing is sent')}; call it "
                "directly with `await`",
                location=self.module.statement_location(call),
            )
            return

    VALID = [
        Valid(
            """
            class Action:
                async def _status(self, emitter, text: str, done: bool = False) -> None:
                    await emitter({"type": "status", "data": {"description": text, "done": done}})

                async def action(self, body: dict, __event_emitter__=None, __event_call__=None) -> dict:
                    await self._status(__event_emitter__, "Preparing export…")
                    answer = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Export", "message": "Export this chat?"}}
                    )
                    if answer is not True:
                        await self._status(__event_emitter__, "Cancelled", done=True)
                        return body
                    await self._status(__event_emitter__, "Exported", done=True)
                    return body
            """
        ),
        Valid(
            """
            import asyncio


            class Action:
                async def action(self, body: dict, __event_emitter__=None, __event_call__=None) -> None:
                    emit = __event_emitter__
                    background = asyncio.create_task(
                        emit({"type": "status", "data": {"description": "Generating…", "done": False}})
                    )
                    name = await asyncio.wait_for(
                        __event_call__({"type": "input", "data": {"title": "Name", "message": "Image name?", "placeholder": "cat"}}),
                        timeout=120,
                    )
                    await asyncio.gather(
                        emit({"type": "notification", "data": {"type": "info", "content": f"Drawing {name}"}}),
                        emit({"type": "status", "data": {"description": "Done", "done": True}}),
                    )
                    await background
            """
        ),
        Valid(
            """
            import inspect


            class Action:
                def _notify(self, emitter, text: str):
                    return emitter({"type": "notification", "data": {"type": "success", "content": text}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    result = __event_emitter__({"type": "status", "data": {"description": "Saving…", "done": False}})
                    if inspect.isawaitable(result):
                        result = await result
                    await self._notify(__event_emitter__, "Saved")
            """
        ),
        Valid(
            """
            from owui_helpers import emit_status


            class Action:
                def __init__(self):
                    self.emitter = None

                async def _progress(self, percent: int) -> None:
                    await self.emitter({"type": "status", "data": {"description": f"{percent}%", "done": percent == 100}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    self.emitter = __event_emitter__
                    for percent in (0, 50, 100):
                        await self._progress(percent)
                    emit_status(__event_emitter__, "finished")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    __event_emitter__({"type": "status", "data": {"description": "Exporting…", "done": False}})
                    markdown = "\\n\\n".join(f"**{m['role']}**: {m['content']}" for m in body["messages"])
                    await __event_emitter__({"type": "status", "data": {"description": "Exported", "done": True}})
                    return {"messages": [{"id": body["id"], "content": markdown}]}
            """,
            lines=(3,),
            message="write `await __event_emitter__(...)`",
            fixed="""
                class Action:
                    async def action(self, body: dict, __event_emitter__=None) -> dict:
                        await __event_emitter__({"type": "status", "data": {"description": "Exporting…", "done": False}})
                        markdown = "\\n\\n".join(f"**{m['role']}**: {m['content']}" for m in body["messages"])
                        await __event_emitter__({"type": "status", "data": {"description": "Exported", "done": True}})
                        return {"messages": [{"id": body["id"], "content": markdown}]}
            """,
        ),
        Invalid(
            """
            class Action:
                def _status(self, emitter, text: str, done: bool = False) -> None:
                    emitter({"type": "status", "data": {"description": text, "done": done}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    notify = __event_emitter__
                    self._status(notify, "Generating image…")
                    notify({"type": "files", "data": {"files": [{"type": "image", "url": "https://cdn.example.com/cat.png"}]}})
                    self._status(notify, "Done", done=True)
            """,
            lines=(3, 8),
            message="without `await`",
            fixed="""
                class Action:
                    def _status(self, emitter, text: str, done: bool = False) -> None:
                        emitter({"type": "status", "data": {"description": text, "done": done}})

                    async def action(self, body: dict, __event_emitter__=None) -> None:
                        notify = __event_emitter__
                        self._status(notify, "Generating image…")
                        await notify({"type": "files", "data": {"files": [{"type": "image", "url": "https://cdn.example.com/cat.png"}]}})
                        self._status(notify, "Done", done=True)
            """,
        ),
        Invalid(
            """
            class Action:
                async def _emit(self, text: str) -> None:
                    self.emitter({"type": "message", "data": {"content": text}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    self.emitter = __event_emitter__
                    for line in body["messages"][-1]["content"].splitlines():
                        await self._emit(line.upper())
            """,
            lines=(3,),
            message="in `Action._emit` (line 8 reaches it through Action._emit)",
            fixed="""
                class Action:
                    async def _emit(self, text: str) -> None:
                        await self.emitter({"type": "message", "data": {"content": text}})

                    async def action(self, body: dict, __event_emitter__=None) -> None:
                        self.emitter = __event_emitter__
                        for line in body["messages"][-1]["content"].splitlines():
                            await self._emit(line.upper())
            """,
        ),
        Invalid(
            """
            import shutil


            class Action:
                async def action(self, body: dict, __event_call__=None) -> dict:
                    confirmed = __event_call__(
                        {"type": "confirmation", "data": {"title": "Delete exports", "message": "Remove all exported files?"}}
                    )
                    if confirmed is True:
                        shutil.rmtree("/tmp/exports", ignore_errors=True)
                    return body
            """,
            lines=(6,),
            message="`confirmed` is a coroutine object, not the result",
            fixed="""
                import shutil


                class Action:
                    async def action(self, body: dict, __event_call__=None) -> dict:
                        confirmed = await __event_call__(
                            {"type": "confirmation", "data": {"title": "Delete exports", "message": "Remove all exported files?"}}
                        )
                        if confirmed is True:
                            shutil.rmtree("/tmp/exports", ignore_errors=True)
                        return body
            """,
        ),
        Invalid(
            """
            import asyncio


            class Action:
                def _notify(self, emitter, text: str):
                    return emitter({"type": "notification", "data": {"type": "info", "content": text}})

                async def _finish(self, emitter):
                    return emitter({"type": "status", "data": {"description": "Done", "done": True}})

                async def action(self, body: dict, __event_emitter__=None) -> None:
                    await asyncio.to_thread(__event_emitter__, {"type": "status", "data": {"description": "Start", "done": False}})
                    self._notify(__event_emitter__, "Working")
                    await self._finish(__event_emitter__)
            """,
            lines=(9, 12, 13),
            fixed="""
                import asyncio


                class Action:
                    def _notify(self, emitter, text: str):
                        return emitter({"type": "notification", "data": {"type": "info", "content": text}})

                    async def _finish(self, emitter):
                        return await emitter({"type": "status", "data": {"description": "Done", "done": True}})

                    async def action(self, body: dict, __event_emitter__=None) -> None:
                        await asyncio.to_thread(__event_emitter__, {"type": "status", "data": {"description": "Start", "done": False}})
                        await self._notify(__event_emitter__, "Working")
                        await self._finish(__event_emitter__)
            """,
        ),
        Invalid(
            """
            class Action:
                async def action(self, body: dict, __event_emitter__=None) -> dict:
                    # No autofix: `await` in a comprehension or a conditional expression
                    # would change more than the call.
                    sent = [m for m in body["messages"] if not __event_emitter__({"type": "message", "data": {"content": m["content"]}})]
                    done = __event_emitter__({"type": "status", "data": {"description": "Sent", "done": True}}) if sent else None
                    return body
            """,
            lines=(5, 6),
        ),
    ]
