"""Risky operations, confirmation gates and status paths (analyzer/flow/gates.py, OWA4)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.flow.gates import match_risky, risky_catalog
from analyzer.model import ActionModule, SourceFile

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def lint(source: str, select: str = "OWA4") -> list[tuple[str, int]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(select=(select,)))
    assert not result.errors, result.errors
    return [(f.rule, f.location.line) for f in result.findings]


def risky_names(source: str) -> list[str]:
    text = textwrap.dedent(source).lstrip("\n")
    model = ActionModule(SourceFile("t.py", text), cst.parse_module(text))
    out = []
    for node in model.walk(model.module):
        if isinstance(node, cst.Call):
            info = model.enclosing_function(node)
            op = match_risky(model, node, info) if info is not None else None
            if op is not None:
                out.append(op.entry.name)
    return out


# --- the catalog ---------------------------------------------------------------------------


def test_catalog_covers_deletes_and_updates_but_not_inserts_or_housekeeping() -> None:
    catalog = risky_catalog()
    assert catalog["open_webui.models.chats.Chats.delete_chat_by_id"].category == "delete"
    assert catalog["open_webui.models.chats.Chats.update_chat_title_by_id"].category == "update"
    assert catalog["open_webui.models.users.Users.update_user_role_by_id"].category == "update"
    assert "open_webui.models.chats.Chats.insert_new_chat" not in catalog
    assert "open_webui.models.users.Users.update_last_active_by_id" not in catalog
    assert "open_webui.models.chats.Chats.get_chat_by_id" not in catalog
    assert catalog["shutil.rmtree"].when == "not-temp-arg"


def test_risky_calls_by_receiver_old_import_paths_and_conditions() -> None:
    names = risky_names(
        """
        import shutil, smtplib, tempfile
        import requests, httpx
        from apps.webui.models.chats import Chats

        class Action:
            async def action(self, body, __user__=None):
                await Chats.delete_chat_by_id(body["chat_id"])
                with smtplib.SMTP_SSL("mail") as s:
                    s.send_message(None)
                requests.request("DELETE", "https://x/1")
                requests.request("GET", "https://x/1")
                httpx.post(f"{self.valves.base}/api/v1/users/{body['id']}/update", json={})
                httpx.post("https://hooks.example.com/api/v1/users", json={})
                httpx.get(f"{self.valves.base}/api/v1/configs")
                tmp = tempfile.mkdtemp()
                shutil.rmtree(tmp)
                shutil.rmtree("/srv/data")
                async with httpx.AsyncClient() as client:
                    await client.delete("https://x/2")
        """
    )
    assert names == [
        "open_webui.models.chats.Chats.delete_chat_by_id",
        "smtplib.SMTP_SSL.send_message",
        "requests.request",
        "httpx.post",
        "httpx.post",
        "shutil.rmtree",
        "httpx.AsyncClient.delete",
    ]


# --- gates ---------------------------------------------------------------------------------

HEAD = """
from open_webui.models.chats import Chats

class Action:
"""


def gated(body: str) -> list[tuple[str, int]]:
    return lint(HEAD + textwrap.indent(textwrap.dedent(body), "    "))


@pytest.mark.parametrize(
    "test",
    [
        "if answer is not True: return",
        "if answer != True: return",
        "if not answer is True: return",
        "if not (answer is True): return",
        "if not isinstance(answer, bool) or not answer: return",
        "if answer is not True or not body.get('messages'): return",
        "if not answer or isinstance(answer, dict): return",
        "if isinstance(answer, dict) or not answer: return",
    ],
)
def test_strict_gates(test: str) -> None:
    source = (
        "from open_webui.models.chats import Chats\n"
        "class Action:\n"
        "    async def action(self, body, __event_call__=None):\n"
        '        answer = await __event_call__({"type": "confirmation", '
        '"data": {"title": "t", "message": "m"}})\n'
        f"        {test}\n"
        '        await Chats.delete_chat_by_id(body["chat_id"])\n'
    )
    assert lint(source) == []


def test_a_broken_gate_is_no_gate() -> None:
    found = gated(
        """
        async def action(self, body, __event_call__=None):
            answer = await __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}})
            if not answer:
                return
            await Chats.delete_chat_by_id(body["chat_id"])
        """
    )
    assert found == [("OWA402", 7), ("OWA401", 9)]


def test_gate_in_the_caller_covers_the_helper_and_an_ungated_path_is_found() -> None:
    found = gated(
        """
        async def _purge(self, chat_id):
            await Chats.delete_chat_by_id(chat_id)

        async def action(self, body, __event_call__=None):
            if body.get("force"):
                await self._purge(body["chat_id"])
            answer = await __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}})
            if answer is True:
                await self._purge(body["chat_id"])
        """
    )
    assert found == [("OWA401", 6)]


def test_reasking_loop_and_raise_on_cancel_helper() -> None:
    assert (
        gated(
            """
            async def _require(self, call):
                while True:
                    answer = await call({"type": "confirmation", "data": {"title": "t", "message": "m"}})
                    if answer is True:
                        return
                    if answer is False:
                        raise RuntimeError("cancelled")

            async def action(self, body, __event_call__=None):
                await self._require(__event_call__)
                await Chats.delete_chat_by_id(body["chat_id"])
            """
        )
        == []
    )


def test_helper_returning_the_raw_answer_is_a_truthiness_gate_at_the_caller() -> None:
    found = gated(
        """
        async def _ask(self, call):
            return await call({"type": "confirmation", "data": {"title": "t", "message": "m"}})

        async def action(self, body, __event_call__=None):
            ok = await self._ask(__event_call__)
            if ok:
                await Chats.delete_chat_by_id(body["chat_id"])
            if ok is True:
                await Chats.update_chat_title_by_id(body["chat_id"], "x")
        """
    )
    assert found == [("OWA402", 10), ("OWA401", 11)]


def test_owa401_stays_silent_where_the_authorization_rules_fire() -> None:
    source = """
    from open_webui.models.users import Users

    class Action:
        async def action(self, body, __user__=None):
            await Users.delete_user_by_id(body["messages"][-1]["content"].strip())
    """
    assert lint(source, "OWA401") == []
    assert ("OWA301", 5) in lint(source, "OWA3")


# --- OWA403 / OWA404 -------------------------------------------------------------------------


def test_confirmation_tested_after_a_helper_that_deletes() -> None:
    found = gated(
        """
        async def _wipe(self, chat_id):
            await Chats.delete_chat_by_id(chat_id)

        async def action(self, body, __event_call__=None):
            answer = await __event_call__({"type": "confirmation", "data": {"title": "t", "message": "m"}})
            await self._wipe(body["chat_id"])
            if answer is True:
                return None
        """
    )
    assert ("OWA403", 9) in found


def test_input_checked_only_for_none_is_unchecked_but_or_default_is_handled() -> None:
    source = """
    class Action:
        async def action(self, body, __event_call__=None):
            a = await __event_call__({"type": "input", "data": {"title": "t", "message": "m"}})
            if a is not None:
                return {"messages": [{"id": body["id"], "content": a.upper()}]}
            b = await __event_call__({"type": "input", "data": {"title": "t", "message": "m"}})
            name = b or "untitled"
            return {"messages": [{"id": body["id"], "content": name}]}
    """
    assert lint(source, "OWA404") == [("OWA404", 3)]


def test_input_converted_in_a_try_that_ends_action_is_handled() -> None:
    # The `except` is the last thing `action` does: it leaves the path.
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None, __event_call__=None):
            try:
                steps = await __event_call__({"type": "input", "data": {"title": "Steps", "message": "How many steps?"}})
                steps = int(steps) if steps else 20
                await __event_emitter__({"type": "message", "data": {"content": f"Running {steps} steps"}})
            except Exception as e:
                await __event_emitter__({"type": "status", "data": {"description": f"Error: {e}", "done": True}})
    """
    assert lint(source, "OWA404") == []


def test_input_converted_outside_a_try_is_flagged() -> None:
    source = """
    class Action:
        async def action(self, body, __event_call__=None):
            steps = await __event_call__({"type": "input", "data": {"title": "Steps", "message": "How many steps?"}})
            steps = int(steps) if steps else 20
            return {"messages": [{"id": body["id"], "content": f"{steps} steps"}]}
    """
    assert lint(source, "OWA404") == [("OWA404", 3)]


def test_input_used_under_a_conditional_expression_type_test() -> None:
    source = """
    class Action:
        async def action(self, body, __event_call__=None):
            value = await __event_call__({"type": "input", "data": {"title": "To", "message": "Recipient"}})
            if value is None:
                return None
            to = value.strip() if isinstance(value, str) else ""
            return {"messages": [{"id": body["id"], "content": f"Mail to {to or 'nobody'}"}]}
    """
    assert lint(source, "OWA404") == []


def test_input_coerced_in_the_failed_type_test_branch() -> None:
    source = """
    class Action:
        def parse(self, text):
            return dict(item.split(":", 1) for item in text.split())

        async def action(self, body, __event_call__=None):
            reply = await __event_call__({"type": "input", "data": {"title": "Config", "message": "key:value ..."}})
            if not reply:
                return None
            if not isinstance(reply, str):
                reply = str(reply)
            return {"messages": [{"id": body["id"], "content": str(self.parse(reply))}]}
    """
    assert lint(source, "OWA404") == []


# The failing branch only reports, then falls through to use the answer anyway.
FALLS_THROUGH = """
class Action:
    async def action(self, body, __event_emitter__=None, __event_call__=None):
        name = await __event_call__({"type": "input", "data": {"title": "Name", "message": "File name"}})
        if not name:
            await __event_emitter__({"type": "status", "data": {"description": "No name", "done": True}})
        return {"messages": [{"id": body["id"], "content": f"Saved as {name}.md"}]}
"""


def test_input_failing_branch_that_falls_through_handles_nothing() -> None:
    assert lint(FALLS_THROUGH, "OWA404") == [("OWA404", 3)]


def test_input_left_bad_by_two_joined_paths_reports_them_all_every_time() -> None:
    """Both paths reach the f-string: Cancel and "" through the failing branch, the error
    dict through the other. The report says Cancel, whatever else the process analysed
    before (it used to depend on where the joined states sat in memory)."""
    messages: set[str] = set()
    ballast: list[list[cst.Name]] = []
    for round_ in range(12):
        ballast.append([cst.Name(f"n{i}") for i in range(round_ * 50)])  # shift the heap
        result = lint_text(FALLS_THROUGH, Settings(select=("OWA404",)))
        messages.update(f.message for f in result.findings)
    (message,) = messages
    assert "without handling Cancel" in message


# --- OWA407 ---------------------------------------------------------------------------------


def test_status_paths_ignore_infeasible_emitter_branches() -> None:
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            if not __event_emitter__:
                return None
            await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
            if __event_emitter__ is None:
                return None
            await __event_emitter__({"type": "status", "data": {"description": "y", "done": True}})
    """
    assert lint(source, "OWA407") == []


def test_status_left_open_by_a_sync_helper_path_through_try_finally() -> None:
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            try:
                await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
                if not body.get("messages"):
                    return None
            finally:
                pass
            await __event_emitter__({"type": "status", "data": {"description": "y", "done": True}})
    """
    assert lint(source, "OWA407") == [("OWA407", 6)]


def test_status_through_helpers_that_emit_and_helpers_that_do_not() -> None:
    # `_fetch` and `_tidy` never emit (nor call a helper that does): the status stays as it
    # was across them; `_finish` closes it only through `_done`, two calls down, so only
    # the early `return` leaves it open.
    source = """
    class Action:
        def _tidy(self, text):
            return text.strip()

        async def _fetch(self, body):
            return self._tidy(body["messages"][-1]["content"])

        async def _done(self, emitter):
            await emitter({"type": "status", "data": {"description": "Done", "done": True}})

        async def _finish(self, emitter):
            await self._done(emitter)

        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
            text = await self._fetch(body)
            if not text:
                return None
            await self._finish(__event_emitter__)
            return {"content": self._tidy(text)}
    """
    assert lint(source, "OWA407") == [("OWA407", 18)]


def test_status_correlated_comparison_and_its_negation_agree() -> None:
    # `mode == "quick"` and `mode != "quick"` are one condition: the quick path never
    # opened a status, the other closes it.
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            mode = body.get("mode", "full")
            if mode != "quick":
                await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})
            text = body["messages"][-1]["content"]
            if mode == "quick":
                return {"messages": [{"id": body["id"], "content": text[:100]}]}
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            return {"messages": [{"id": body["id"], "content": text}]}
    """
    assert lint(source, "OWA407") == []


def test_status_correlated_tests_written_differently() -> None:
    # Parentheses, line breaks and `not` do not make it another condition.
    source = """
    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            valves = __user__["valves"]
            if (valves
                    .show_status):
                await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
            text = body["messages"][-1]["content"]
            if not (
                valves.show_status
            ):
                return {"messages": [{"id": body["id"], "content": text}]}
            await __event_emitter__({"type": "status", "data": {"description": "y", "done": True}})
    """
    assert lint(source, "OWA407") == []


def test_status_correlation_ends_at_a_method_call_on_the_tested_object() -> None:
    # `pending.pop()` may empty `pending`: the second test may go the other way.
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            pending = list(body["messages"])
            if pending:
                await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})
            while pending:
                pending.pop()
            if pending:
                await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    """
    assert lint(source, "OWA407") == [("OWA407", 9)]


def test_status_correlation_does_not_prune_a_loop_exit() -> None:
    # The same test repeated inside a loop whose body changes its object by a method call.
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            queue = list(body["messages"])
            await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})
            for _ in range(10):
                if queue:
                    queue.pop()
                if not queue:
                    break
            if queue:
                return None
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    """
    assert lint(source, "OWA407") == [("OWA407", 11)]


def test_status_left_open_in_a_nested_helper_is_reported_at_its_return() -> None:
    source = """
    class Action:
        async def _inner(self, emitter):
            await emitter({"type": "status", "data": {"description": "Inner", "done": False}})
            return "ok"

        async def _outer(self, emitter):
            return await self._inner(emitter)

        async def action(self, body, __event_emitter__=None):
            result = await self._outer(__event_emitter__)
            if result:
                return await self._outer(__event_emitter__)
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
    """
    # Through the `return` in `action`: at `_inner`'s return; the other call continues in
    # `action`, which closes the status.
    assert lint(source, "OWA407") == [("OWA407", 4)]


def test_status_left_open_in_a_helper_returned_through_wait_for() -> None:
    source = """
    import asyncio

    class Action:
        async def _run(self, emitter, body):
            await emitter({"type": "status", "data": {"description": "Working", "done": False}})
            if not body.get("messages"):
                return None
            await emitter({"type": "status", "data": {"description": "Done", "done": True}})
            return {"messages": [{"id": body["id"], "content": "ok"}]}

        async def action(self, body, __event_emitter__=None):
            return await asyncio.wait_for(self._run(__event_emitter__, body), timeout=60)
    """
    assert lint(source, "OWA407") == [("OWA407", 7)]


# --- the bundled examples ---------------------------------------------------------------------


def _rules_in(path: Path) -> set[str]:
    result = lint_text(path.read_text(encoding="utf-8"), Settings(select=("OWA4", "OWA5")))
    return {f.rule for f in result.findings}


def test_defective_examples_show_the_family() -> None:
    assert _rules_in(EXAMPLES / "defective" / "confirmation_cleanup.py") == {
        "OWA401",
        "OWA402",
        "OWA404",
        "OWA406",
        "OWA407",
    }
    assert _rules_in(EXAMPLES / "defective" / "confirmation_report_card.py") == {
        "OWA405",
        "OWA408",
        "OWA501",
        "OWA502",
        "OWA503",
        "OWA504",
    }


def test_correct_patterns_example_is_clean_with_every_rule() -> None:
    path = EXAMPLES / "clean" / "archive_and_unshare.py"
    result = lint_text(path.read_text(encoding="utf-8"), Settings())
    assert result.status == "action"
    assert [f"{f.rule}:{f.location.line}" for f in result.findings] == []


def test_finally_that_closes_the_status_covers_returns_inside_the_try() -> None:
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
            try:
                if not body.get("messages"):
                    return None
                text = body["messages"][-1]["content"]
            finally:
                await __event_emitter__({"type": "status", "data": {"description": "", "done": True}})
            return {"messages": [{"id": body["id"], "content": text}]}
    """
    assert lint(source, "OWA407") == []


def test_falling_off_the_end_through_a_final_try_finally_is_reported() -> None:
    source = """
    class Action:
        async def action(self, body, __event_emitter__=None):
            try:
                await __event_emitter__({"type": "status", "data": {"description": "x", "done": False}})
            finally:
                print("cleanup")
    """
    assert lint(source, "OWA407") == [("OWA407", 6)]


def test_a_helper_with_no_answer_under_it_never_confirms_and_is_not_solved_to_say_so() -> None:
    """`confirms_on_return` of an answer-free helper is False without its dataflow; the
    helper that asks still confirms, and OWA401 sees both."""
    from analyzer.flow.gates import gate_facts

    source = textwrap.dedent(
        """
        from open_webui.models.chats import Chats

        class Action:
            async def _log(self, text):
                print(text)
                return True

            async def _confirm(self, ask):
                answer = await ask({"type": "confirmation", "data": {"title": "t", "message": "m"}})
                if answer is not True:
                    raise RuntimeError("cancelled")

            async def action(self, body, __event_call__=None):
                await self._log("start")
                await Chats.delete_chat_by_id(body["chat_id"])
                await self._confirm(__event_call__)
                await Chats.delete_chats_by_user_id(body["user_id"])
        """
    ).lstrip("\n")
    model = ActionModule(SourceFile("t.py", source), cst.parse_module(source))
    facts = gate_facts(model)
    log, confirm = model.functions["Action._log"], model.functions["Action._confirm"]
    assert not facts.confirms_on_return(log)
    assert "Action._log" not in facts._solved  # answered without its dataflow
    assert facts.confirms_on_return(confirm)
    assert lint(source, "OWA401") == [("OWA401", 15)]
