"""
title: Echo Button
description: Meant to repeat the last reply, but the method has the wrong name.
"""

from pydantic import BaseModel


class Action:
    class Valves(BaseModel):
        api_key: str = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"

    def __init__(self):
        self.valves = self.Valves()

    async def run(self, body: dict) -> dict:
        return body
