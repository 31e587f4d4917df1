"""`owui-lint audit` in text and JSON: the findings as `check` prints them, plus the
functions ranked by risk with their name and active/global state.

Function names and ids come from the audited server: they are shown inert (control
characters escaped, whitespace collapsed), never as raw terminal input.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from analyzer.findings import Level
from analyzer.reporters.base import TOOL_NAME, AuditedFunction, RunReport
from analyzer.reporters.json import finding_dict
from analyzer.reporters.text import TextOptions, render_text


@dataclass
class AuditView:
    """A finished audit: the run's report and the functions of the source, ranked."""

    report: RunReport
    source: str  # the export or database as named on the command line
    kind: str  # "database" or "export"
    functions: list[AuditedFunction]
    all_types: bool = False

    def audited(self) -> list[AuditedFunction]:
        return [f for f in self.functions if f.status != "not-audited"]

    def not_audited(self) -> list[AuditedFunction]:
        return [f for f in self.functions if f.status == "not-audited"]


def inert_text(text: str, limit: int = 80) -> str:
    """One line of untrusted text, safe for a terminal or a CI log."""
    from analyzer.engine import one_line

    return one_line(text, limit)


def risk_label(f: AuditedFunction) -> str:
    """What the ranking shows for a function: its worst level, or why it has none."""
    if f.worst is not None:
        return f.worst.value
    return {
        "action": "clean",
        "skipped": "skipped",
        "unreadable": "failed",
        "not-audited": "-",
    }.get(f.status, f.status)


def status_note(f: AuditedFunction) -> str:
    if f.status == "skipped":
        return "not an action module (no module-level `Action`); not analysed"
    if f.status == "unreadable":
        return "could not be analysed (see the message above)"
    return ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts(f: AuditedFunction) -> str:
    return ", ".join(_plural(n, level) for level, n in f.by_level.items())


def render_audit_text(view: AuditView, options: TextOptions) -> str:
    out = render_text(view.report, replace(options, quiet=True))
    if options.quiet:
        return out
    lines: list[str] = []
    audited = view.audited()
    if audited:
        lines.append(f"Functions by risk, riskiest first ({inert_text(view.source, 200)}):")
        width = max(len(inert_text(f.path)) for f in audited)
        for f in audited:
            detail = _counts(f) or status_note(f)
            lines.append(
                f"  {risk_label(f):<8} {inert_text(f.path):<{width}}  "
                f'"{inert_text(f.name, 60)}" ({inert_text(f.type, 20)}; {f.state()})'
                + (f": {detail}" if detail else "")
            )
    others = view.not_audited()
    if others:
        types = Counter(inert_text(f.type, 20) for f in others)
        listed = ", ".join(f"{name}: {n}" for name, n in sorted(types.items()))
        lines.append(
            f"  {_plural(len(others), 'function')} of other types not audited ({listed});"
            " --all-types lints them"
        )
    lines.append(summary_line(view))
    return out + ("\n" if out and lines else "") + "".join(line + "\n" for line in lines)


def summary_line(view: AuditView) -> str:
    report = view.report
    audited = view.audited()
    with_findings = sum(1 for f in audited if f.findings)
    skipped = sum(1 for f in audited if f.status == "skipped")
    total = _plural(len(view.functions), "function")
    scanned = f"{len(audited)} of the {total} in {inert_text(view.source, 200)} audited"
    if skipped:
        scanned += f" ({skipped} not an action module)"
    if not report.findings:
        return f"No findings: {scanned}."
    counts = Counter(f.level for f in report.findings)
    parts = [_plural(counts[level], level.value) for level in Level if counts[level]]
    return (
        f"Found {_plural(len(report.findings), 'finding')} ({', '.join(parts)}) in"
        f" {_plural(with_findings, 'function')}: {scanned}."
    )


def function_dict(f: AuditedFunction) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "type": f.type,
        "path": f.path,
        "active": f.active,
        "global": f.global_,
        "status": f.status,
        "risk": risk_label(f),
        "findings": f.findings,
        "security_findings": f.security_findings,
        "by_level": f.by_level,
    }


def render_audit_json(view: AuditView) -> str:
    report = view.report
    audited = view.audited()
    document = {
        "tool": {"name": TOOL_NAME, "version": report.version},
        "source": {"path": view.source, "kind": view.kind},
        "summary": {
            "functions": len(view.functions),
            "audited": len(audited),
            "analysed": report.actions,
            "skipped": report.skipped,
            "not_audited": len(view.not_audited()),
            "findings": len(report.findings),
            "by_rule": report.by_rule(),
        },
        "functions": [function_dict(f) for f in view.functions],
        "findings": [finding_dict(f) for f in report.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def for_sarif(view: AuditView) -> RunReport:
    """The report with each function's findings on its virtual file
    (`owui-functions/<id>.py`): SARIF locations are URIs, `function:<id>` is not one."""
    uris = {f.path: f.uri for f in view.functions}
    report = view.report
    return replace(
        report,
        findings=[replace(f, path=uris.get(f.path, f.path)) for f in report.findings],
        notifications=[replace(n, path=uris.get(n.path, n.path)) for n in report.notifications],
    )
