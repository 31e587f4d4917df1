"""The taint engine (analyzer/flow/taint.py): sources, propagation, sanitisers, helpers."""

from __future__ import annotations

import textwrap

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
