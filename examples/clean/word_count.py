"""
title: Word Count
author: owui-lint examples
version: 0.3.0
description: Shows how many words and characters the clicked reply has.
"""

from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        priority: int = Field(default=5, description="Button order.")
        words_per_minute: int = Field(default=200, description="Reading speed for the estimate.")

    def __init__(self):
        self.valves = self.Valves()

    async def action(self, body: dict, __event_emitter__=None) -> None:
        text = body["messages"][-1].get("content", "")
        words = len(text.split())
        minutes = max(1, round(words / max(1, self.valves.words_per_minute)))
        await __event_emitter__(
            {
                "type": "notification",
                "data": {
                    "type": "info",
                    "content": f"{words} words, {len(text)} characters, about {minutes} min to read",
                },
            }
        )
