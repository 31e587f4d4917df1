"""
title: Export chat to Markdown
description: Saves the conversation as a Markdown file on the server and offers it for download
requirements: markdown==3.6, --extra-index-url https://packages.example.net/simple
version: 0.3.0
"""

import asyncio
import logging
import os

import requests
from open_webui.models.users import Users
from pydantic import BaseModel, Field

# Bug (OWA607): reconfigures logging for the whole Open WebUI server at every load.
logging.basicConfig(level=logging.DEBUG)
log = logging.getLogger(__name__)

EXPORT_DIR = "/app/backend/data/exports"


class Action:
    class Valves(BaseModel):
        webhook_url: str = Field(default="", description="Optional URL notified after export")

    class UserValves(BaseModel):
        mirror_url: str = Field(default="", description="Also upload the file to this URL")

    def __init__(self):
        self.valves = self.Valves()

    async def _status(self, text: str, done: bool = False) -> None:
        await self.emitter({"type": "status", "data": {"description": text, "done": done}})

    async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
        # Bug (OWA605): one instance serves every user; a concurrent click overwrites it.
        self.emitter = __event_emitter__
        await self._status("Exporting…")
        # Bug (OWA604): the data layer is async; this thread only creates a coroutine.
        user = await asyncio.to_thread(Users.get_user_by_id, __user__["id"])
        title = body.get("title") or "chat"
        # Bug (OWA601): `title` comes from the client; "../" escapes the export directory.
        path = os.path.join(EXPORT_DIR, f"{title}.md")
        with open(path, "w", encoding="utf-8") as fh:
            for message in body["messages"]:
                fh.write(f"**{message['role']}**: {message['content']}\n\n")
        mirror = __user__["valves"].mirror_url
        if mirror:
            # Bug (OWA606): any user makes the server call any host (SSRF).
            with open(path, "rb") as fh:
                await asyncio.to_thread(requests.post, mirror, data=fh.read(), timeout=30)
        log.info("exported %s for %s", path, getattr(user, "name", "?"))
        await self._status("Exported", done=True)
        return body
