"""
title: Admin Tools
author: owui-lint examples
version: 0.4.0
description: Chat commands for user management and maintenance (with authorization defects).
"""

import logging
import shutil
import subprocess

from open_webui.models.chats import Chats
from open_webui.models.users import Users
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


class Action:
    class Valves(BaseModel):
        cache_dir: str = Field(default="/app/backend/data/cache", description="Cache to clear.")

    def __init__(self):
        self.valves = self.Valves()

    def _is_admin(self, user: dict) -> bool:
        # OWA302: "Admin" never matches; roles are only "user" and "admin".
        return user.get("role") == "Admin"

    async def _purge(self, user_id: str) -> None:
        # OWA301: reached from line 48 without a role check.
        await Users.delete_user_by_id(user_id)

    async def action(self, body: dict, __user__=None, __event_emitter__=None):
        user = __user__ or {}
        # OWA304: the whole user record goes to the log.
        log.info("admin tools used by %s", user)
        command = body["messages"][-1]["content"].strip()

        if command.startswith("/show "):
            # OWA305: any user can read any chat by id.
            chat = await Chats.get_chat_by_id(command.split()[1])
            return {"content": chat.title}

        if command.startswith("/purge "):
            if user.get("role") != "admin":
                log.warning("non-admin tried /purge")  # OWA302: does not stop the path
            await self._purge(command.split()[1])

        if command == "/clear-cache":
            assert user.get("role") == "admin"  # OWA302: assert is no guard
            shutil.rmtree(self.valves.cache_dir)  # OWA301

        if command == "/restart":
            if not self._is_admin(user):
                return {"content": "Admins only."}
            subprocess.run(["systemctl", "restart", "ollama"])  # dead: the test never passes
        return {"content": "Unknown command"}
