"""The taint engine (analyzer/flow/taint.py): sources, propagation, sanitisers, helpers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from analyzer.flow.taint import (
    BODY,
    HTML_POLICY,
    INPUT,
    JS_POLICY,
    MODEL,
    USER,
    USER_VALVES,
    Label,
    Taint,
    TaintPolicy,
    describe_taint,
    is_low_confidence,
    taint_engine,
)
from analyzer.model import ActionModule, SourceFile


def build(source: str) -> ActionModule:
    text = textwrap.dedent(source).lstrip("\n")
    return ActionModule(SourceFile("t.py", text), cst.parse_module(text))


def sink(model: ActionModule, policy: TaintPolicy = JS_POLICY, name: str = "sink") -> Taint:
    """Labels of the (single) argument of the call `sink(...)` in the module."""
    for node in model.walk(model.module):
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == name
        ):
            info = model.enclosing_function(node)
            assert info is not None
            return taint_engine(model, policy).taint(node.args[0].value, info)
    raise AssertionError("no sink call")


def action(body: str, params: str = "body, __user__=None, __event_call__=None") -> ActionModule:
    code = f"class Action:\n    async def action(self, {params}):\n" + textwrap.indent(
        textwrap.dedent(body).strip("\n"), "        "
    )
    return build(code)


def test_body_flows_through_fstring_concat_format_and_percent() -> None:
    model = action(
        """
        title = body["messages"][-1]["content"][:40]
        a = f"alert('{title}')"
        b = "x" + a
        c = "{}".format(b)
        d = "%s" % c
        sink(d)
        """
    )
    assert sink(model) == {BODY}


def test_constants_and_trusted_valves_are_clean() -> None:
    model = action(
        """
        code = "console.log(" + str(self.valves.limit) + ")"
        sink(code)
        """
    )
    assert sink(model) == frozenset()


def test_json_dumps_sanitises_for_javascript_but_not_for_html() -> None:
    model = action(
        """
        import json
        name = body["title"]
        code = f"document.title = {json.dumps(name)}"
        sink(code)
        """
    )
    # `json` imported inside the function still resolves to json.dumps.
    assert sink(model, JS_POLICY) == frozenset()
    assert sink(model, HTML_POLICY) == {BODY}


def test_html_escape_and_bleach_sanitise_html() -> None:
    model = build(
        """
        import html
        import bleach

        class Action:
            async def action(self, body):
                text = body["messages"][-1]["content"]
                a = f"<p>{html.escape(text)}</p>"
                b = bleach.clean(text)
                sink(a + b)
        """
    )
    assert sink(model, HTML_POLICY) == frozenset()


def test_reassignment_kills_and_branches_join() -> None:
    model = build(
        """
        import json

        class Action:
            async def action(self, body):
                name = body["name"]
                name = json.dumps(name)
                safe = f"x({name})"
                if body.get("raw"):
                    other = body["raw"]
                else:
                    other = "ok"
                sink(safe)
                sink2(other)
        """
    )
    assert sink(model) == frozenset()
    assert sink(model, name="sink2") == {BODY}


def test_loops_containers_and_comprehensions() -> None:
    model = action(
        """
        rows = []
        for m in body["messages"]:
            rows.append(f"<li>{m['content']}</li>")
        html = "<ul>" + "".join(rows) + "</ul>"
        names = [m["role"] for m in body["messages"]]
        counts = {"n": len(body["messages"])}
        sink(html)
        sink2(", ".join(names))
        sink3(counts)
        """
    )
    assert sink(model) == {BODY}
    assert sink(model, name="sink2") == {BODY}
    assert sink(model, name="sink3") == frozenset()


def test_user_fields_are_low_confidence_and_user_valves_are_not() -> None:
    model = action(
        """
        user = __user__ or {}
        greeting = "Hello " + user.get("name", "")
        theme = __user__["valves"].theme
        sink(greeting)
        sink2(theme)
        """
    )
    assert sink(model) == {USER}
    assert is_low_confidence(sink(model))
    assert sink(model, name="sink2") == {USER_VALVES}
    assert not is_low_confidence(sink(model, name="sink2"))


def test_model_output_and_input_answers_are_sources() -> None:
    model = build(
        """
        from open_webui.main import generate_chat_completion

        class Action:
            async def action(self, body, __user__=None, __request__=None, __event_call__=None):
                response = await generate_chat_completion(__request__, {"model": "m"}, None)
                text = response["choices"][0]["message"]["content"]
                name = await __event_call__({"type": "input", "data": {"title": "t", "message": "m"}})
                ok = await __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}})
                sink(text)
                sink2(f"hi {name}")
                sink3(ok)
        """
    )
    assert sink(model) == {MODEL}
    assert sink(model, name="sink2") == {INPUT}
    assert sink(model, name="sink3") == frozenset()


def test_helper_results_are_context_sensitive() -> None:
    model = build(
        """
        import html

        class Action:
            def _wrap(self, text):
                return f"<div>{text}</div>"

            def _escape(self, text):
                return html.escape(text)

            async def action(self, body):
                a = self._wrap("static")
                b = self._wrap(body["x"])
                c = self._escape(body["x"])
                sink(a)
                sink2(b)
                sink3(c)
        """
    )
    assert sink(model, HTML_POLICY) == frozenset()
    assert sink(model, HTML_POLICY, name="sink2") == {BODY}
    assert sink(model, HTML_POLICY, name="sink3") == frozenset()


def test_parameters_take_the_taint_of_reachable_callers() -> None:
    model = build(
        """
        class Action:
            async def _run_js(self, emitter, code):
                sink(code)

            async def _unused(self, code):
                sink2(code)

            async def action(self, body, __event_call__=None):
                await self._run_js(__event_call__, "console.log(" + body["id"] + ")")
        """
    )
    assert sink(model) == {BODY}
    # Not reachable from `action`: nothing flows into its parameter.
    assert sink(model, name="sink2") == frozenset()


def test_recursion_terminates() -> None:
    model = build(
        """
        class Action:
            def _f(self, x, n):
                if n:
                    return self._f(x, n - 1)
                return x

            async def action(self, body):
                sink(self._f(body["a"], 3))
        """
    )
    assert sink(model) == {BODY}


def test_walrus_with_and_subscript_stores() -> None:
    model = action(
        """
        data = {}
        data["title"] = body["title"]
        if (t := body.get("t")):
            pass
        sink(data)
        sink2(t)
        """
    )
    assert sink(model) == {BODY}
    assert sink(model, name="sink2") == {BODY}


def test_unreachable_code_is_clean() -> None:
    model = action(
        """
        return None
        sink(body["x"])
        """
    )
    assert sink(model) == frozenset()


@pytest.mark.parametrize(
    ("taint", "text"),
    [
        ({BODY}, "`body` (client-controlled chat content)"),
        ({USER, MODEL}, "model output and `__user__` fields"),
    ],
)
def test_describe(taint: set[object], text: str) -> None:
    assert describe_taint(frozenset(taint)) == text  # type: ignore[arg-type]


# --- propagation the OWA6 rules rely on -----------------------------------------------------

PLAIN = TaintPolicy("plain")
PATHS = TaintPolicy(
    "paths",
    frozenset({"os.path.basename"}),
    trusted_user_keys=frozenset({"id", "role"}),
    sanitizer_call=lambda model, call: (
        isinstance(call.func, cst.Attribute) and call.func.attr.value == "replace"
    ),
    opaque_awaited=True,
)
SHELL = TaintPolicy("shell", frozenset({"shlex.quote"}))
OBJECTS = TaintPolicy("objects", objects=True)


def test_assignment_chains_and_augmented_assignment() -> None:
    model = action(
        """
        a = body["messages"]
        b = a
        c = "prefix "
        c += b[-1]["content"]
        sink(c)
        """
    )
    assert sink(model, PLAIN) == {BODY}


def test_attribute_and_subscript_reads_keep_the_taint() -> None:
    model = action(
        """
        last = body["messages"][-1]
        sink(last["content"].strip())
        sink2(body.get("chat_id"))
        sink3(last.content)
        """
    )
    assert sink(model, PLAIN) == {BODY}
    assert sink(model, PLAIN, name="sink2") == {BODY}
    assert sink(model, PLAIN, name="sink3") == {BODY}


def test_containers_carry_their_elements() -> None:
    model = action(
        """
        args = ["pandoc", "-o", body["name"]]
        pair = ("x", body["id"])
        options = {"title": body["title"]}
        clean = ["pandoc", "--version"]
        sink(args)
        sink2(pair[1])
        sink3(options)
        sink4(clean)
        """
    )
    assert sink(model, PLAIN) == {BODY}
    assert sink(model, PLAIN, name="sink2") == {BODY}
    assert sink(model, PLAIN, name="sink3") == {BODY}
    assert sink(model, PLAIN, name="sink4") == frozenset()


def test_percent_and_format_with_keywords() -> None:
    model = action(
        """
        name = body["name"]
        a = "%(n)s.txt" % {"n": name}
        b = "{n}.txt".format(n=name)
        sink(a)
        sink2(b)
        """
    )
    assert sink(model, PLAIN) == {BODY}
    assert sink(model, PLAIN, name="sink2") == {BODY}


def test_casts_and_named_sanitisers_clean() -> None:
    model = build(
        """
        import os
        import shlex

        class Action:
            async def action(self, body):
                pages = int(body["pages"])
                sink(f"convert --pages {pages}")
                sink2(shlex.quote(body["name"]))
                sink3(os.path.join("/data", os.path.basename(body["name"])))
        """
    )
    assert sink(model, SHELL) == frozenset()
    assert sink(model, SHELL, name="sink2") == frozenset()
    assert sink(model, SHELL, name="sink3") == {BODY}  # basename is no shell sanitiser
    assert sink(model, PATHS, name="sink3") == frozenset()


def test_policy_sanitizer_call() -> None:
    model = action(
        """
        safe = body["title"].replace("/", "_")
        sink(safe)
        """
    )
    assert sink(model, PATHS) == frozenset()
    assert sink(model, PLAIN) == {BODY}


def test_trusted_user_keys() -> None:
    model = action(
        """
        a = __user__["id"]
        b = __user__.get("role")
        c = __user__.get("name", "")
        d = __user__.get("valves")
        sink(a)
        sink2(b)
        sink3(c)
        sink4(d)
        """
    )
    assert sink(model, PATHS) == frozenset()
    assert sink(model, PATHS, name="sink2") == frozenset()
    assert sink(model, PATHS, name="sink3") == {USER}
    assert sink(model, PATHS, name="sink4") == {USER_VALVES}
    # Without trusted keys the id is a `__user__` field like any other.
    assert sink(model, PLAIN) == {USER}


def test_enumerate_counters_are_clean() -> None:
    model = action(
        """
        for i, m in enumerate(body["messages"]):
            sink(f"part{i}")
            sink2(m)
        names = [f"sheet{j}" for j, _ in enumerate(body["messages"])]
        sink3(names)
        """
    )
    assert sink(model, PLAIN) == frozenset()
    assert sink(model, PLAIN, name="sink2") == {BODY}
    assert sink(model, PLAIN, name="sink3") == frozenset()


def test_parameters_through_threads_and_partial() -> None:
    model = build(
        """
        import asyncio
        import functools

        def _convert(name):
            sink(name)

        class Action:
            def _run(self, flag, cmd):
                sink2(cmd)

            def _third(self, value):
                sink3(value)

            async def action(self, body):
                await asyncio.to_thread(_convert, body["name"])
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, self._run, True, body["cmd"])
                await loop.run_in_executor(None, functools.partial(self._third, "fixed"))
        """
    )
    assert sink(model, PLAIN) == {BODY}
    assert sink(model, PLAIN, name="sink2") == {BODY}
    assert sink(model, PLAIN, name="sink3") == frozenset()


def test_awaited_library_calls_are_opaque_only_when_asked() -> None:
    model = build(
        """
        from somewhere import synthesize

        class Action:
            async def action(self, body):
                response = await synthesize(body["messages"][-1]["content"])
                sink(response.path)
        """
    )
    assert sink(model, PATHS) == frozenset()
    assert sink(model, PLAIN) == {BODY}


def test_injected_objects_are_sources_only_for_an_objects_policy() -> None:
    model = build(
        """
        class Action:
            def _keep(self, request, emit):
                sink(request)
                sink2(emit)

            async def action(self, body, __request__=None, __event_emitter__=None):
                self._keep(__request__, __event_emitter__)
                await __event_emitter__({"type": "status", "data": {}})
        """
    )
    assert sink(model, OBJECTS) == {Label("object", "__request__")}
    assert sink(model, OBJECTS, name="sink2") == {Label("object", "__event_emitter__")}
    assert sink(model, PLAIN) == frozenset()
    assert describe_taint(frozenset({Label("object", "__request__")})) == (
        "an injected per-request object"
    )


def test_writes_fill_a_buffer_but_never_name_a_file_under_a_path_policy() -> None:
    model = action(
        """
        buffer = make_buffer()
        buffer.write(body["messages"][-1]["content"])
        sink(buffer.name)
        """
    )
    assert sink(model, PLAIN) == {BODY}  # a buffer read back holds what was written
    no_writes = TaintPolicy("no-writes", writes_taint=False)
    assert sink(model, no_writes) == frozenset()


# --- one analysis for every policy ----------------------------------------------------------

MIXED = """
import asyncio, os, shlex, html, json, subprocess

class Action:
    async def action(self, body, __user__=None, __event_call__=None, __request__=None):
        text = body["messages"][-1]["content"]
        name = await __event_call__({"type": "input", "data": {"title": "Name"}})
        uid = __user__["id"]
        mine = __user__["valves"].folder
        buf = make_buffer()
        buf.write(text)
        safe = os.path.basename(name).replace("/", "_")
        reply = await fetch_json(text)
        self.request = __request__
        for i, part in enumerate(text.split()):
            sink(part, i)
        page = self._wrap(text) + self._escape(name) + html.escape(mine)
        sink(page, json.dumps(text), shlex.quote(name), safe, uid, buf.name, reply)
        sink(self.replace(text, "/", "_"))
        subprocess.run(f"ls {self._loop(name, 3)}", shell=True)
        await asyncio.to_thread(self._write, uid, text)

    def replace(self, value, old, new):
        return value.replace(old, new)

    def _wrap(self, value):
        return "<b>" + value + "</b>"

    def _escape(self, value):
        return html.escape(value)

    def _loop(self, value, n):
        return value if n <= 0 else self._loop(value + "/", n - 1)

    def _write(self, who, what):
        with open(os.path.join("/data", who, what[:10]), "w") as fh:
            fh.write(what)
"""


def test_each_policy_gets_what_an_analysis_under_it_alone_gives() -> None:
    """The analysis shared by all policies (a block of bits each) answers every question
    as an analysis under one policy would: sanitisers, trusted `__user__` keys, injected
    objects, opaque awaited calls and writes act on their own policy only."""
    import rules.hazards  # noqa: F401  (its policies join the shared analysis)
    from analyzer.flow.taint import _POLICIES, _SharedTaint

    examples = sorted((Path(__file__).parent.parent / "examples").rglob("*.py"))
    sources = [MIXED, *(p.read_text(encoding="utf-8") for p in examples)]
    local = (PLAIN, PATHS, SHELL, OBJECTS, TaintPolicy("no-writes", writes_taint=False))
    policies = tuple(dict.fromkeys((*_POLICIES, *local)))
    seen: set[str] = set()
    for source in sources:
        model = build(source)
        everyone = _SharedTaint(model, policies)
        questions = [
            (expr, model.functions[qual])
            for qual in model.reachable
            for call in model.own_of(model.functions[qual].node.body, cst.Call)
            for expr in (*(a.value for a in call.args), *model.index.under(call, cst.Name))
        ]
        assert questions or model.action_method is None
        for slot, policy in enumerate(policies):
            alone = _SharedTaint(model, (policy,))
            for expr, info in questions:
                shared = everyone.layout.decode(everyone.taint(expr, info), slot)
                assert shared == alone.layout.decode(alone.taint(expr, info), 0), policy.name
                seen |= {label.kind for label in shared}
    assert seen >= {"body", "user", "user_valves", "input", "object"}


def test_a_sanitising_call_of_a_module_method_is_clean_under_its_policy_only() -> None:
    model = build(
        """
        class Action:
            async def action(self, body):
                sink(self.replace(body["title"], "/", "_"))

            def replace(self, value, old, new):
                return new.join(value.split(old))
        """
    )
    assert sink(model, PATHS) == frozenset()  # PATHS trusts any `.replace(...)` call
    assert sink(model, PLAIN) == {BODY}


def test_substitute_replaces_each_parameter_label_within_its_own_policy_block() -> None:
    """`_Layout.substitute` works on whole blocks at once; it gives what replacing each
    parameter bit one by one gives."""
    import random

    from analyzer.flow.taint import _Layout

    model = build(
        """
        def f(a, b, c):
            return a

        def g(b, d, *rest, **more):
            return d
        """
    )
    policies = (JS_POLICY, HTML_POLICY, PLAIN, PATHS)
    layout = _Layout(model, policies)

    def one_by_one(taint: int, params: dict[str, int]) -> int:
        out = taint & ~layout.params
        for bit in range(layout.width * len(policies)):
            slot, at = divmod(bit, layout.width)
            label = layout.labels[at]
            if taint >> bit & 1 and label.kind == "param":
                out |= params.get(label.detail, 0) & layout.blocks[slot]
        return out

    rng = random.Random(7)
    for _ in range(500):
        taint = rng.getrandbits(layout.width * len(policies))
        names = rng.sample(["a", "b", "c", "d", "rest", "unknown"], rng.randint(0, 4))
        params = {n: rng.getrandbits(layout.width * len(policies)) for n in names}
        assert layout.substitute(taint, params) == one_by_one(taint, params)


def test_a_summary_folds_each_return_once_while_its_helpers_are_analysed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`action` returning the results of many helpers: each helper's summary suspends the
    fold of the returns, which then goes on where it stopped (it used to start again)."""
    from analyzer.flow.taint import _SharedTaint

    helpers = 25
    branches = "".join(
        f"        if body.get('k') == {i}:\n            return await self._h{i}(body)\n"
        for i in range(helpers)
    )
    defs = "".join(
        f"    async def _h{i}(self, body):\n        return body['x{i}']\n" for i in range(helpers)
    )
    code = (
        "class Action:\n    async def action(self, body):\n"
        + branches
        + "        sink(await self._h0(body))\n        return None\n"
        + defs
    )
    model = build(code)
    folded: list[cst.BaseExpression] = []
    returns = {id(r.value) for r in model.index.under(model.module, cst.Return) if r.value}
    original = _SharedTaint.expr_taint

    def counting(self: _SharedTaint, expr: cst.BaseExpression, state: object, info: object) -> int:
        if id(expr) in returns:
            folded.append(expr)
        return original(self, expr, state, info)  # type: ignore[arg-type]

    monkeypatch.setattr(_SharedTaint, "expr_taint", counting)
    assert sink(model) == {BODY}
    assert len(folded) <= 2 * (helpers + 1) + helpers  # was quadratic: over 300
