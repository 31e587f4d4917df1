"""
title: Export Chat to Markdown
author: owui-lint examples
version: 1.2.0
description: Adds the conversation as a Markdown file to the clicked message.
license: MIT
"""

import base64
from datetime import datetime, timezone

from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        priority: int = Field(default=0, description="Button order (lower comes first).")
        include_timestamps: bool = Field(
            default=True, description="Prefix each message with its time."
        )

    class UserValves(BaseModel):
        heading: str = Field(default="Chat export", description="Title of the exported file.")

    def __init__(self):
        self.valves = self.Valves()

    def _render(self, body: dict, heading: str) -> str:
        lines = [f"# {heading}", ""]
        for message in body.get("messages", []):
            prefix = ""
            if self.valves.include_timestamps and message.get("timestamp"):
                when = datetime.fromtimestamp(message["timestamp"], tz=timezone.utc)
                prefix = f"_{when:%Y-%m-%d %H:%M}_ "
            lines.append(f"**{message.get('role', 'user')}**: {prefix}{message.get('content', '')}")
            lines.append("")
        return "\n".join(lines)

    async def action(
        self,
        body: dict,
        __user__=None,
        __event_emitter__=None,
    ) -> dict:
        await __event_emitter__(
            {"type": "status", "data": {"description": "Exporting chat…", "done": False}}
        )
        user_valves = (__user__ or {}).get("valves")
        heading = user_valves.heading if user_valves else "Chat export"
        markdown = self._render(body, heading)
        encoded = base64.b64encode(markdown.encode("utf-8")).decode("ascii")
        await __event_emitter__(
            {
                "type": "files",
                "data": {
                    "files": [
                        {
                            "type": "file",
                            "name": "chat.md",
                            "url": f"data:text/markdown;base64,{encoded}",
                        }
                    ]
                },
            }
        )
        await __event_emitter__(
            {"type": "status", "data": {"description": "Export ready", "done": True}}
        )
        return {"messages": [{"id": body["id"], "content": body["messages"][-1]["content"]}]}
