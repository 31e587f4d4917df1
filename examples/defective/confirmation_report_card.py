"""
title: Report Card
author: owui-lint examples
version: 0.2.0
description: Renders the last reply as an HTML card and attaches a chart. Its events and return value are malformed.
"""

import uuid

from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        chart_url: str = Field(default="https://charts.example.com/render", description="Chart service.")

    def __init__(self):
        self.valves = self.Valves()

    async def action(self, body: dict, __user__=None, __event_emitter__=None):
        last = body["messages"][-1]["content"]
        # OWA405: no `data` wrapper.
        await __event_emitter__({"type": "status", "description": "Rendering", "done": True})
        # OWA408: chat content pasted into HTML.
        await __event_emitter__({"type": "embeds", "data": {"embeds": [f"<div class='card'>{last}</div>"]}})
        # OWA501: a bare URL is not a files entry.
        await __event_emitter__({"type": "files", "data": {"files": [f"{self.valves.chart_url}?n={len(last)}"]}})
        if len(last) > 2000:
            # OWA502: a top-level `content` is ignored by the browser.
            return {"content": "Too long to render."}
        if body.get("as_page"):
            # OWA503: not marked inline, the user gets an error toast.
            return HTMLResponse(content="<h1>Report</h1>")
        # OWA504: the browser does not know this message id.
        return {"messages": [{"id": str(uuid.uuid4()), "content": "Rendered."}]}
