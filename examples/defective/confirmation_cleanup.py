"""
title: Clean Up Chat
author: owui-lint examples
version: 0.4.0
description: Renames the chat, copies the title to the clipboard and deletes the chat's memories after asking. Full of confirmation and event mistakes.
"""

from open_webui.models.chats import Chats
from open_webui.models.memories import Memories
from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        priority: int = Field(default=0, description="Button order.")

    def __init__(self):
        self.valves = self.Valves()

    async def action(self, body: dict, __user__=None, __event_emitter__=None, __event_call__=None):
        user = __user__ or {}
        await __event_emitter__({"type": "status", "data": {"description": "Cleaning up…", "done": False}})

        # OWA404: Cancel returns False, not None; `.strip()` then raises.
        title = await __event_call__({"type": "input", "data": {"title": "Rename", "message": "New title"}})
        if title is None:
            title = "Untitled"
        await Chats.update_chat_title_by_id(body["chat_id"], title.strip())

        # OWA406: the title is pasted into JavaScript source.
        await __event_call__({"type": "execute", "data": {"code": f"navigator.clipboard.writeText('{title}')"}})

        # OWA402: a timed-out dialog returns a truthy {"error": ...} dict.
        confirmed = await __event_call__(
            {"type": "confirmation", "data": {"title": "Forget", "message": "Delete all your memories?"}}
        )
        if not confirmed:
            # OWA407: the status above keeps spinning.
            return None
        await Memories.delete_memories_by_user_id(user["id"])
        await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
        return {"messages": [{"id": body["id"], "content": "Cleaned up."}]}
