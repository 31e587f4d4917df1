"""
title: "Image Generator"
description: Turns the clicked reply into an image
requirements: [requests, pillow]
version: 0.4.1
"""

import base64
import time

import requests
from pydantic import BaseModel, Field


class Action:
    actions = [
        {"id": "image.square", "name": "Square image"},
        {"id": "image.wide", "name": "Wide image"},
    ]

    class Valves(BaseModel):
        api_url: str = Field(
            default="https://images.example.com/v1/generate", description="Image API endpoint"
        )

    def __init__(self):
        self.valves = self.Valves()

    def _status(self, emitter, text: str, done: bool = False) -> None:
        # Bug: the emitter is a coroutine function; calling it without await sends nothing.
        emitter({"type": "status", "data": {"description": text, "done": done}})

    def _generate(self, prompt: str, size: str) -> bytes:
        job = requests.post(self.valves.api_url, json={"prompt": prompt, "size": size}, timeout=30)
        while job.json().get("state") != "done":
            time.sleep(2)
            job = requests.get(job.json()["poll_url"], timeout=30)
        return base64.b64decode(job.json()["image"])

    async def action(self, body: dict, __id__=None, __event_emitter__=None, **kwargs) -> dict:
        user = kwargs.get("__user__") or {}
        size = "1792x1024" if (__id__ or "").endswith("wide") else "1024x1024"
        self._status(__event_emitter__, f"Drawing for {user.get('name', 'you')}…")
        png = self._generate(body["messages"][-1]["content"], size)
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        await __event_emitter__(
            {"type": "files", "data": {"files": [{"type": "image", "url": url}]}}
        )
        self._status(__event_emitter__, "Done", done=True)
        return {"messages": [{"id": body["id"], "content": body["messages"][-1]["content"]}]}
