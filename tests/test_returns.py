"""The payload evaluator (analyzer/flow/events.py) and the OWA5 return-value rules."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.flow.events import Evaluator, action_returns, describe, event_facts
from analyzer.model import ActionModule, SourceFile


def build(source: str) -> ActionModule:
    text = textwrap.dedent(source).lstrip("\n")
    return ActionModule(SourceFile("t.py", text), cst.parse_module(text))


def payloads(source: str) -> list[str]:
    """`describe()` of every event payload, in source order."""
    model = build(source)
    out = []
    for site in event_facts(model).sites:
        assert site.payload is not None
        out.append(describe(Evaluator(model, site.function).value(site.payload, site.call)))
    return out


def findings(source: str, select: str) -> list[tuple[str, int]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(select=(select,)))
    assert not result.errors, result.errors
    return [(f.rule, f.location.line) for f in result.findings]


def test_dicts_built_in_steps() -> None:
    assert payloads(
        """
        class Action:
            async def action(self, body, __event_emitter__=None):
                payload = {"type": "files"}
                payload["data"] = {"files": []}
                payload["data"]["files"].append({"type": "image", "url": "u"})
                payload.update({"extra": 1})
                await __event_emitter__(payload)
        """
    ) == ["{'type': 'files', 'data': {'files': [{'type': 'image', 'url': 'u'}]}, 'extra': 1}"]


def test_conditional_and_loop_mutations_make_containers_incomplete() -> None:
    assert payloads(
        """
        class Action:
            async def action(self, body, __event_emitter__=None):
                event = {"type": "status"}
                if body.get("x"):
                    event["data"] = {"description": "x"}
                files = []
                for url in body["urls"]:
                    files.append({"type": "image", "url": url})
                await __event_emitter__(event)
                await __event_emitter__({"type": "files", "data": {"files": files}})
        """
    ) == [
        "{'type': 'status', 'data': {'description': 'x'}, ...}",
        "{'type': 'files', 'data': {'files': [{'type': 'image', 'url': ?}, ...]}}",
    ]


def test_names_assigned_twice_or_handed_to_helpers_are_unknown() -> None:
    assert payloads(
        """
        class Action:
            def _fill(self, event):
                event["data"] = {}

            async def action(self, body, __event_emitter__=None):
                a = {"type": "status"}
                a = {"type": "message"}
                b = {"type": "status"}
                self._fill(b)
                await __event_emitter__(a)
                await __event_emitter__(b)
        """
    ) == ["?", "{'type': 'status', ...}"]


def test_helpers_with_literal_arguments_constants_and_aliases() -> None:
    assert payloads(
        """
        DONE = {"description": "Done", "done": True}

        class Action:
            def _event(self, kind, data=None):
                return {"type": kind, "data": data or {}}

            async def action(self, body, __event_emitter__=None):
                emit = __event_emitter__
                await emit(self._event("notification", {"type": "info", "content": "hi"}))
                await emit({"type": "status", "data": DONE})
                await emit({**self._event("message"), "data": {"content": "x"}})
        """
    ) == [
        "{'type': 'notification', 'data': {'type': 'info', 'content': 'hi'}}",
        "{'type': 'status', 'data': {'description': 'Done', 'done': True}}",
        "{'type': 'message', 'data': {'content': 'x'}}",
    ]


def test_emitter_aliases_through_parameters_and_attributes() -> None:
    model = build(
        """
        class Notifier:
            def __init__(self, emitter):
                self._emit = emitter

            async def say(self, text):
                await self._emit({"type": "message", "data": {"content": text}})

        class Action:
            async def _go(self, call):
                return await call({"type": "input", "data": {"title": "t", "message": "m"}})

            async def action(self, body, __event_emitter__=None, __event_call__=None):
                n = Notifier(__event_emitter__)
                await n.say("hello")
                await self._go(__event_call__)
        """
    )
    sites = [(s.function.qualname, s.kind) for s in event_facts(model).sites]
    assert sites == [("Notifier.say", "emitter"), ("Action._go", "call")]


def test_action_returns_follow_helpers() -> None:
    model = build(
        """
        class Action:
            async def _finish(self, text):
                if not text:
                    return None
                return {"content": text}

            async def action(self, body):
                if body.get("x"):
                    return await self._finish(body["x"])
                return {"messages": []}
        """
    )
    returns = action_returns(model)
    assert [(r.function.qualname, len(r.path)) for r in returns] == [
        ("Action._finish", 1),
        ("Action._finish", 1),
        ("Action.action", 0),
    ]


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ('{"id": body["id"]}', False),
        ('{"id": body.get("id")}', False),
        ('{"id": body["messages"][-1]["id"]}', False),
        ('{"id": [m for m in body["messages"]][0]["id"]}', False),
        ('{"id": body["chat_id"]}', True),
        ('{"id": body["session_id"]}', True),
        ('{"id": __user__["id"]}', True),
        ('{"id": "assistant-1"}', True),
        ('{"id": None}', True),
        ('{"id": f"{body[\'id\']}"}', False),
        ('{"id": some_lookup(body)}', False),
        ('{"content": "x"}', True),
    ],
)
def test_message_id_origins(code: str, flagged: bool) -> None:
    source = f"""
    from mylib import some_lookup

    class Action:
        async def action(self, body, __user__=None):
            return {{"messages": [{code}]}}
    """
    assert (findings(source, "OWA504") != []) is flagged


def test_message_ids_from_loops_over_body_messages() -> None:
    source = """
    class Action:
        async def action(self, body):
            out = []
            for i, m in enumerate(body["messages"][-3:]):
                out.append({"id": m["id"], "content": str(i)})
            recent = body["messages"][-2:]
            for m in reversed(recent):
                out.append({"id": m["id"], "content": "x"})
            return {"messages": out}
    """
    assert findings(source, "OWA504") == []


def test_content_disposition_header_is_case_insensitive() -> None:
    source = """
    from fastapi.responses import HTMLResponse

    class Action:
        async def action(self, body):
            return HTMLResponse("<p>x</p>", headers={"content-disposition": "INLINE"})
    """
    assert findings(source, "OWA503") == []


def test_files_checks_cover_alias_events_and_returned_messages() -> None:
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "chat:message:files", "data": {"files": [{"type": "video", "url": "u"}]}})
            return {"messages": [{"id": body["id"], "files": {"type": "image", "url": "u"}}]}
    """
    assert findings(source, "OWA501") == [("OWA501", 3), ("OWA501", 4)]


def test_ignored_return_keys_do_not_fire_with_spread_or_messages() -> None:
    source = """
    class Action:
        async def action(self, body):
            base = dict(messages=[])
            if body.get("a"):
                return {**base, "content": "x"}
            return {"messages": [], "content": "kept for logs"}
    """
    assert findings(source, "OWA502") == []
