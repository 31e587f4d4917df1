"""Reporters: pure functions from a finished run and rule metadata to text."""

from __future__ import annotations

from collections.abc import Callable

from analyzer.reporters.base import RunReport
from analyzer.reporters.github import render_github
from analyzer.reporters.json import render_json
from analyzer.reporters.sarif import render_sarif
from analyzer.reporters.text import TextOptions, render_text

__all__ = ["FORMATS", "RunReport", "TextOptions", "render_text"]

FORMATS: dict[str, Callable[[RunReport], str]] = {
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
