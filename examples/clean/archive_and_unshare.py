"""
title: Archive and Unshare
author: owui-lint examples
version: 1.0.0
description: Admins only. Attaches the chat transcript as a file, then removes the chat's public share link after confirmation.
license: MIT
"""

import base64
from datetime import datetime, timezone

from open_webui.models.chats import Chats
from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        priority: int = Field(default=10, description="Button order (lower comes first).")

    def __init__(self):
        self.valves = self.Valves()

    async def _status(self, emitter, description: str, done: bool = False) -> None:
        await emitter({"type": "status", "data": {"description": description, "done": done}})

    async def _confirm(self, ask, title: str, message: str) -> bool:
        # `__event_call__` returns True (confirm), False (cancel) or, on timeout or a closed
        # tab, a truthy {"error": ...} dict: only `is True` means the user said yes.
        answer = await ask({"type": "confirmation", "data": {"title": title, "message": message}})
        return answer is True

    def _transcript(self, body: dict) -> str:
        stamp = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [f"# Chat archive ({stamp})", ""]
        for message in body.get("messages", []):
            lines.append(f"**{message.get('role', 'user')}**: {message.get('content', '')}")
            lines.append("")
        return "\n".join(lines)

    async def action(
        self,
        body: dict,
        __user__=None,
        __event_emitter__=None,
        __event_call__=None,
    ) -> dict | None:
        user = __user__ or {}
        if user.get("role") != "admin":
            await __event_emitter__(
                {
                    "type": "notification",
                    "data": {"type": "warning", "content": "Only admins can archive chats."},
                }
            )
            return None

        await self._status(__event_emitter__, "Archiving the transcript…")
        encoded = base64.b64encode(self._transcript(body).encode("utf-8")).decode("ascii")
        await __event_emitter__(
            {
                "type": "files",
                "data": {
                    "files": [
                        {
                            "type": "file",
                            "name": "transcript.md",
                            "url": f"data:text/markdown;base64,{encoded}",
                        }
                    ]
                },
            }
        )

        if not await self._confirm(
            __event_call__,
            "Remove the share link?",
            "Anyone with the link will lose access. The chat itself is kept.",
        ):
            await self._status(__event_emitter__, "Archived; share link kept", done=True)
            return None

        await Chats.delete_shared_chat_by_chat_id(body["chat_id"])
        await self._status(__event_emitter__, "Archived and unshared", done=True)
        last = body["messages"][-1]
        return {
            "messages": [
                {"id": body["id"], "content": last["content"] + "\n\n_Archived; share link removed._"}
            ]
        }
