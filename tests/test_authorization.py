"""The authorization analysis end to end: all OWA3 rules together on realistic actions.

Each rule's own VALID/INVALID cases run in tests/test_rule_examples.py with that rule
alone; here the family runs together, so "one root cause, one finding" is checked too.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

from analyzer.api import lint_text
from analyzer.cli import main
from analyzer.config import PrivilegedOptions, Settings
from analyzer.flow.guards import authorization_facts
from analyzer.model import ActionModule, SourceFile

OWA3 = Settings(select=("OWA3",))


def findings(source: str, settings: Settings = OWA3) -> set[tuple[str, int]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), settings, path="t.py")
    assert not result.errors, result.errors
    return {(f.rule, f.location.line) for f in result.findings}


def messages(source: str, code: str) -> list[str]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), OWA3, path="t.py")
    return [f.message for f in result.findings if f.rule == code]


def model_of(source: str) -> ActionModule:
    text = textwrap.dedent(source).lstrip("\n")
    return ActionModule(SourceFile("t.py", text), cst.parse_module(text))


# --- guards -------------------------------------------------------------------------------


def test_guard_in_predicate_helper_with_aliases() -> None:
    assert (
        findings(
            """
            from open_webui.models.users import Users

            class Action:
                def _is_admin(self, user):
                    role = (user or {}).get("role", "user")
                    return role == "admin"

                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    if not self._is_admin(user):
                        return
                    await Users.update_user_role_by_id(body["messages"][-1]["content"], "admin")
            """
        )
        == set()
    )


def test_unary_minus_and_invert_do_not_stop_the_analysis() -> None:
    # Real exporters keep `-1` sentinels and `~mask`s next to their role checks; these once
    # sent the guard analysis into endless recursion and lost every OWA3 finding.
    source = """
        from open_webui.models.users import Users

        class Action:
            async def action(self, body, __user__=None):
                last = -1
                flags = ~0
                if -len(body.get("messages", [])) < last and +flags:
                    pass
                if __user__["role"] != "admin":
                    return
                await Users.delete_user_by_id(body["id"])
                Users.delete_user_by_id(body["messages"][last]["content"])
        """
    assert findings(source) == set()
    assert findings(source.replace('if __user__["role"] != "admin":', "if False:")) == {
        ("OWA301", 11),
        ("OWA301", 12),
    }


def test_guard_after_the_operation_is_flagged() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                subprocess.run(["ollama", "pull", "llama3"])
                if __user__["role"] != "admin":
                    return
                subprocess.run(["ollama", "rm", "llama3"])
        """
    ) == {("OWA301", 5)}


def test_guard_on_one_branch_only() -> None:
    assert findings(
        """
        import os

        class Action:
            async def action(self, body, __user__=None):
                mode = body.get("mode")
                if mode == "strict":
                    if __user__.get("role") != "admin":
                        return
                    os.system("sync")
                else:
                    os.system("sync")
                os.system("true")
        """
    ) == {("OWA301", 11), ("OWA301", 12)}


def test_assert_is_no_guard_and_is_owa302() -> None:
    assert findings(
        """
        from open_webui.models.users import Users

        class Action:
            async def action(self, body, __user__=None):
                assert __user__["role"] == "admin"
                return {"content": str(await Users.get_users())}
        """
    ) == {("OWA302", 5), ("OWA301", 6)}


def test_pending_comparison_is_owa302_and_no_guard() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                if __user__["role"] == "pending":
                    return
                subprocess.run(["id"])
        """
    ) == {("OWA302", 5), ("OWA301", 7)}


def test_impossible_guard_makes_the_rest_dead() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                role = __user__.get("role")
                if role != "Admin":
                    return
                subprocess.run(["id"])
        """
    ) == {("OWA302", 6)}


def test_superuser_in_tuple_is_owa302_yet_guards() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                if __user__["role"] in ("admin", "superuser"):
                    subprocess.run(["id"])
        """
    ) == {("OWA302", 5)}


def test_role_user_return_is_a_guard_and_walrus_and_short_circuit() -> None:
    assert (
        findings(
            """
            import subprocess

            class Action:
                async def action(self, body, __user__=None):
                    if (role := __user__.get("role")) == "user":
                        return
                    subprocess.run(["a"])

                async def other(self, body, __user__=None):
                    pass
            """
        )
        == set()
    )
    assert (
        findings(
            """
            import subprocess

            class Action:
                async def action(self, body, __user__=None):
                    if not __user__ or __user__.get("role") != "admin":
                        return
                    subprocess.run(["a"])
            """
        )
        == set()
    )


def test_injected_user_truthiness_is_not_a_guard() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                if not __user__:
                    return
                if __user__ is None:
                    return
                subprocess.run(["a"])
        """
    ) == {("OWA301", 9)}


def test_failing_branch_only_logs() -> None:
    assert findings(
        """
        import shutil

        class Action:
            async def action(self, body, __user__=None, __event_emitter__=None):
                if __user__["role"] != "admin":
                    print("not an admin")
                shutil.rmtree("/app/backend/data/cache")
        """
    ) == {("OWA302", 5), ("OWA301", 7)}


def test_guard_inside_try_and_op_in_handler() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                try:
                    if __user__["role"] != "admin":
                        raise PermissionError("admins only")
                    subprocess.run(["a"])
                except PermissionError:
                    subprocess.run(["logger", "denied"])
                    return
        """
    ) == {("OWA301", 10)}


def test_guard_in_loop_and_while() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                for name in ["a", "b"]:
                    if __user__["role"] != "admin":
                        continue
                    subprocess.run([name])
                while True:
                    subprocess.run(["c"])
                    break
        """
    ) == {("OWA301", 10)}


# --- interprocedural -----------------------------------------------------------------------


def test_helper_called_only_under_guard_inherits_it() -> None:
    assert (
        findings(
            """
            import asyncio
            import subprocess

            class Action:
                def _run(self, cmd):
                    return subprocess.run(cmd, capture_output=True)

                async def _restart(self):
                    await asyncio.to_thread(self._run, ["systemctl", "restart", "ollama"])

                async def action(self, body, __user__=None):
                    if __user__["role"] == "admin":
                        await self._restart()
            """
        )
        == set()
    )


def test_helper_from_two_places_flagged_once_naming_unguarded_path() -> None:
    source = """
        from open_webui.models.users import Users

        class Action:
            async def _purge(self, uid):
                await Users.delete_user_by_id(uid)

            async def _cleanup(self, uid):
                await self._purge(uid)

            async def action(self, body, __user__=None):
                uid = body["messages"][-1]["content"]
                if __user__["role"] == "admin":
                    await self._purge(uid)
                await self._cleanup(uid)
        """
    assert findings(source) == {("OWA301", 5)}
    (message,) = messages(source, "OWA301")
    assert message.startswith("`Users.delete_user_by_id` runs for every user who clicks")
    assert '`__user__["role"] == "admin"`' in message
    assert message.endswith("(line 14 reaches it through `self._cleanup` → `self._purge`)")


def test_require_admin_gate_helper_and_module_function() -> None:
    assert (
        findings(
            """
            import os

            def require_admin(user: dict) -> None:
                if user.get("role") != "admin":
                    raise PermissionError("admins only")

            class Action:
                async def action(self, body, __user__=None):
                    require_admin(__user__)
                    os.environ["HTTP_PROXY"] = body["messages"][-1]["content"]
            """
        )
        == set()
    )


def test_closure_and_other_class_through_attribute() -> None:
    assert findings(
        """
        import subprocess

        class Admin:
            def restart(self):
                subprocess.run(["systemctl", "restart", "open-webui"])

        class Action:
            def __init__(self):
                self.admin = Admin()

            async def action(self, body, __user__=None):
                def go():
                    subprocess.run(["sync"])
                if __user__["role"] == "admin":
                    go()
                self.admin.restart()
        """
    ) == {("OWA301", 5)}


# --- what is not privileged ---------------------------------------------------------------


def test_temp_and_export_cleanup_not_flagged() -> None:
    assert (
        findings(
            """
            import os
            import shutil
            import tempfile
            from pathlib import Path

            EXPORT_ROOT = os.path.join(tempfile.gettempdir(), "chat-exports")

            class Action:
                def __init__(self):
                    self.workdir = tempfile.mkdtemp()

                async def action(self, body, __user__=None):
                    fd, path = tempfile.mkstemp(suffix=".md")
                    os.close(fd)
                    out = Path(self.workdir) / "out"
                    shutil.rmtree(out, ignore_errors=True)
                    shutil.rmtree(EXPORT_ROOT, ignore_errors=True)
                    shutil.rmtree(f"{self.workdir}/pages", ignore_errors=True)
                    os.remove(path)
                    os.unlink(os.path.join("exports", "chat.md"))
            """
        )
        == set()
    )


def test_deleting_own_chat_is_not_owa301() -> None:
    assert (
        findings(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None):
                    chat_id = body["chat_id"]
                    await Chats.delete_chat_by_id(chat_id)
                    await Chats.delete_chats_by_user_id(__user__["id"])
            """
        )
        == set()
    )


def test_lookup_by_own_chat_id_is_not_owa305() -> None:
    assert (
        findings(
            """
            from open_webui.models.chats import Chats

            class Action:
                async def action(self, body, __user__=None):
                    chat = Chats.get_chat_by_id(body["chat_id"])
                    return {"content": chat.title}
            """
        )
        == set()
    )


def test_lookup_by_id_from_message_text_is_owa305_not_owa301() -> None:
    source = """
        from open_webui.models.chats import Chats

        class Action:
            async def action(self, body, __user__=None):
                wanted = body["messages"][-1]["content"].split()[-1]
                chat = await Chats.get_chat_by_id(wanted)
                return {"content": chat.title}
        """
    assert findings(source) == {("OWA305", 6)}
    facts = authorization_facts(model_of(source))
    assert len(facts.flagged_calls) == 1


def test_write_by_foreign_id_is_owa301() -> None:
    assert findings(
        """
        from open_webui.models.chats import Chats

        class Action:
            async def action(self, body, __user__=None):
                await Chats.delete_chat_by_id(body["messages"][-1]["content"])
        """
    ) == {("OWA301", 5)}


def test_own_records_are_scoped() -> None:
    assert (
        findings(
            """
            from open_webui.models.chats import Chats
            from open_webui.models.files import Files

            class Action:
                async def action(self, body, __user__=None):
                    uid = __user__["id"]
                    mine = await Chats.get_chats_by_user_id(uid)
                    for chat in mine:
                        await Chats.update_chat_title_by_id(chat.id, chat.title.strip())
                    record = await Files.get_file_by_id(body["file"])
                    if record.user_id != uid:
                        return
                    await Files.delete_file_by_id(body["file"])
            """
        )
        == set()
    )


def test_no_user_param_is_owa303_not_owa301() -> None:
    assert findings(
        """
        import subprocess

        class Action:
            async def action(self, body):
                subprocess.run(["id"])
        """
    ) == {("OWA303", 5)}


def test_extra_privileged_names_from_config() -> None:
    source = """
        from mypkg.admin import nuke

        class Action:
            async def action(self, body, __user__=None):
                nuke(body["id"])
        """
    assert findings(source) == set()
    settings = Settings(select=("OWA3",), privileged=PrivilegedOptions(extra=("mypkg.admin.nuke",)))
    assert findings(source, settings) == {("OWA301", 5)}


def test_dynamic_import_and_eval() -> None:
    assert findings(
        """
        import importlib

        class Action:
            async def action(self, body, __user__=None):
                importlib.import_module("json")
                mod = importlib.import_module(body["module"])
                return eval(body["expr"])
        """
    ) == {("OWA301", 6), ("OWA301", 7)}


# --- OWA304 --------------------------------------------------------------------------------


def test_user_leak_via_alias_and_helper_param() -> None:
    assert findings(
        """
        import logging
        logger = logging.getLogger(__name__)

        class Action:
            def _log(self, who):
                logger.info("called by %s", who)

            async def action(self, body, __user__=None):
                user = __user__ or {}
                self._log(user)
                logger.info("name %s", user["name"])
        """
    ) == {("OWA304", 6)}


# --- the API the confirmation rules use -----------------------------------------------------


def test_authorization_facts_api() -> None:
    model = model_of(
        """
        import subprocess

        class Action:
            async def action(self, body, __user__=None):
                subprocess.run(["a"])
                if __user__["role"] != "admin":
                    return
                subprocess.run(["b"])
        """
    )
    facts = authorization_facts(model)
    assert facts is authorization_facts(model)
    calls = sorted(facts.ops, key=lambda op: model.position(op.node).start.line)
    first, second = calls[0].node, calls[1].node
    assert facts.flagged_calls == {first}
    assert not facts.admin_established(model, first)
    assert facts.admin_established(model, second)
    assert facts.has_user_param


def test_non_action_module_has_no_facts() -> None:
    facts = authorization_facts(model_of("import subprocess\nsubprocess.run(['a'])\n"))
    assert facts.findings == () and facts.flagged_calls == frozenset()


# --- debug-cfg -----------------------------------------------------------------------------


def test_debug_cfg_cli(tmp_path: Path) -> None:
    path = tmp_path / "admin_tool.py"
    path.write_text(
        textwrap.dedent(
            """
            import subprocess

            class Action:
                async def _run(self):
                    subprocess.run(["b"])

                async def action(self, body, __user__=None):
                    if __user__.get("role") != "admin":
                        return {"content": "no"}
                    subprocess.run(["a"])
                    await self._run()
            """
        ).lstrip("\n")
    )
    result = CliRunner().invoke(main, ["debug-cfg", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    out = result.output
    assert "Action.action (line 7)" in out
    assert (
        '1 test L8 __user__.get("role") != "admin"  [roles admin|user]  -> 2 (true), 3 (false)'
        in out
    )
    assert "2 stmt L9 return" in out and "[roles user]" in out
    assert "L10 `subprocess.run` in Action.action: admin established -> ok" in out
    assert "(1 more in helpers: use --all)" in out
    everything = CliRunner().invoke(main, ["debug-cfg", "--all", str(path)]).output
    assert "Action._run (line 4)" in everything
    assert "L5 `subprocess.run` in Action._run: admin established -> ok" in everything


def test_debug_cfg_cli_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def (:\n")
    result = CliRunner().invoke(main, ["debug-cfg", str(path)])
    assert result.exit_code == 2
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    result = CliRunner().invoke(main, ["debug-cfg", str(plain)])
    assert result.exit_code == 0 and "no `action` method" in result.output


@pytest.mark.parametrize("code", ["OWA301", "OWA302", "OWA303", "OWA304", "OWA305"])
def test_rules_have_enough_examples(code: str) -> None:
    from analyzer.registry import rule_by_code

    rule = rule_by_code(code)
    assert rule is not None
    assert len(rule.VALID) >= 6 and len(rule.INVALID) >= 6


# --- precision: typical community actions are clean -------------------------------------------

COMMUNITY = {
    "memory_saver": """
        from open_webui.models.memories import Memories
        from open_webui.models.users import Users

        class Action:
            async def action(self, body, __user__=None, __event_emitter__=None):
                user = Users.get_user_by_id(__user__["id"])
                content = body["messages"][-1]["content"]
                existing = await Memories.get_memories_by_user_id(user.id)
                if any(m.content == content for m in existing):
                    return
                await Memories.insert_new_memory(user.id, content)
                await __event_emitter__(
                    {"type": "notification", "data": {"type": "success", "content": "Saved"}}
                )
        """,
    "docx_export": """
        import os
        import shutil
        import subprocess
        import tempfile
        from pathlib import Path

        class Action:
            def __init__(self):
                self.tmp = Path(tempfile.gettempdir()) / "docx-export"

            async def action(self, body, __user__=None, __event_emitter__=None):
                name = (__user__ or {}).get("name", "user")
                out_dir = tempfile.mkdtemp()
                target = os.path.join(out_dir, f"{name}.md")
                with open(target, "w", encoding="utf-8") as handle:
                    handle.write(body["messages"][-1]["content"])
                shutil.copy(target, self.tmp / "last.md")
                shutil.rmtree(out_dir, ignore_errors=True)
                shutil.rmtree(self.tmp, ignore_errors=True)
                os.remove(self.tmp / "last.md")
        """,
    "image_to_library": """
        import base64
        import io
        import uuid
        from open_webui.models.files import FileForm, Files
        from open_webui.models.users import Users

        class Action:
            async def action(self, body, __user__=None, __request__=None, __event_emitter__=None):
                user = Users.get_user_by_id(__user__["id"])
                data = base64.b64decode(body["messages"][-1]["content"].split(",")[-1])
                file_id = str(uuid.uuid4())
                record = Files.insert_new_file(
                    user.id, FileForm(id=file_id, filename="image.png", path="", meta={})
                )
                Files.update_file_metadata_by_id(record.id, {"size": len(data)})
                url = __request__.app.url_path_for("get_file_content_by_id", id=record.id)
                await __event_emitter__({"type": "files", "data": {"files": [{"type": "image", "url": url}]}})
        """,
    "chat_titler": """
        from open_webui.models.chats import Chats

        class Action:
            async def action(self, body, __user__=None, __event_call__=None):
                chat_id = body.get("chat_id")
                chat = Chats.get_chat_by_id_and_user_id(chat_id, __user__["id"])
                if not chat:
                    return
                title = body["messages"][0]["content"][:40]
                Chats.update_chat_title_by_id(chat_id, title)
                Chats.upsert_message_to_chat_by_id_and_message_id(
                    chat_id, body["id"], {"content": body["messages"][-1]["content"]}
                )
        """,
    "summarizer": """
        import logging
        import requests
        from open_webui.main import generate_chat_completions
        from open_webui.models.users import Users

        log = logging.getLogger(__name__)

        class Action:
            class Valves:
                api_url: str = "https://api.example.com/v1/summarize"

            async def action(self, body, __user__=None, __request__=None, __event_emitter__=None):
                user = Users.get_user_by_id(__user__["id"])
                log.info("summarize for %s", __user__.get("id"))
                response = await generate_chat_completions(
                    __request__, {"model": body["model"], "messages": body["messages"]}, user=user
                )
                requests.post(self.valves.api_url, json={"text": str(response)}, timeout=30)
                config = __request__.app.state.config
                model = getattr(config, "TASK_MODEL", None)
                return {"content": f"{model}: {response}"}
        """,
}


@pytest.mark.parametrize("name", sorted(COMMUNITY))
def test_community_actions_are_clean(name: str) -> None:
    assert findings(COMMUNITY[name]) == set()


def test_gate_in_a_task_does_not_guard() -> None:
    assert findings(
        """
        import asyncio
        import subprocess

        class Action:
            async def _require_admin(self, user):
                if user["role"] != "admin":
                    raise PermissionError("no")

            async def action(self, body, __user__=None):
                asyncio.create_task(self._require_admin(__user__))
                subprocess.run(["a"])
                await self._require_admin(__user__)
                subprocess.run(["b"])
        """
    ) == {("OWA301", 11)}


def test_non_admin_branch_that_toggles_is_not_owa302() -> None:
    assert (
        findings(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    show_debug = True
                    options = ["copy", "delete"]
                    if __user__["role"] != "admin":
                        show_debug = False
                        options.remove("delete")
                    await self._notify(__event_emitter__, options)

                async def _notify(self, emit, options):
                    await emit({"type": "status", "data": {"description": str(options), "done": True}})
            """
        )
        == set()
    )


def test_data_layer_ownership_predicate() -> None:
    assert findings(
        """
        from open_webui.models.chats import Chats

        class Action:
            async def action(self, body, __user__=None):
                ref = body["messages"][-1]["content"].strip()
                if not await Chats.is_chat_owner(ref, __user__["id"]):
                    return {"content": "not yours"}
                await Chats.delete_chat_by_id(ref)
                chat = await Chats.get_chat_by_id(ref)
                other = await Chats.get_chat_by_id(body["other"])
                return {"content": chat.title + other.title}
        """
    ) == {("OWA305", 10)}
