"""Reporters: pure functions from a finished run and rule metadata to text.

The SARIF reporter (sarif-om and attrs) is imported only when that format is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.reporters.base import RunReport
from analyzer.reporters.github import render_github
from analyzer.reporters.json import render_json
from analyzer.reporters.text import TextOptions, render_text

__all__ = ["FORMATS", "RunReport", "TextOptions", "render_text"]


def render_sarif(report: RunReport) -> str:
    from analyzer.reporters.sarif import render_sarif

    return render_sarif(report)


FORMATS: dict[str, Callable[[RunReport], str]] = {
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
