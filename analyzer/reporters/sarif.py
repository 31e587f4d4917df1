"""SARIF 2.1.0 for GitHub code scanning, built with sarif-om.

sarif-om's usual serializer (`jschema_to_python.to_json`) drops every field equal to its
default, so an explicit `level: "warning"` would vanish and the result would inherit the
rule's level. `_to_jsonable` below keeps every `level`, drops other defaults and `None`,
and leaves property bags untouched (`security-severity` keeps its hyphen).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import attrs
import sarif_om as so

from analyzer.findings import Finding
from analyzer.reporters.base import TOOL_NAME, RuleMeta, RunReport, project_urls, secret_lines

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "owuiLintFindingHash/v1"
_PRECISION = {"high": "high", "medium": "medium", "low": "low"}


def _to_jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for f in attrs.fields(type(value)):
            item = getattr(value, f.name)
            if item is None:
                continue
            default = f.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if f.name != "level" and default is not attrs.NOTHING and item == default:
                continue
            out[f.metadata.get("schema_property_name", f.name)] = _to_jsonable(item)
        return out
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} into SARIF")


def _uri(path: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative paths hang off %SRCROOT%, absolute ones are file URIs."""
    posix = PurePosixPath(path)
    if posix.is_absolute():
        return "file://" + quote(str(posix)), None
    return quote(str(posix)), SRCROOT


def _markdown_help(rule: RuleMeta) -> str:
    return f"**{rule.code} {rule.name}** ({rule.level.value})\n\n{rule.docs()}"


def _descriptor(rule: RuleMeta) -> so.ReportingDescriptor:
    properties: dict[str, Any] = {"tags": rule.tags(), "precision": rule.confidence.value}
    score = rule.severity_score()
    if score is not None:
        properties["security-severity"] = score
    else:
        properties["problem.severity"] = {
            "error": "error",
            "warning": "warning",
            "note": "recommendation",
        }[rule.level.value]
    return so.ReportingDescriptor(
        id=rule.code,
        name=rule.name,
        short_description=so.MultiformatMessageString(text=rule.summary[:1024]),
        full_description=so.MultiformatMessageString(
            text=" ".join(rule.full_description().split())[:1024]
        ),
        help=so.MultiformatMessageString(text=rule.docs(), markdown=_markdown_help(rule)),
        help_uri=project_urls().rule_uri(rule.code),
        default_configuration=so.ReportingConfiguration(level=rule.level.value),
        properties=properties,
    )


def _result(f: Finding, index: int, secrets: set[tuple[str, int]]) -> so.Result:
    uri, base = _uri(f.path)
    loc = f.location
    return so.Result(
        rule_id=f.rule,
        rule_index=index,
        level=f.level.value,
        message=so.Message(text=f.message),
        locations=[
            so.Location(
                physical_location=so.PhysicalLocation(
                    artifact_location=so.ArtifactLocation(uri=uri, uri_base_id=base),
                    region=so.Region(
                        start_line=loc.line,
                        start_column=loc.column,
                        end_line=loc.end_line,
                        end_column=loc.end_column,
                    ),
                )
            )
        ],
        partial_fingerprints={FINGERPRINT_KEY: f.fingerprint},
        properties={"confidence": f.confidence.value},
        fixes=_fixes(f, secrets),
    )


def _fixes(f: Finding, secrets: set[tuple[str, int]]) -> list[so.Fix] | None:
    """The finding's safe autofix as SARIF `fixes[]` (an empty region inserts).

    Left out when it touches a line that holds a hard-coded secret: its replacement text
    would carry the secret that the messages and excerpts mask."""
    if f.fix is None:
        return None
    touched = {
        (f.path, line)
        for e in f.fix.edits
        for line in range(e.location.line, e.location.end_line + 1)
    }
    if touched & secrets:
        return None
    uri, base = _uri(f.path)
    replacements = [
        so.Replacement(
            deleted_region=so.Region(
                start_line=e.location.line,
                start_column=e.location.column,
                end_line=e.location.end_line,
                end_column=e.location.end_column,
            ),
            inserted_content=so.ArtifactContent(text=e.replacement) if e.replacement else None,
        )
        for e in f.fix.edits
    ]
    change = so.ArtifactChange(
        artifact_location=so.ArtifactLocation(uri=uri, uri_base_id=base),
        replacements=replacements,
    )
    return [so.Fix(artifact_changes=[change], description=so.Message(text=f.fix.description))]


def render_sarif(report: RunReport) -> str:
    secrets = secret_lines(report)
    rules = sorted(report.rules, key=lambda r: r.code)
    index = {rule.code: i for i, rule in enumerate(rules)}
    notifications = []
    for n in sorted(report.notifications, key=lambda n: (n.path, n.message)):
        uri, base = _uri(n.path)
        notifications.append(
            so.Notification(
                level=n.level,
                message=so.Message(text=n.message),  # the location names the file
                descriptor=so.ReportingDescriptorReference(id="file-not-analysed"),
                locations=[
                    so.Location(
                        physical_location=so.PhysicalLocation(
                            artifact_location=so.ArtifactLocation(uri=uri, uri_base_id=base)
                        )
                    )
                ],
            )
        )
    root = report.root if report.root.endswith("/") else report.root + "/"
    run = so.Run(
        tool=so.Tool(
            driver=so.ToolComponent(
                name=TOOL_NAME,
                semantic_version=report.version,
                information_uri=project_urls().home,
                rules=[_descriptor(rule) for rule in rules],
            )
        ),
        automation_details=so.RunAutomationDetails(id=f"{TOOL_NAME}/"),
        original_uri_base_ids={SRCROOT: so.ArtifactLocation(uri="file://" + quote(root))},
        column_kind="unicodeCodePoints",
        invocations=[
            so.Invocation(
                execution_successful=True,
                tool_execution_notifications=notifications or None,
            )
        ],
        results=[_result(f, index[f.rule], secrets) for f in report.findings if f.rule in index],
    )
    log = so.SarifLog(version="2.1.0", runs=[run], schema_uri=SCHEMA)
    document = _to_jsonable(log)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
