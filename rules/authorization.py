"""OWA3: authorization. Who clicked the button, and may they do what it does?

Every rule here reads one analysis, `analyzer.flow.guards.authorization_facts`: a
control-flow and dataflow analysis of `action` and of every module function it reaches
(see that module for the details). The rules only pick their findings from it.
"""

from __future__ import annotations

from analyzer.findings import Level
from analyzer.flow.guards import authorization_facts
from analyzer.rule import Invalid, LintRule, Valid


class _AuthorizationRule(LintRule):
    def check(self) -> None:
        facts = authorization_facts(self.module, self.settings)
        for finding in facts.findings_for(self.code):
            self.report(finding.node, finding.message)


class PrivilegedOpWithoutRoleCheck(_AuthorizationRule):
    """
    ## What it does
    Reports a privileged operation reachable from `action` on some path where the clicking
    user has not been shown to be an admin. Privileged operations are (catalog v1.2):
    Open WebUI data-layer writes that are not scoped to the clicking user
    (`Users.delete_user_by_id(other_id)`, `Users.update_user_role_by_id`, ...), bulk or
    cross-user reads (`Users.get_users`, `Chats.get_chats`, ...), process and code execution
    (`subprocess.*`, `os.system`, `eval`, `exec`), writes to `os.environ` or to
    `__request__.app.state.config`, HTTP calls to Open WebUI's admin API (`/api/v1/users`,
    `/api/v1/configs`, ...), and `shutil.rmtree` on a path not derived from `tempfile`.
    Add your own with `[tool.owui-lint.privileged] extra = ["mypkg.admin.nuke"]`.

    A role guard is a branch on the role that lets the path continue only for `"admin"`:
    `if __user__["role"] != "admin": return`, `if user.get("role") == "admin":`, through
    aliases (`user = __user__ or {}`, `role = user.get("role")`, `is_admin = role == "admin"`),
    `role in ("admin",)`, `if role == "user": return` (roles are only `user` and `admin`),
    `match role:`, and module helpers: predicates (`if not self._is_admin(__user__): return`)
    and gates that raise for non-admins (`self._require_admin(__user__)`). The analysis
    follows every path: a guard after the operation, on one branch only, or whose failing
    branch only logs does not count; `assert` never counts. An operation in a helper is
    reported at the operation, naming the call path from `action` that lacks the guard.

    Operations on the clicking user's own data (keyed by `__user__["id"]`, `body["chat_id"]`
    or a record read that way) are not privileged; a lookup by another id is OWA305's, and an
    action without `__user__` at all gets OWA303 instead.

    Calls made for you count as calls at the site that asks for them:
    `await asyncio.to_thread(Users.get_users)`, `loop.run_in_executor(None, f, x)`,
    `pool.submit(f, x)`, `functools.partial(f, x)`, and a lambda or nested function handed to
    them. Methods of the module's own classes are followed when the object's class is evident
    (`job = Backup()`, a factory method returning one, a parameter annotated with the class,
    `self.client = Client()`, `with Fetcher(...)`). Admin API routes match by their path
    segments after `/api/v1/`, whatever base URL precedes them and in their deeper or older
    forms (`/api/v1/images/image/config/update` is the images config route), a GET that
    reads admin configuration included. Code behind an impossible guard
    (`if role != "Admin": return`) is dead: only OWA302 reports there.

    ## Why is this bad?
    Open WebUI shows an action's button to every user who can use the model, and runs
    `action` for whoever clicks it. Without a role check, any user can delete accounts,
    read everyone's chats or run programs on the server (CWE-862).

    Calls owui-lint cannot see into (imported helpers, URLs built at run time) are not
    reported.

    ## Example
    ```python
    from open_webui.models.users import Users

    class Action:
        async def action(self, body, __user__=None):
            user_id = body["messages"][-1]["content"].strip()
            await Users.delete_user_by_id(user_id)
    ```

    ## Use instead
    ```python
    from open_webui.models.users import Users

    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None, __event_call__=None):
            if __user__["role"] != "admin":
                await __event_emitter__(
                    {"type": "notification", "data": {"type": "error", "content": "Only admins can remove users."}}
                )
                return
            user_id = body["messages"][-1]["content"].strip()
            answer = await __event_call__(
                {"type": "confirmation", "data": {"title": "Remove user", "message": user_id}}
            )
            if answer is True:
                await Users.delete_user_by_id(user_id)
    ```
    """

    code = "OWA301"
    name = "privileged-op-without-role-check"
    level = Level.ERROR
    security = True
    cwe = (862,)
    summary = "A privileged operation runs on a path with no `__user__['role'] == 'admin'` check."
    options = {"privileged.extra": "more privileged operations, by qualified name"}

    VALID = [
        Valid(
            '''
            """
            title: Remove User
            """
            from open_webui.models.users import Users


            class Action:
                def _is_admin(self, user: dict) -> bool:
                    return user.get("role") == "admin"

                async def action(self, body: dict, __user__=None, __event_emitter__=None):
                    if not self._is_admin(__user__):
                        await __event_emitter__(
                            {"type": "notification", "data": {"type": "error", "content": "Admins only"}}
                        )
                        return
                    target = body["messages"][-1]["content"].strip()
                    await Users.delete_user_by_id(target)
            '''
        ),
        Valid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    role = user.get("role", "user")
                    if role == "user":
                        return {"content": "Not allowed"}
                    out = subprocess.run(["df", "-h"], capture_output=True, text=True)
                    return {"content": out.stdout}
            """
        ),
        Valid(
            """
            import os
            import shutil
            import tempfile


            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    workdir = tempfile.mkdtemp(prefix="export-")
                    try:
                        path = os.path.join(workdir, "chat.md")
                        with open(path, "w") as handle:
                            handle.write(body["messages"][-1]["content"])
                    finally:
                        shutil.rmtree(workdir, ignore_errors=True)
                    with tempfile.TemporaryDirectory() as scratch:
                        shutil.rmtree(os.path.join(scratch, "pages"), ignore_errors=True)
                    os.remove(os.path.join("/app/backend/data/exports", "last.md"))
            """
        ),
        Valid(
            """
            from open_webui.models.chats import Chats
            from open_webui.models.memories import Memories


            class Action:
                async def action(self, body, __user__=None):
                    chat_id = body.get("chat_id")
                    await Chats.update_chat_title_by_id(chat_id, "Archived")
                    await Chats.delete_chat_by_id(chat_id)
                    await Memories.insert_new_memory(__user__["id"], body["messages"][-1]["content"])
                    for memory in await Memories.get_memories_by_user_id(__user__["id"]):
                        if "temp" in memory.content:
                            await Memories.delete_memory_by_id(memory.id)
            """
        ),
        Valid(
            """
            from open_webui.models.users import Users


            class Action:
                def _require_admin(self, user):
                    if user.get("role") != "admin":
                        raise PermissionError("admins only")

                async def action(self, body, __user__=None):
                    self._require_admin(__user__)
                    users = await Users.get_users()
                    return {"content": f"{len(users)} users"}
            """
        ),
        Valid(
            """
            import os


            class Action:
                async def action(self, body, __user__=None):
                    if not __user__:
                        return
                    match __user__.get("role"):
                        case "admin":
                            os.environ["OPENAI_BASE_URL"] = body["messages"][-1]["content"]
                        case _:
                            return {"content": "no"}
            """
        ),
        Valid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    role = __user__["role"]
                    if role != "Admin":
                        return
                    subprocess.run(["reboot"])
            """
        ),
        Valid(
            """
            import requests


            class Action:
                class Valves:
                    base_url: str = "http://localhost:8080"

                async def action(self, body, __user__=None):
                    is_admin = __user__.get("role") in ("admin",)
                    if is_admin and body.get("confirm"):
                        requests.post(f"{self.valves.base_url}/api/v1/configs/update", json={})
                    requests.get(f"{self.valves.base_url}/api/v1/users/user/settings")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    target = body["messages"][-1]["content"].strip()
                    await Users.delete_user_by_id(target)
                    await __event_emitter__({"type": "status", "data": {"description": "Removed", "done": True}})
            """,
            lines=(7,),
            message="`Users.delete_user_by_id` runs for every user who clicks",
        ),
        Invalid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    result = subprocess.run(["pandoc", "-o", "/tmp/out.docx"], input=body["messages"][-1]["content"], text=True)
                    if __user__["role"] != "admin":
                        return {"content": "admins only"}
                    return {"content": result.stdout}
            """,
            lines=(6,),
            message="`subprocess.run`",
        ),
        Invalid(
            """
            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    command = body["messages"][-1]["content"]
                    if command.startswith("/promote "):
                        if user.get("role") != "admin":
                            return
                        await Users.update_user_role_by_id(command.split()[1], "admin")
                    elif command.startswith("/list"):
                        users = await Users.get_users()
                        return {"content": ", ".join(u.email for u in users)}
            """,
            lines=(13,),
            message="`Users.get_users`",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def _wipe(self, owner_id: str) -> None:
                    await Chats.delete_chats_by_user_id(owner_id)

                async def action(self, body, __user__=None):
                    owner = body["messages"][-1]["content"].strip()
                    if __user__.get("role") == "admin":
                        await self._wipe(owner)
                    if body.get("also_archive"):
                        await self._wipe(owner)
            """,
            lines=(6,),
            message="(line 13 reaches it through `self._wipe`)",
        ),
        Invalid(
            """
            import logging
            import os

            log = logging.getLogger(__name__)


            class Action:
                async def action(self, body, __user__=None):
                    role = (__user__ or {}).get("role")
                    if role != "admin":
                        log.warning("non-admin %s changed the proxy", __user__["id"])
                    os.environ["HTTPS_PROXY"] = body["messages"][-1]["content"]
            """,
            lines=(12,),
            message="`os.environ[...]`",
        ),
        Invalid(
            """
            import shutil


            class Action:
                async def action(self, body, __user__=None, __request__=None):
                    assert __user__["role"] == "admin", "admins only"
                    __request__.app.state.config.ENABLE_SIGNUP = False
                    shutil.rmtree("/app/backend/data/cache")
            """,
            lines=(7, 8),
        ),
        Invalid(
            """
            import httpx
            from pydantic import BaseModel


            class Action:
                class Valves(BaseModel):
                    admin_token: str = ""
                    base_url: str = "http://localhost:8080"

                def __init__(self):
                    self.valves = self.Valves()

                async def action(self, body, __user__=None):
                    url = f"{self.valves.base_url}/api/v1/users/{body['messages'][-1]['content']}/delete"
                    async with httpx.AsyncClient() as client:
                        await client.delete(url, headers={"Authorization": f"Bearer {self.valves.admin_token}"})
            """,
            lines=(16,),
            message="admin API",
        ),
        Invalid(
            """
            from open_webui.models.files import Files


            class Action:
                async def _cleanup(self, file_ids):
                    for file_id in file_ids:
                        await Files.delete_file_by_id(file_id)

                async def action(self, body, __user__=None):
                    files = body["messages"][-1].get("files", [])
                    await self._cleanup([f["id"] for f in files])
            """,
            lines=(7,),
            message="line 11 reaches it through `self._cleanup`",
        ),
        Invalid(
            """
            import asyncio
            import functools

            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None):
                    loop = asyncio.get_running_loop()
                    everyone = await loop.run_in_executor(None, functools.partial(Users.get_users, limit=None))
                    return {"messages": [{"id": body["id"], "content": f"{len(everyone)} users"}]}
            """,
            lines=(10,),
            message="`Users.get_users` runs for every user who clicks",
        ),
        Invalid(
            """
            import aiohttp


            class Action:
                class Valves:
                    api_base_url: str = "http://localhost:8080"
                    admin_token: str = ""

                async def action(self, body, __user__=None):
                    url = f"{self.valves.api_base_url}/api/v1/images/image/config/update"
                    headers = {"Authorization": f"Bearer {self.valves.admin_token}"}
                    async with aiohttp.ClientSession() as session:
                        await session.post(url, json={"IMAGE_SIZE": "1024x1024"}, headers=headers)
            """,
            lines=(13,),
            message="POST `/api/v1/images/config`",
        ),
        Invalid(
            """
            import subprocess


            class _Backup:
                def run(self, target: str) -> None:
                    subprocess.run(["tar", "czf", target, "/app/backend/data"], check=True)


            class Action:
                def _backup(self) -> _Backup:
                    return _Backup()

                async def action(self, body, __user__=None):
                    job = self._backup()
                    job.run("/tmp/backup.tgz")
            """,
            lines=(6,),
            message="reaches it through `job.run`",
        ),
    ]


class IneffectiveRoleCheck(_AuthorizationRule):
    """
    ## What it does
    Reports a role test that cannot work: a comparison with a role Open WebUI never uses
    (`"pending"`, `"Admin"`, `"superuser"`, `"ADMIN"` without `.upper()`), a branch for
    non-admins that only logs or notifies and then carries on, and `assert` used as a role
    check.

    ## Why is this bad?
    Roles are only `"user"` and `"admin"` (pending users never reach an action). A test
    against another value is always false (or always true): `if role != "Admin": return`
    refuses everyone, admins included, and `if role == "pending": return` lets everyone
    through. A refusal that does not `return` or `raise` refuses nothing, and `assert` is
    removed by `python -O`. The code behind such a check is unprotected (OWA301 reports it)
    or dead.

    ## Example
    ```python
    class Action:
        async def action(self, body, __user__=None):
            if __user__["role"] == "pending":
                return
            assert __user__["role"] == "admin"
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            if __user__["role"] != "admin":
                await __event_emitter__(
                    {"type": "notification", "data": {"type": "error", "content": "Only admins can do this."}}
                )
                return
    ```
    """

    code = "OWA302"
    name = "ineffective-role-check"
    level = Level.WARNING
    security = True
    cwe = (863,)
    summary = "A role test that cannot work (unknown role, non-stopping refusal, `assert`)."

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    if __user__["role"] != "admin":
                        return {"content": "Admins only"}
                    return {"content": "ok"}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    role = (__user__ or {}).get("role", "user").lower()
                    if role == "user":
                        return
                    if role in ("admin",):
                        return {"content": "hello admin"}
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    if body.get("status") == "pending":
                        return
                    if __user__.get("role") != "admin":
                        await __event_emitter__({"type": "notification", "data": {"type": "error", "content": "No"}})
                        return
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    if __user__["role"] == "admin":
                        await __event_emitter__({"type": "status", "data": {"description": "admin mode", "done": True}})
                    return body
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    assert isinstance(body, dict)
                    if __user__["role"].upper() == "ADMIN":
                        return {"content": "admin"}
            """
        ),
        Valid(
            """
            class Action:
                def _is_admin(self, user):
                    if user.get("role") == "admin":
                        return True
                    return False

                async def action(self, body, __user__=None):
                    if not __user__ or not self._is_admin(__user__):
                        raise PermissionError("Only admins can use this button")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    if user.get("role") == "pending":
                        return {"content": "Your account is pending"}
                    return {"content": "ok"}
            """,
            lines=(4,),
            message='"pending"',
        ),
        Invalid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    if __user__["role"] != "Admin":
                        return
                    subprocess.run(["systemctl", "restart", "ollama"])
            """,
            lines=(6,),
            message='"Admin"',
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    role = __user__.get("role")
                    allowed = role in ("admin", "superuser")
                    if not allowed:
                        return
            """,
            lines=(4,),
            message='"superuser"',
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    assert __user__["role"] == "admin", "admins only"
                    return {"content": "done"}
            """,
            lines=(3,),
            message="`assert` is not a role check",
        ),
        Invalid(
            """
            import logging

            logger = logging.getLogger(__name__)


            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    if __user__.get("role") != "admin":
                        logger.warning("non-admin used the purge button")
                        await __event_emitter__({"type": "notification", "data": {"type": "warning", "content": "Admins only"}})
                    return {"content": "purged"}
            """,
            lines=(8,),
            message="only logs or notifies",
        ),
        Invalid(
            """
            class Action:
                def _is_admin(self, user):
                    return user["role"].upper() == "admin"

                async def action(self, body, __user__=None):
                    if not self._is_admin(__user__):
                        return
            """,
            lines=(3,),
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    match __user__.get("role"):
                        case "superadmin" | "admin":
                            return {"content": "welcome"}
                        case _:
                            return None
            """,
            lines=(4,),
            message="`case",
        ),
    ]


class RoleCheckImpossible(_AuthorizationRule):
    """
    ## What it does
    Reports a privileged operation (see OWA301) reachable from an `action` whose signature
    has no `__user__` parameter. It replaces OWA301 there: the fix starts with the signature.

    ## Why is this bad?
    Open WebUI passes `__user__` only when `action` declares it. Without it, the code cannot
    know who clicked, so it cannot check the role: the operation runs for every user.

    ## Example
    ```python
    import subprocess

    class Action:
        async def action(self, body):
            subprocess.run(["systemctl", "restart", "ollama"])
    ```

    ## Use instead
    ```python
    import asyncio

    class Action:
        async def action(self, body, __user__=None, __event_call__=None):
            if __user__["role"] != "admin":
                return
            answer = await __event_call__(
                {"type": "confirmation", "data": {"title": "Restart", "message": "Restart Ollama?"}}
            )
            if answer is True:
                await asyncio.create_subprocess_exec("systemctl", "restart", "ollama")
    ```
    """

    code = "OWA303"
    name = "role-check-impossible"
    level = Level.ERROR
    security = True
    cwe = (862,)
    summary = "A privileged operation in an `action` that does not take `__user__`."

    VALID = [
        Valid(
            """
            class Action:
                async def action(self, body, __event_emitter__=None):
                    text = body["messages"][-1]["content"]
                    await __event_emitter__({"type": "notification", "data": {"type": "info", "content": f"{len(text.split())} words"}})
            """
        ),
        Valid(
            """
            import shutil
            import tempfile
            from pathlib import Path


            class Action:
                async def action(self, body):
                    tmp = Path(tempfile.mkdtemp())
                    (tmp / "chat.txt").write_text(body["messages"][-1]["content"])
                    shutil.rmtree(tmp)
            """
        ),
        Valid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __event_emitter__=None):
                    await Chats.delete_chat_by_id(body["chat_id"])
            """
        ),
        Valid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    subprocess.run(["uptime"])
            """
        ),
        Valid(
            """
            import subprocess


            class Action:
                def maintenance(self):
                    subprocess.run(["vacuumdb", "--all"])

                async def action(self, body):
                    return body
            """
        ),
        Valid(
            """
            import subprocess


            class Action:
                async def action(self, body, __user__=None):
                    if __user__["role"] == "admin":
                        subprocess.run(["uptime"])
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import subprocess


            class Action:
                async def action(self, body, __event_emitter__=None):
                    subprocess.run(["systemctl", "restart", "ollama"], check=True)
            """,
            lines=(6,),
            message="has no `__user__` parameter",
        ),
        Invalid(
            """
            from open_webui.models.users import Users


            class Action:
                async def action(self, body):
                    users = await Users.get_users()
                    return {"content": "\\n".join(u.email for u in users)}
            """,
            lines=(6,),
            message="`Users.get_users`",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def _purge(self):
                    await Chats.delete_all_chats_by_folder()

                async def _reset(self, owner: str):
                    await Chats.delete_chats_by_user_id(owner)

                async def action(self, body):
                    await self._reset(body["messages"][-1]["content"])
            """,
            lines=(9,),
            message="line 12 reaches it through `self._reset`",
        ),
        Invalid(
            """
            import os


            class Action:
                async def action(self, body, __event_emitter__=None):
                    os.environ["OLLAMA_HOST"] = body["messages"][-1]["content"].strip()
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import requests


            class Action:
                class Valves:
                    token: str = ""

                async def action(self, body):
                    requests.post(
                        "http://localhost:8080/api/v1/configs/import",
                        headers={"Authorization": f"Bearer {self.valves.token}"},
                        json={"ENABLE_SIGNUP": True},
                    )
            """,
            lines=(9,),
            message="`/api/v1/configs`",
        ),
        Invalid(
            """
            import shutil


            class Action:
                async def action(self, body, __request__=None):
                    shutil.rmtree("/app/backend/data/uploads")
                    __request__.app.state.config.DEFAULT_MODELS = body["model"]
            """,
            lines=(6, 7),
        ),
    ]


class UserRecordLeak(_AuthorizationRule):
    """
    ## What it does
    Reports the whole `__user__` dict (or an alias of it, or `json.dumps` / `str` / an
    f-string of it) printed, logged, returned from `action`, sent over HTTP (`json=`,
    `data=`), or written into a message or an event. Single fields (`__user__["name"]`)
    are fine. Reported at the sink.

    ## Why is this bad?
    `__user__` is the full user record: email, OAuth data, and in `settings` the per-user
    valves of every plugin, including other plugins' secrets (CWE-359). Logs are read by
    admins and log collectors, HTTP payloads leave the server, and events and returned
    messages are stored in the chat.

    ## Example
    ```python
    class Action:
        async def action(self, body, __user__=None):
            print(f"action called by {__user__}")
    ```

    ## Use instead
    ```python
    class Action:
        async def action(self, body, __user__=None):
            print(f"action called by {__user__['id']}")
    ```
    """

    code = "OWA304"
    name = "user-record-leak"
    level = Level.WARNING
    security = True
    cwe = (359,)
    summary = "The whole `__user__` dict is logged, printed, returned, sent or written."

    VALID = [
        Valid(
            """
            import logging

            logger = logging.getLogger(__name__)


            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    logger.info("export requested by %s (%s)", user.get("name"), user.get("id"))
                    print(f"user {__user__['name']} exported a chat")
            """
        ),
        Valid(
            """
            import requests


            class Action:
                async def action(self, body, __user__=None):
                    requests.post(
                        "https://hooks.example.com/notify",
                        json={"user_id": __user__["id"], "text": body["messages"][-1]["content"]},
                        timeout=10,
                    )
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    name = __user__.get("name", "there")
                    await __event_emitter__({"type": "message", "data": {"content": f"Hello {name}!"}})
                    return body
            """
        ),
        Valid(
            """
            import json


            class Action:
                async def action(self, body, __user__=None):
                    valves = __user__.get("valves")
                    settings = json.dumps({"language": getattr(valves, "language", "en")})
                    print(settings)
                    print(sorted(__user__.keys()))
            """
        ),
        Valid(
            """
            class Action:
                def _greeting(self, user: dict) -> str:
                    return f"Hi {user.get('name')}"

                async def action(self, body, __user__=None):
                    body["messages"][-1]["content"] += "\\n\\n" + self._greeting(__user__)
                    return body
            """
        ),
        Valid(
            """
            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    if __user__ is None:
                        print("no user")
                    print("user" in body)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    print(f"Action triggered by {__user__}")
                    return body
            """,
            lines=(3,),
            message="printed to the server log",
        ),
        Invalid(
            """
            import logging

            log = logging.getLogger("summarizer")


            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    log.debug("request from %s", user)
                    return body
            """,
            lines=(9,),
            message="logged",
        ),
        Invalid(
            """
            import json


            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    await __event_emitter__(
                        {"type": "message", "data": {"content": "```json\\n" + json.dumps(__user__, indent=2) + "\\n```"}}
                    )
            """,
            lines=(6,),
            message="sent to the browser",
        ),
        Invalid(
            """
            import aiohttp


            class Action:
                async def action(self, body, __user__=None):
                    payload = {"user": __user__, "messages": body["messages"]}
                    async with aiohttp.ClientSession() as session:
                        async with session.post("https://analytics.example.com/track", json=payload) as resp:
                            await resp.text()
            """,
            lines=(8,),
            message="sent over HTTP",
        ),
        Invalid(
            """
            class Action:
                async def action(self, body, __user__=None):
                    return {"messages": body["messages"], "debug": {"user": __user__}}
            """,
            lines=(3,),
            message="returned from `action`",
        ),
        Invalid(
            """
            import logging


            class Action:
                def _audit(self, who, what):
                    logging.info("audit: %s did %s", who, what)

                async def action(self, body, __user__=None):
                    self._audit(__user__, "export")
                    self._audit(__user__["name"], "export")
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import json


            class Action:
                async def action(self, body, __user__=None):
                    body["messages"][-1]["content"] = json.dumps(__user__)
                    return body
            """,
            lines=(6,),
            message="written into the chat message",
        ),
    ]


class CrossUserAccess(_AuthorizationRule):
    """
    ## What it does
    Reports a chat, file or user looked up (read) by an id that does not come from
    `body["chat_id"]` or `__user__["id"]` (nor from the user's own records), when the result
    is used on a path with neither an ownership check (`chat.user_id == __user__["id"]`,
    `!=` then `return`) nor a role guard. It replaces OWA301 for that lookup; a *write*
    keyed by a foreign id is OWA301.

    ## Why is this bad?
    The route only checks that the user owns `body["chat_id"]`. Any other id (typed in the
    message, taken from `body`, from an attached file) is under the user's control: one
    user can read another user's chats, files or account by changing it (CWE-639, IDOR).

    Ids keep their origin through the module's helpers: parameters, return values and the
    items of returned dicts and tuples (`ctx = self._user_context(__user__)`, then
    `ctx["user_id"]`; `chat_id = self._chat_id(body)`, passed on into a nested function run
    by `asyncio.to_thread`). `__user__["id"]` and `body["chat_id"]` are never empty (the
    route requires both), so fallbacks after them (`body.get("chat_id") or ...`) are never
    taken. A lookup scoped by the clicking user's id (`Chats.get_chat_by_id_and_user_id(id=...,
    user_id=__user__["id"])`) is itself an ownership check.

    A lookup whose result goes straight into a helper the analysis cannot follow is still
    reported; an ownership check done inside another helper is not recognised.

    ## Example
    ```python
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __user__=None):
            chat = Chats.get_chat_by_id(body["messages"][-1]["content"].strip())
            return {"content": str(chat.chat)}
    ```

    ## Use instead
    ```python
    from open_webui.models.chats import Chats

    class Action:
        async def action(self, body, __user__=None, __event_emitter__=None):
            chat = await Chats.get_chat_by_id(body["messages"][-1]["content"].strip())
            if chat is None or chat.user_id != __user__["id"]:
                return
            await __event_emitter__({"type": "message", "data": {"content": str(chat.chat)}})
    ```
    """

    code = "OWA305"
    name = "cross-user-access"
    level = Level.ERROR
    security = True
    cwe = (639,)
    summary = "A chat, file or user is looked up by a user-controlled id with no ownership check."

    VALID = [
        Valid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __user__=None):
                    chat = await Chats.get_chat_by_id(body["chat_id"])
                    title = chat.title if chat else "Untitled"
                    return {"content": title}
            """
        ),
        Valid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __user__=None):
                    other_id = body["messages"][-1]["content"].strip()
                    chat = await Chats.get_chat_by_id(other_id)
                    if not chat or chat.user_id != __user__["id"]:
                        return {"content": "Chat not found"}
                    return {"content": chat.title}
            """
        ),
        Valid(
            """
            from open_webui.models.files import Files


            class Action:
                async def action(self, body, __user__=None):
                    user = __user__ or {}
                    for item in body["messages"][-1].get("files", []):
                        record = await Files.get_file_by_id_and_user_id(item["id"], user["id"])
                        if record:
                            print(record.filename)
            """
        ),
        Valid(
            """
            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None):
                    if __user__.get("role") != "admin":
                        return
                    email = body["messages"][-1]["content"].strip()
                    account = await Users.get_user_by_email(email)
                    return {"content": f"{account.name}: {account.role}"}
            """
        ),
        Valid(
            """
            from open_webui.models.users import UserModel, Users


            class Action:
                async def action(self, body, __user__=None):
                    me = await Users.get_user_by_id(__user__["id"])
                    current = UserModel(**__user__)
                    return {"content": f"{me.name} / {current.email}"}
            """
        ),
        Valid(
            """
            from open_webui.models.files import Files


            class Action:
                async def action(self, body, __user__=None):
                    file_id = body["messages"][-1]["files"][0]["id"]
                    record = await Files.get_file_by_id(file_id)
                    if record is None:
                        return
                    if record.user_id == __user__["id"]:
                        return {"content": record.meta.get("name")}
            """
        ),
        Valid(
            """
            import asyncio

            from open_webui.models.chats import Chats
            from open_webui.models.users import Users


            class Action:
                def _user_context(self, user):
                    data = user if isinstance(user, dict) else {}
                    return {"user_id": data.get("id", "anonymous"), "name": data.get("name", "")}

                def _chat_id(self, body):
                    chat_id = body.get("chat_id") or body.get("id")
                    return chat_id.strip() if isinstance(chat_id, str) else ""

                async def _title(self, chat_id, user_id):
                    def _load():
                        return Chats.get_chat_by_id_and_user_id(id=chat_id, user_id=user_id)

                    chat = await asyncio.to_thread(_load)
                    return chat.title if chat else ""

                async def action(self, body, __user__=None):
                    ctx = self._user_context(__user__)
                    me = await asyncio.to_thread(Users.get_user_by_id, ctx["user_id"])
                    title = await self._title(self._chat_id(body), ctx["user_id"])
                    return {"messages": [{"id": body["id"], "content": f"{me.name}: {title}"}]}
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __user__=None):
                    chat_id = body["messages"][-1]["content"].strip()
                    chat = await Chats.get_chat_by_id(chat_id)
                    return {"content": chat.chat["title"]}
            """,
            lines=(7,),
            message="`Chats.get_chat_by_id` looks up a chat",
        ),
        Invalid(
            """
            from open_webui.models.files import Files


            class Action:
                async def action(self, body, __user__=None, __event_emitter__=None):
                    for item in body["messages"][-1].get("files", []):
                        record = await Files.get_file_by_id(item["id"])
                        await __event_emitter__({"type": "message", "data": {"content": record.data.get("content", "")}})
            """,
            lines=(7,),
            message="looks up a file",
        ),
        Invalid(
            """
            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None):
                    email = body["messages"][-1]["content"].strip()
                    return {"content": str(await Users.get_user_by_email(email))}
            """,
            lines=(7,),
            message="looks up a user",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __user__=None):
                    owner = body.get("owner_id")
                    chats = await Chats.get_chats_by_user_id(owner)
                    return {"content": "\\n".join(c.title for c in chats)}
            """,
            lines=(7,),
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def _load(self, chat_id):
                    chat = await Chats.get_chat_by_id(chat_id)
                    return chat.chat

                async def action(self, body, __user__=None):
                    ref = body["messages"][-1]["content"].split("#")[-1]
                    return {"content": str(await self._load(ref))}
            """,
            lines=(6,),
            message="line 11 reaches it through `self._load`",
        ),
        Invalid(
            """
            from open_webui.models.chats import Chats


            class Action:
                async def action(self, body, __user__=None):
                    chat = await Chats.get_chat_by_id(body["messages"][-1]["content"])
                    summary = chat.chat.get("title", "")
                    if chat.user_id != __user__["id"]:
                        return {"content": "not yours"}
                    return {"content": summary}
            """,
            lines=(6,),
        ),
        Invalid(
            """
            import asyncio

            from open_webui.models.users import Users


            class Action:
                async def action(self, body, __user__=None):
                    mentioned = body["messages"][-1]["content"].split("@")[-1].strip()
                    user = await asyncio.to_thread(Users.get_user_by_id, mentioned)
                    return {"messages": [{"id": body["id"], "content": user.email}]}
            """,
            lines=(9,),
            message="`Users.get_user_by_id` looks up a user",
        ),
    ]
