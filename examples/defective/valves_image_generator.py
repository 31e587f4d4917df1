"""
title: Image Generator
author: owui-lint examples
version: 0.4.0
description: Turns the clicked reply into an image. Its Valves break Open WebUI's contract.
"""

from typing import Optional

import aiohttp
from pydantic import BaseModel, Field


class Action:
    # OWA207: ignored, buttons are ordered by Valves.priority
    priority = 2

    class Valves(BaseModel):
        # OWA204 + OWA205: a real-looking key in the source, shown in clear text
        openai_api_key: str = Field(
            default="sk-proj-Q3v9Lr2mXk7Tz4Wb8Nc1Hd6Fj0Ps5Ya2Ge7Ku",
            description="OpenAI API key",
        )
        # OWA202: Optional alone is not a default in pydantic 2
        organization: Optional[str]
        model: str = Field(default="dall-e-3")

    class UserValves(BaseModel):
        size: str = Field(default="1024x1024", description="Image size")
        style: str = Field(default="vivid", description="vivid or natural")

    def __init__(self):
        self.valves = self.Valves()

    def _payload(self, prompt: str, user_valves) -> dict:
        # OWA206: the UserValves object is a pydantic model, not a dict
        return {
            "model": self.valves.model,
            "prompt": prompt,
            "size": user_valves.get("size", "1024x1024"),
            "style": user_valves["style"],
        }

    async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
        user = __user__ or {}
        payload = self._payload(body["messages"][-1]["content"], user.get("valves"))
        await __event_emitter__(
            {"type": "status", "data": {"description": "Generating image…", "done": False}}
        )
        async with aiohttp.ClientSession() as session:
            async with session.post(
                "https://api.openai.com/v1/images/generations",
                headers={"Authorization": f"Bearer {self.valves.openai_api_key}"},
                json=payload,
            ) as response:
                url = (await response.json())["data"][0]["url"]
        await __event_emitter__(
            {"type": "status", "data": {"description": "Image ready", "done": True}}
        )
        return {"messages": [{"id": body["id"], "content": f"![image]({url})"}]}
