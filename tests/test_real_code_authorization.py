"""Authorization and reachability on the shapes real community actions take (issue 12).

Long modules with helpers, context dicts, classes and worker threads: provenance of ids
through helpers (item 2), calls made for you by `asyncio.to_thread`, `run_in_executor` and
`functools.partial` (item 4), admin API routes by path segments (item 5), methods reached
through objects (item 6), and dead code behind an impossible guard (item 10). Each case is
run with every rule, so "one root cause, one finding" and the rules' interplay are checked.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from analyzer.api import lint_text
from analyzer.config import Settings
from analyzer.engine import parse
from analyzer.findings import Confidence
from analyzer.flow.guards import authorization_facts
from analyzer.flow.privileged import admin_api_path
from analyzer.model import ActionModule, SourceFile

RULES = ("OWA112", "OWA204", "OWA205", "OWA301", "OWA302", "OWA303", "OWA305", "OWA401")


def findings(source: str) -> set[tuple[str, int]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(), path="t.py")
    assert not result.errors, result.errors
    return {(f.rule, f.location.line) for f in result.findings if f.rule in RULES}


def messages(source: str, code: str) -> list[str]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(), path="t.py")
    return [f.message for f in result.findings if f.rule == code]


def model_of(source: str) -> ActionModule:
    text = textwrap.dedent(source).lstrip("\n")
    module, index = parse(text)
    return ActionModule(SourceFile("t.py", text), module, index)


# --- item 2: provenance through helpers ----------------------------------------------------

EXPORTER = '''
"""
title: Export Chat to Markdown
description: Save the conversation as a Markdown file with its title
"""
import asyncio
import logging
from typing import Any, Dict, Optional

from open_webui.models.chats import Chats
from open_webui.models.users import Users
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


class Action:
    class Valves(BaseModel):
        title_source: str = Field(default="chat_title")

    def __init__(self):
        self.valves = self.Valves()

    async def _get_user_context(self, __user__: Optional[Dict[str, Any]]) -> Dict[str, str]:
        """Defensive: some deployments handed a list in old versions."""
        if isinstance(__user__, (list, tuple)):
            user_data = __user__[0] if __user__ else {}
        elif isinstance(__user__, dict):
            user_data = __user__
        else:
            user_data = {}
        return {
            "user_id": user_data.get("id", "unknown_user"),
            "user_name": user_data.get("name", "User"),
            "user_language": user_data.get("language", "en-US"),
        }

    def extract_chat_id(self, body: dict) -> str:
        if isinstance(body, dict):
            chat_id = body.get("chat_id") or body.get("id")
            if isinstance(chat_id, str) and chat_id.strip():
                return chat_id.strip()
            nested = body.get("chat")
            if isinstance(nested, dict) and nested.get("id"):
                return str(nested["id"])
        return ""

    async def fetch_chat_title(self, chat_id: str, user_id: str = "") -> str:
        if not chat_id:
            return ""

        def _load_chat():
            if user_id:
                chat = Chats.get_chat_by_id_and_user_id(id=chat_id, user_id=user_id)
                if chat:
                    return chat
            return Chats.get_chat_by_id(chat_id)

        try:
            chat = await asyncio.to_thread(_load_chat)
        except Exception as exc:
            log.warning("could not load chat %s: %s", chat_id, exc)
            return ""
        return (chat.title or "").strip() if chat else ""

    async def action(self, body, __user__=None, __event_emitter__=None, __request__=None):
        ctx = await self._get_user_context(__user__)
        user_id = ctx["user_id"]
        profile = Users.get_user_by_id(user_id)
        chat_id = self.extract_chat_id(body)
        title = await self.fetch_chat_title(chat_id, user_id)
        text = "\\n\\n".join(m.get("content", "") for m in body.get("messages", []))
        await __event_emitter__(
            {"type": "status", "data": {"description": f"Exported {title}", "done": True}}
        )
        return {"messages": [{"id": body["id"], "content": f"# {title}\\n\\n_by {profile.name}_\\n\\n{text}"}]}
'''


def test_ids_from_helpers_and_context_dicts_are_the_users_own() -> None:
    # `ctx["user_id"]` from a helper's dict, `chat_id` from a helper reading body["chat_id"],
    # passed on to a method and into a nested function run by asyncio.to_thread; a lookup
    # scoped by the user's id is an ownership check.
    assert findings(EXPORTER) == set()


def test_an_id_a_helper_reads_from_the_message_is_still_foreign() -> None:
    source = EXPORTER.replace(
        'chat_id = body.get("chat_id") or body.get("id")',
        'chat_id = body["messages"][-1]["content"].split("#")[-1]',
    )
    found = findings(source)
    assert ("OWA305", 56) in found, found  # `return Chats.get_chat_by_id(chat_id)`
    assert ("OWA305", 53) not in found  # scoped by the user's own id: an ownership check


def test_a_context_dict_whose_user_id_comes_from_the_message_is_foreign() -> None:
    source = EXPORTER.replace(
        '"user_id": user_data.get("id", "unknown_user"),',
        '"user_id": user_data.get("impersonate") or "",',
    )
    # Users.get_user_by_id(user_id), and the lookup "scoped" by that foreign id.
    assert findings(source) == {("OWA305", 68), ("OWA305", 53)}


def test_tuples_returned_by_helpers_keep_each_items_origin() -> None:
    source = """
        from open_webui.models.chats import Chats
        from open_webui.models.files import Files


        class Action:
            def _ids(self, body, user):
                return body.get("chat_id"), (user or {}).get("id")

            async def action(self, body, __user__=None):
                chat_id, owner = self._ids(body, __user__)
                chat = await Chats.get_chat_by_id(chat_id)
                files = await Files.get_files_by_user_id(owner)
                picked = body["messages"][-1]["content"]
                other = await Files.get_file_by_id(picked)
                return {"messages": [{"id": body["id"], "content": f"{chat.title} {len(files)} {other.filename}"}]}
    """
    assert findings(source) == {("OWA305", 14)}


def test_role_kept_in_a_context_dict_guards() -> None:
    source = """
        from open_webui.models.users import Users


        class Action:
            def _context(self, user: dict) -> dict:
                return {"id": user.get("id"), "role": user.get("role", "user")}

            async def action(self, body, __user__=None):
                ctx = self._context(__user__)
                if ctx["role"] != "admin":
                    return {"messages": [{"id": body["id"], "content": "Admins only."}]}
                users = await Users.get_users()
                return {"messages": [{"id": body["id"], "content": f"{len(users)} accounts"}]}
    """
    assert findings(source) == set()
    unguarded = source.replace('if ctx["role"] != "admin":', 'if not ctx["id"]:')
    assert findings(unguarded) == {("OWA301", 12)}


# --- item 4: calls made for you ------------------------------------------------------------

THREADED = '''
"""
title: Account Report
description: Summarise accounts and chats in a worker thread
"""
import asyncio
import functools
import subprocess

from open_webui.models.chats import Chats
from open_webui.models.users import Users


class Action:
    def _count_words(self, text: str) -> int:
        return len(text.split())

    async def action(self, body, __user__=None, __event_emitter__=None):
        loop = asyncio.get_running_loop()
        asked = body["messages"][-1]["content"].strip()
        everyone = await asyncio.to_thread(lambda: Users.get_users(limit=None))
        someone = await asyncio.to_thread(Users.get_user_by_id, asked)
        mine = await asyncio.to_thread(Users.get_user_by_id, __user__["id"])
        disk = await loop.run_in_executor(None, functools.partial(subprocess.run, ["df", "-h"]))
        await loop.run_in_executor(None, Chats.delete_chat_by_id, asked)
        words = await asyncio.to_thread(self._count_words, asked)
        return {"messages": [{"id": body["id"], "content": f"{everyone} {someone.name} {mine.name} {disk} {words}"}]}
'''


def test_calls_handed_to_threads_and_partials_are_calls_there() -> None:
    assert findings(THREADED) == {
        ("OWA301", 20),  # to_thread(lambda: Users.get_users(...))
        ("OWA305", 21),  # to_thread(Users.get_user_by_id, <id from the message>)
        ("OWA301", 23),  # run_in_executor(None, partial(subprocess.run, ...))
        ("OWA301", 24),  # run_in_executor(None, Chats.delete_chat_by_id, <foreign id>)
    }


def test_calls_made_for_you_are_reported_at_the_runner_with_the_target() -> None:
    found = messages(THREADED, "OWA301")
    assert any(m.startswith("`subprocess.run` runs for every user") for m in found), found
    assert any(m.startswith("`Chats.delete_chat_by_id`") for m in found), found


def test_a_role_guard_covers_calls_made_for_you() -> None:
    guarded = THREADED.replace(
        'asked = body["messages"][-1]["content"].strip()',
        'asked = body["messages"][-1]["content"].strip()\n'
        '        if __user__.get("role") != "admin":\n'
        "            return body",
    )
    # Admins only now: what is left is the missing confirmation before the process and
    # the delete (two lines lower).
    assert findings(guarded) == {("OWA401", 25), ("OWA401", 26)}


def test_own_data_deleted_in_a_thread_needs_confirmation_only() -> None:
    source = """
        import asyncio

        from open_webui.models.chats import Chats


        class Action:
            async def action(self, body, __user__=None, __event_call__=None):
                chat_id = body["chat_id"]
                await asyncio.to_thread(Chats.delete_chat_by_id, chat_id)
                answer = await __event_call__(
                    {"type": "confirmation", "data": {"title": "Delete?", "message": "Really?"}}
                )
                if answer is True:
                    await asyncio.get_running_loop().run_in_executor(
                        None, lambda: Chats.delete_chat_by_id(chat_id)
                    )
                return body
    """
    assert findings(source) == {("OWA401", 9)}


def test_deferred_call_facility() -> None:
    model = model_of(THREADED)
    shown = {}
    for call in model.index.under(model.module, cst.Call):
        deferred = model.deferred_call(call)
        if deferred is not None:
            line = model.position(call).start.line
            shown[line] = (deferred.kind, cst.Module([]).code_for_node(deferred.call))
            assert model.real_call(deferred.call) is call
    assert shown == {
        20: ("thread", "lambda: Users.get_users(limit=None)()"),
        21: ("thread", "Users.get_user_by_id(asked)"),
        22: ("thread", 'Users.get_user_by_id(__user__["id"])'),
        23: ("thread", 'subprocess.run(["df", "-h"])'),
        24: ("thread", "Chats.delete_chat_by_id(asked)"),
        25: ("thread", "self._count_words(asked)"),
    }


# --- item 5: admin API by route --------------------------------------------------------------

IMAGE_SETTINGS = '''
"""
title: Quick Image Settings
description: Change the image generation size and steps from the chat
"""
from typing import Any, Dict, Optional

import aiohttp
from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        api_base_url: str = Field(default="http://localhost:8080")
        admin_token: str = Field(default="", json_schema_extra={"input": {"type": "password"}})

    def __init__(self):
        self.valves = self.Valves()

    def _headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.valves.admin_token}"}

    async def _current(self, session: aiohttp.ClientSession) -> Optional[Dict[str, Any]]:
        url = f"{self.valves.api_base_url}/api/v1/images/image/config"
        async with session.get(url, headers=self._headers()) as response:
            return await response.json() if response.status == 200 else None

    async def _update(self, session: aiohttp.ClientSession, size: str) -> bool:
        update_url = f"{self.valves.api_base_url}/api/v1/images/image/config/update"
        async with session.post(update_url, json={"IMAGE_SIZE": size}, headers=self._headers()) as response:
            return response.status == 200

    async def _my_settings(self, session: aiohttp.ClientSession) -> Dict[str, Any]:
        url = self.valves.api_base_url.rstrip("/") + "/api/v1/users/user/settings"
        async with session.get(url, headers=self._headers()) as response:
            return await response.json()

    async def action(self, body, __user__=None, __event_emitter__=None):
        size = body["messages"][-1]["content"].strip()
        async with aiohttp.ClientSession() as session:
            before = await self._current(session)
            ok = await self._update(session, size)
            mine = await self._my_settings(session)
        return {"messages": [{"id": body["id"], "content": f"{before} -> {size}: {ok} {mine}"}]}
'''


def test_admin_routes_match_by_path_segments_whatever_the_base_url() -> None:
    # The GET that reads the admin image config and the POST that updates it, in their
    # deeper form (`/images/image/config`); the user's own settings are not admin API.
    assert findings(IMAGE_SETTINGS) == {("OWA301", 24), ("OWA301", 29)}


def test_admin_route_messages_name_the_route() -> None:
    found = messages(IMAGE_SETTINGS, "OWA301")
    assert found[0].startswith("GET `/api/v1/images/config` runs for every user"), found
    assert found[1].startswith("POST `/api/v1/images/config` runs for every user"), found


def test_admin_routes_behind_a_role_guard_are_fine() -> None:
    guarded = IMAGE_SETTINGS.replace(
        'size = body["messages"][-1]["content"].strip()',
        'if __user__["role"] != "admin":\n'
        '            return {"messages": [{"id": body["id"], "content": "Admins only."}]}\n'
        '        size = body["messages"][-1]["content"].strip()',
    )
    assert findings(guarded) == set()


def test_admin_route_matching() -> None:
    assert admin_api_path("{}/api/v1/images/image/config/update") == "/api/v1/images/config"
    assert admin_api_path("http://h/api/v1/configs/import") == "/api/v1/configs"
    assert admin_api_path("{}/api/v1/users/{}/update") == "/api/v1/users"
    assert admin_api_path("{}/api/v1/users/user/settings/update") is None
    assert admin_api_path("{}/api/v1/images/generations") is None
    assert admin_api_path("{}/api/v1/auths/signin") is None
    assert admin_api_path("{}/api/v1/retrieval/query/doc") is None
    assert admin_api_path("{}/api/v1/models?id=x") == "/api/v1/models"


def test_admin_route_through_urljoin() -> None:
    source = """
        from urllib.parse import urljoin

        import requests


        class Action:
            class Valves:
                base_url: str = "http://localhost:8080"

            async def action(self, body, __user__=None):
                url = urljoin(self.valves.base_url, "/api/v1/configs/import")
                requests.post(url, json={"ENABLE_SIGNUP": True}, timeout=10)
    """
    assert ("OWA301", 12) in findings(source)


# --- item 6: reachability through objects ----------------------------------------------------

OBJECTS = '''
"""
title: Export with Template
description: Build a document from a template downloaded by a helper class
"""
import os
import subprocess
import tempfile
import urllib.request
from typing import Optional

from pydantic import BaseModel, Field


class _TemplateFetcher:
    def __init__(self, url: str, timeout: int):
        self.url = url
        self.timeout = timeout

    def download(self) -> bytes:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
            return response.read()


class _ScratchFile:
    def __init__(self, data: bytes):
        self.data = data
        self.path: Optional[str] = None

    def __enter__(self) -> str:
        fd, self.path = tempfile.mkstemp(suffix=".docx")
        os.write(fd, self.data)
        os.close(fd)
        return self.path

    def __exit__(self, *exc) -> None:
        if self.path:
            os.remove(self.path)


class _Converter:
    def to_pdf(self, path: str) -> None:
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", path], check=True)


class Action:
    class Valves(BaseModel):
        template_url: str = Field(default="https://example.com/template.docx")

    def __init__(self):
        self.valves = self.Valves()
        self.converter: Optional[_Converter] = None

    def _fetcher(self) -> "_TemplateFetcher":
        return _TemplateFetcher(self.valves.template_url, 10)

    def _convert(self, converter: _Converter, path: str) -> None:
        converter.to_pdf(path)

    async def action(self, body, __user__=None, __event_emitter__=None):
        manager = self._fetcher()
        data = manager.download()
        if self.converter is None:
            self.converter = _Converter()
        with _ScratchFile(data) as path:
            self._convert(self.converter, path)
        return {"messages": [{"id": body["id"], "content": "Exported."}]}
'''


def test_methods_reached_through_factories_annotations_and_with_are_reachable() -> None:
    assert findings(OBJECTS) == {
        ("OWA112", 20),  # urlopen in _TemplateFetcher.download (manager from a factory)
        ("OWA112", 42),  # subprocess.run in _Converter.to_pdf (annotated parameter) ...
        ("OWA301", 42),  # ... for every user (OWA401 stays silent: the role check first)
    }


def test_with_runs_enter_and_exit_of_a_module_class() -> None:
    model = model_of(OBJECTS)
    assert {"_ScratchFile.__enter__", "_ScratchFile.__exit__", "_TemplateFetcher.download"} <= set(
        model.reachable
    )
    hint = messages(OBJECTS, "OWA112")
    assert all("to_thread(_ScratchFile" not in m for m in hint)


def test_object_reached_only_through_a_thread_does_not_block() -> None:
    threaded = OBJECTS.replace(
        "data = manager.download()", "data = await asyncio.to_thread(manager.download)"
    ).replace("import os\n", "import asyncio\nimport os\n")
    assert ("OWA112", 21) not in findings(threaded)


# --- item 10: dead code behind an impossible guard ------------------------------------------

DEAD = '''
"""
title: Unload Models
description: Free GPU memory by unloading every running model
"""
import subprocess
import time

import requests
from open_webui.models.chats import Chats


class Action:
    def _unload(self, name: str) -> None:
        requests.post("http://localhost:11434/api/generate", json={"model": name, "keep_alive": 0}, timeout=10)
        time.sleep(1)

    async def _purge(self, chat_id: str) -> None:
        await Chats.delete_chat_by_id(chat_id)

    async def action(self, body, __user__=None, __event_emitter__=None):
        role = (__user__ or {}).get("role", "user")
        if role != "Admin":
            return {"messages": [{"id": body["id"], "content": "Only admins can unload models."}]}
        running = requests.get("http://localhost:11434/api/ps", timeout=5).json()
        for model in running.get("models", []):
            self._unload(model["name"])
        subprocess.run(["nvidia-smi"], check=False)
        await self._purge(body["chat_id"])
        return {"messages": [{"id": body["id"], "content": "Done."}]}
'''


def test_dead_code_behind_an_impossible_guard_gets_only_owa302() -> None:
    assert findings(DEAD) == {("OWA302", 22)}


def test_the_same_code_behind_a_working_guard_is_reported_by_the_other_rules() -> None:
    working = DEAD.replace('if role != "Admin":', 'if role != "admin":')
    assert findings(working) == {
        ("OWA112", 14),
        ("OWA112", 15),
        ("OWA112", 24),
        ("OWA112", 27),
        ("OWA401", 18),
        ("OWA401", 27),
    }


def test_is_dead_knows_helpers_only_dead_code_calls() -> None:
    model = model_of(DEAD)
    facts = authorization_facts(model)
    calls = {model.position(c).start.line: c for c in model.index.under(model.module, cst.Call)}
    assert facts.is_dead(model, calls[14])  # in _unload, called only from dead code
    assert facts.is_dead(model, calls[27])
    assert not facts.is_dead(model, calls[21])  # before the guard


# --- item 7: secret names ----------------------------------------------------------------------


def test_vendor_key_names_are_secrets_at_medium_confidence() -> None:
    source = '''
        """
        title: Chart It
        description: Draw a chart of the numbers in the reply
        """
        from pydantic import BaseModel, Field


        class Action:
            class Valves(BaseModel):
                OPENAI_KEY: str = Field(default="", description="OpenAI key")
                serper_key: str = "c0ffee-c0ffee"
                sort_key: str = Field(default="date")
                cache_key: str = Field(default="charts")
                shortcut_key: str = Field(default="ctrl+k")
                api_key: str = Field(default="", json_schema_extra={"input": {"type": "password"}})

            def __init__(self):
                self.valves = self.Valves()

            async def action(self, body):
                return body
    '''
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(), path="t.py")
    found = {(f.rule, f.location.line, f.confidence) for f in result.findings if f.rule in RULES}
    assert found == {
        ("OWA205", 10, Confidence.MEDIUM),
        ("OWA204", 11, Confidence.MEDIUM),
        ("OWA205", 11, Confidence.MEDIUM),
    }


def test_a_partial_called_on_the_event_loop_blocks_it() -> None:
    source = """
        import asyncio
        import functools

        import requests


        class Action:
            async def action(self, body, __user__=None):
                fetch = functools.partial(requests.get, "https://example.com/feed", timeout=10)
                page = fetch()
                loop = asyncio.get_running_loop()
                again = await loop.run_in_executor(None, functools.partial(requests.get, "https://example.com"))
                third = await asyncio.to_thread(requests.get, "https://example.com", timeout=10)
                return {"messages": [{"id": body["id"], "content": page.text + again.text + third.text}]}
    """
    assert findings(source) == {("OWA112", 9)}
    assert "`await asyncio.to_thread(requests.get, ...)`" in messages(source, "OWA112")[0]


def test_risky_operations_in_methods_of_module_classes_need_confirmation() -> None:
    source = """
        from open_webui.models.chats import Chats


        class ChatStore:
            def __init__(self, label: str):
                self.label = label

            async def wipe(self, chat_id: str) -> None:
                await Chats.delete_chat_by_id(chat_id)


        class Action:
            def _store_for(self, body: dict) -> ChatStore:
                return ChatStore(body.get("model", ""))

            async def action(self, body, __user__=None, __event_call__=None):
                store = self._store_for(body)
                await store.wipe(body["chat_id"])
                return body
    """
    # The user's own chat (body["chat_id"]): no role needed, but a confirmation is.
    assert findings(source) == {("OWA401", 9)}


def test_thread_targets_are_calls_with_their_args() -> None:
    source = """
        import threading

        from open_webui.models.users import Users


        class Action:
            async def action(self, body, __user__=None):
                victim = body["messages"][-1]["content"].strip()
                worker = threading.Thread(target=Users.delete_user_by_id, args=(victim,), daemon=True)
                worker.start()
                mine = threading.Thread(target=Users.update_user_by_id, kwargs={"id": __user__["id"], "updated": {}})
                mine.start()
                return body
    """
    assert findings(source) == {("OWA301", 9), ("OWA401", 11)}


def test_posting_ones_own_settings_is_not_an_admin_api_write() -> None:
    source = """
        import aiohttp


        class Action:
            class Valves:
                api_base_url: str = "http://localhost:8080"
                auth_token: str = ""

            async def action(self, body, __user__=None, __event_call__=None):
                voice = body["messages"][-1]["content"].strip()
                headers = {"Authorization": f"Bearer {self.valves.auth_token}"}
                url = f"{self.valves.api_base_url}/api/v1/users/user/settings/update"
                async with aiohttp.ClientSession() as session:
                    await session.post(url, json={"audio": {"tts": {"voice": voice}}}, headers=headers)
                    await session.post(f"{self.valves.api_base_url}/api/v1/configs/import", json={}, headers=headers)
                return body
    """
    # Only the second post is an admin-API call (and OWA301 comes before OWA401).
    assert findings(source) == {("OWA301", 15)}


def test_helpers_returning_nested_context_dicts_finish_and_keep_the_id() -> None:
    source = """
        from open_webui.models.users import Users


        class Action:
            def _ctx(self, user, depth):
                if depth <= 0:
                    return {"id": user["id"]}
                return {"id": user["id"], "parent": self._ctx(user, depth - 1)}

            async def action(self, body, __user__=None):
                ctx = {"id": __user__["id"]}
                for _ in range(5):
                    ctx = {"id": __user__["id"], "prev": ctx}
                me = Users.get_user_by_id(ctx["id"])
                top = Users.get_user_by_id(self._ctx(__user__, 3)["id"])
                return {"messages": [{"id": body["id"], "content": f"{me.name} {top.name}"}]}
    """
    assert findings(source) == set()
