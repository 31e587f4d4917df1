"""Assignment expressions in guards and confirmation gates (issue 12, item 11).

`if (ok := await __event_call__({...})) is not True: return` is a gate like the two-line
form; `if not (ok := ...)` / `if (ok := ...)` test the answer by truthiness (OWA402); role
guards written with `:=` guard like any other.
"""

from __future__ import annotations

import textwrap

from analyzer.api import lint_text
from analyzer.config import Settings


def lint(source: str, *select: str) -> list[tuple[str, int]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(select=select))
    assert not result.errors, result.errors
    return sorted((f.rule, f.location.line) for f in result.findings)


EXPORT_AND_DELETE = """
import json
import logging

from open_webui.models.chats import Chats

log = logging.getLogger(__name__)

class Action:
    async def _emit(self, emitter, text, done=False):
        await emitter({"type": "status", "data": {"description": text, "done": done}})

    def _archive(self, chat):
        with open(f"/srv/archive/{chat.id}.json", "w") as fh:
            json.dump(chat.model_dump(), fh)

    async def action(self, body, __user__=None, __event_emitter__=None, __event_call__=None):
        chat = Chats.get_chat_by_id_and_user_id(body["chat_id"], __user__["id"])
        await self._emit(__event_emitter__, "Archiving…")
        self._archive(chat)
        await self._emit(__event_emitter__, "Archived", True)
        @TEST@
            return {"messages": [{"id": body["id"], "content": "Archived, not deleted."}]}
        Chats.delete_chat_by_id_and_user_id(chat.id, __user__["id"])
        log.info("deleted %s", chat.id)
        return {"messages": [{"id": body["id"], "content": "Archived and deleted."}]}
"""

ASK = '{"type": "confirmation", "data": {"title": "Delete", "message": "Delete the chat now?"}}'


def test_walrus_strict_gate_is_a_gate() -> None:
    source = EXPORT_AND_DELETE.replace(
        "@TEST@", f"if (ok := await __event_call__({ASK})) is not True:"
    )
    assert lint(source, "OWA4") == []


def test_walrus_gate_through_a_helper_returning_the_raw_answer() -> None:
    source = EXPORT_AND_DELETE.replace(
        "    def _archive",
        "    async def _ask(self, call, text):\n"
        '        return await call({"type": "confirmation", "data": {"title": "Delete", "message": text}})\n\n'
        "    def _archive",
    ).replace("@TEST@", 'if (answer := await self._ask(__event_call__, "Delete it?")) != True:')
    assert lint(source, "OWA4") == []


def test_walrus_truthiness_is_owa402_and_leaves_the_operation_ungated() -> None:
    source = EXPORT_AND_DELETE.replace("@TEST@", f"if not (ok := await __event_call__({ASK})):")
    assert lint(source, "OWA4") == [("OWA401", 23), ("OWA402", 21)]


def test_walrus_truthy_branch_is_owa402() -> None:
    source = """
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __user__=None, __event_call__=None):
            if (ok := await __event_call__({"type": "confirmation", "data": {"title": "Unshare", "message": "Unshare this chat?"}})):
                await Chats.delete_shared_chat_by_chat_id(body["chat_id"])
                return {"messages": [{"id": body["id"], "content": f"Unshared ({ok})"}]}
    """
    assert lint(source, "OWA402", "OWA403") == [("OWA402", 5)]


def test_walrus_input_checked_in_the_same_test() -> None:
    source = """
    class Action:
        async def action(self, body, __event_call__=None):
            if not isinstance(name := await __event_call__({"type": "input", "data": {"title": "Tag", "message": "Tag name"}}), str) or not name.strip():
                return None
            return {"messages": [{"id": body["id"], "content": "#" + name.strip()}]}
    """
    assert lint(source, "OWA404") == []


ROLE_GUARDED = """
import subprocess

class Action:
    def _pull(self, repo):
        subprocess.run(["git", "-C", repo, "pull", "--ff-only"], check=True)

    async def action(self, body, __user__=None, __event_emitter__=None):
        @GUARD@
            return {"messages": [{"id": body["id"], "content": "Only admins can sync notes."}]}
        self._pull("/srv/notes")
        return {"messages": [{"id": body["id"], "content": "Notes synced."}]}
"""


def test_walrus_role_guard_guards() -> None:
    for guard in (
        'if (role := (__user__ or {}).get("role")) != "admin":',
        'if (user := __user__ or {}).get("role") != "admin":',
        'if not (role := __user__.get("role")) or role != "admin":',
    ):
        assert lint(ROLE_GUARDED.replace("@GUARD@", guard), "OWA3") == [], guard


def test_walrus_role_guard_on_a_foreign_value_does_not_guard() -> None:
    source = ROLE_GUARDED.replace("@GUARD@", 'if (role := body.get("role")) != "admin":')
    assert lint(source, "OWA3") == [("OWA301", 5)]


def test_walrus_role_guard_with_an_impossible_role_is_owa302() -> None:
    source = ROLE_GUARDED.replace(
        "@GUARD@", 'if (role := __user__.get("role")) not in ("Admin", "owner"):'
    )
    assert ("OWA302", 8) in lint(source, "OWA3")
