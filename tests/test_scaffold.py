"""Edge cases of the OWA1 scaffold rules beyond their embedded examples."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.rule import dedent_example
from rules.scaffold import frontmatter_problems


def _lines(rule: str, code: str) -> list[int]:
    result = lint_text(dedent_example(code), Settings(select=(rule,)), path="example.py")
    assert not result.errors, result.errors
    assert result.status == "action"
    return sorted(f.location.line for f in result.findings if f.rule == rule)


def _messages(rule: str, code: str) -> list[str]:
    result = lint_text(dedent_example(code), Settings(select=(rule,)), path="example.py")
    assert not result.errors, result.errors
    return [f.message for f in result.findings if f.rule == rule]


# --- OWA111: the rule must agree with the loader's own parser -----------------------------


def _loader_frontmatter(content: str) -> dict[str, str]:
    """Open WebUI's `extract_frontmatter` as contract §7 describes it."""
    pattern = re.compile(r"^\s*([a-z_]+):\s*(.*)\s*$", re.IGNORECASE)
    lines = content.splitlines()
    if not lines or lines[0].strip() != '"""':
        return {}
    out: dict[str, str] = {}
    for line in lines[1:]:
        if '"""' in line:
            break
        match = pattern.match(line)
        if match:
            key, value = match.groups()
            out[key.strip()] = value.strip()
    return out


FRAGMENTS = [
    '"""',
    '  """ ',
    "'''",
    "#!/usr/bin/env python",
    "title: Export",
    'title: "Export"',
    "title:",
    "Title: Export",
    "description: Save the chat",
    "description: 'Save'",
    'description: Save it"""',
    "author-url: https://example.com",
    "version : 1.0",
    "requirements: [a, b]",
    "requirements:",
    "  - requests",
    "  continued text",
    "Usage: click it",
    "plain prose",
    "",
    "   ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=9))
def test_frontmatter_problems_agree_with_the_loader(lines: list[str]) -> None:
    text = "\n".join(lines)
    problems = frontmatter_problems(text)
    parsed = _loader_frontmatter(text)
    if lines[0].strip() != '"""':
        assert parsed == {}
        assert len(problems) == 1 and "line 1 is not exactly" in problems[0]
        return
    joined = "; ".join(problems)
    lowered = {k.lower() for k in parsed}
    for key in ("title", "description"):
        if parsed.get(key):
            assert f"`{key}` is missing" not in joined and f"`{key}` is empty" not in joined
        elif key in parsed:
            assert f"`{key}` is empty" in joined
        elif key not in lowered:
            assert f"`{key}` is missing" in joined
    for key, value in parsed.items():
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            assert f"the value of `{key}`" in joined


def test_frontmatter_yaml_list_message_names_what_the_loader_keeps() -> None:
    # A later line of the same key wins: `title` ends as `Export`, not empty.
    text = '"""\ntitle:\n  - requests\ntitle: Export\ndescription: B\n"""\n'
    problems = frontmatter_problems(text)
    assert len(problems) == 1 and "so `title` is `Export`" in problems[0]


def test_frontmatter_blank_lines_and_prose_are_fine() -> None:
    text = '"""\ntitle: A\n\ndescription: B\n\nSome prose: here.\n"""\n'
    assert frontmatter_problems(text) == []


def test_frontmatter_crlf_and_unicode_line_breaks() -> None:
    assert frontmatter_problems('"""\r\ntitle: A\r\ndescription: B\r\n"""\r\n') == []
    # str.splitlines() also splits on U+2028, like the loader does.
    assert frontmatter_problems('"""\u2028title: A\u2028description: B\n"""\n') == []


def test_frontmatter_missing_file_docstring() -> None:
    code = """
        from pydantic import BaseModel

        class Action:
            async def action(self, body: dict) -> dict:
                return body
        """
    [message] = _messages("OWA111", code)
    assert "line 1 is `from pydantic import BaseModel`" in message


# --- OWA101 -------------------------------------------------------------------------------


def test_annotation_without_value_binds_nothing() -> None:
    code = """
        Pipe: "type[object]"

        class Action:
            async def action(self, body: dict) -> dict:
                return body
        """
    assert _lines("OWA101", code) == []


def test_with_target_and_both_names() -> None:
    code = """
        import contextlib

        with contextlib.nullcontext("|") as Pipe:
            pass
        Filter = staticmethod(lambda m: m)

        class Action:
            async def action(self, body: dict) -> dict:
                return body
        """
    assert _lines("OWA101", code) == [3, 5]


# --- OWA102 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "lines"),
    [
        ("Action = None\n", [1]),
        ("def Action(body):\n    return body\n", [1]),
        ("import acme\nAction = acme.build_action()\n", []),
        ("from acme import make\nAction = make()\n", []),
        ("def make():\n    class A:\n        pass\n    return A\n\nAction = make()\n", []),
        ("class A:\n    def __call__(self):\n        return self\n\nAction = A()\n", []),
        (
            "class A:\n    def __new__(cls, x):\n        return object.__new__(cls)\n\nAction = A\n",
            [],
        ),
        (
            "class M(type):\n    pass\n\nclass Action(metaclass=M):\n    def __init__(self, x):\n        pass\n",
            [],
        ),
        ("class Action:\n    def __init__(this, *, key):\n        pass\n", [2]),
        ("class Action:\n    def __init__():\n        pass\n", [2]),
        ("for Action in [object]:\n    pass\n", []),
    ],
)
def test_action_binding_kinds(code: str, lines: list[int]) -> None:
    assert _lines("OWA102", code) == lines


def test_factory_function_is_low_confidence() -> None:
    code = """
        class _Impl:
            async def action(self, body: dict) -> dict:
                return body

        def Action():
            return _Impl()
        """
    result = lint_text(dedent_example(code), Settings(select=("OWA102",)), path="x.py")
    [finding] = result.findings
    assert finding.location.line == 5 and finding.confidence.value == "low"


def test_conditional_fallback_to_none_next_to_a_class_is_silent() -> None:
    code = """
        import sys

        if sys.version_info >= (3, 10):
            class Action:
                async def action(self, body: dict) -> dict:
                    return body
        else:
            Action = None
        """
    assert _lines("OWA102", code) == []


# --- OWA104-OWA108 -------------------------------------------------------------------------


def test_action_assigned_from_module_function_is_checked() -> None:
    code = """
        async def summarize(self, data: dict) -> dict:
            return data

        class Action:
            action = summarize
        """
    assert _lines("OWA104", code) == [1]


def test_inherited_action_from_module_base() -> None:
    code = """
        class _Base:
            def action(self, body: dict, __chat_id__=None) -> dict:
                return body

        class Action(_Base):
            pass
        """
    assert _lines("OWA105", code) == [2]
    assert _lines("OWA107", code) == [2]


def test_kwargs_shadowed_in_nested_function_is_not_the_action_kwargs() -> None:
    code = """
        class Action:
            async def action(self, body: dict, **kwargs) -> dict:
                def pick(**kwargs):
                    return kwargs.get("__user__")

                return pick(__user__={"name": "x"}) or body
        """
    assert _lines("OWA106", code) == []


def test_kwargs_read_in_closure_is_reported() -> None:
    code = """
        class Action:
            async def action(self, body: dict, **kw) -> dict:
                def who() -> str:
                    return kw.get("__user__", {}).get("name", "?")

                return {"messages": [{"id": body["id"], "content": who()}]}
        """
    assert _lines("OWA106", code) == [4]


# --- OWA110 -------------------------------------------------------------------------------


def test_local_assignment_makes_the_name_defined() -> None:
    code = """
        class Action:
            async def action(self, body: dict) -> dict:
                __user__ = body.get("user") or {}
                return {"messages": [{"id": body["id"], "content": __user__.get("name", "")}]}
        """
    assert _lines("OWA110", code) == []


def test_one_finding_per_name_and_function() -> None:
    code = """
        class Action:
            async def action(self, body: dict) -> dict:
                role = __user__["role"]
                name = __user__["name"]
                return body
        """
    assert _lines("OWA110", code) == [3]


def test_unreached_helper_is_not_reported() -> None:
    code = """
        class Action:
            def _debug(self):
                print(__user__)

            async def action(self, body: dict) -> dict:
                return body
        """
    assert _lines("OWA110", code) == []


# --- OWA112 -------------------------------------------------------------------------------


def test_helper_called_directly_and_offloaded_is_reported() -> None:
    code = """
        import asyncio
        import requests

        class Action:
            def _fetch(self, url):
                return requests.get(url, timeout=5).text

            async def action(self, body: dict) -> dict:
                first = await asyncio.to_thread(self._fetch, "https://a.example.com")
                second = self._fetch("https://b.example.com")
                return body
        """
    [message] = _messages("OWA112", code)
    assert "line 10 reaches it through Action._fetch" in message


def test_blocking_call_in_task_coroutine_is_reported() -> None:
    code = """
        import asyncio
        import time

        class Action:
            async def _tick(self):
                time.sleep(1)

            async def action(self, body: dict) -> dict:
                await asyncio.create_task(self._tick())
                return body
        """
    assert _lines("OWA112", code) == [6]


def test_call_evaluated_before_offload_is_reported() -> None:
    code = """
        import asyncio
        import requests

        class Action:
            async def action(self, body: dict) -> dict:
                page = await asyncio.to_thread(requests.get("https://example.com"))
                return body
        """
    [message] = _messages("OWA112", code)
    assert "runs before the thread starts" in message


def test_requests_session_methods() -> None:
    code = """
        import requests

        class Action:
            def __init__(self):
                self.session = requests.Session()

            async def action(self, body: dict) -> dict:
                self.session.post("https://example.com", json=body)
                with requests.Session() as s:
                    s.get("https://example.com")
                requests.Session().get("https://example.com")
                return body
        """
    assert _lines("OWA112", code) == [8, 10, 11]


# --- OWA113 -------------------------------------------------------------------------------


def test_emitter_truthiness_and_comparison_of_unawaited_call() -> None:
    code = """
        class Action:
            async def action(self, body: dict, __event_call__=None) -> dict:
                if __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}}):
                    return body
                ok = __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}}) == True
                return body
        """
    assert _lines("OWA113", code) == [3, 5]


def test_variable_awaited_later_is_fine() -> None:
    code = """
        class Action:
            async def action(self, body: dict, __event_emitter__=None) -> dict:
                pending = __event_emitter__({"type": "status", "data": {"description": "x", "done": True}})
                body["seen"] = True
                await pending
                return body
        """
    assert _lines("OWA113", code) == []


def test_emitter_passed_by_keyword_through_two_helpers() -> None:
    code = """
        async def _send(emit, text):
            emit({"type": "message", "data": {"content": text}})

        class Action:
            async def _relay(self, *, out, text):
                await _send(out, text)

            async def action(self, body: dict, __event_emitter__=None) -> None:
                await self._relay(out=__event_emitter__, text="hi")
        """
    [message] = _messages("OWA113", code)
    assert "in `_send`" in message and "Action._relay → _send" in message


def test_emitter_alias_reassigned_to_something_else_is_not_tracked() -> None:
    code = """
        class Action:
            async def action(self, body: dict, __event_emitter__=None) -> None:
                emit = __event_emitter__
                if body.get("quiet"):
                    emit = print
                emit({"type": "status", "data": {"description": "x", "done": True}})
        """
    assert _lines("OWA113", code) == []


def test_unawaited_call_inside_lambda_is_not_reported() -> None:
    code = """
        import asyncio

        class Action:
            async def action(self, body: dict, __event_emitter__=None) -> None:
                send = lambda event: __event_emitter__(event)
                await send({"type": "status", "data": {"description": "x", "done": True}})
        """
    assert _lines("OWA113", code) == []
