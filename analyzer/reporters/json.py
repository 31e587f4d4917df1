"""The JSON contract other tools rely on: keep its shape exact."""

from __future__ import annotations

import json
from typing import Any

from analyzer.findings import Finding
from analyzer.reporters.base import TOOL_NAME, RunReport


def finding_dict(f: Finding) -> dict[str, Any]:
    loc = f.location
    return {
        "rule": f.rule,
        "name": f.name,
        "level": f.level.value,
        "confidence": f.confidence.value,
        "path": f.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line,
        "end_column": loc.end_column,
        "message": f.message,
        "fingerprint": f.fingerprint,
    }


def render_json(report: RunReport) -> str:
    document = {
        "tool": {"name": TOOL_NAME, "version": report.version},
        "summary": {
            "files": report.files,
            "actions": report.actions,
            "skipped": report.skipped,
            "not_analysed": report.not_analysed,
            "unreadable": report.unreadable,
            "findings": len(report.findings),
            "by_rule": report.by_rule(),
        },
        "findings": [finding_dict(f) for f in report.findings],
    }
    if report.baseline_hidden is not None:  # only with --baseline: the contract is unchanged
        summary: dict[str, Any] = document["summary"]  # type: ignore[assignment]
        summary["baseline_hidden"] = report.baseline_hidden
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
