"""GitHub Actions workflow commands: one annotation per finding."""

from __future__ import annotations

from analyzer.findings import Level
from analyzer.reporters.base import RunReport

_COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: RunReport) -> str:
    lines = []
    for f in report.findings:
        loc = f.location
        props = ",".join(
            [
                f"file={_prop(f.path)}",
                f"line={loc.line}",
                f"col={loc.column}",
                f"endLine={loc.end_line}",
                f"endColumn={loc.end_column}",
                f"title={_prop(f'{f.rule} {f.name}')}",
            ]
        )
        lines.append(f"::{_COMMAND[f.level]} {props}::{_data(f.message)}")
    return "".join(line + "\n" for line in lines)
