"""Adopting owui-lint on existing code: a baseline of known findings, and `--add-noqa`.

A baseline records findings by fingerprint (rule, path, the reported line's text and its
occurrence; never the line number), so a finding that only moved stays known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.findings import Finding
    from analyzer.reporters.base import RunReport
    from analyzer.sources import Source

BASELINE_FORMAT = "owui-lint-baseline/v1"


class BaselineError(Exception):
    """A `--baseline` file that cannot be read or is not a baseline (exit 2)."""


def baseline_text(findings: Iterable[Finding]) -> str:
    entries = [
        {"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path, "message": f.message}
        for f in findings
    ]
    document = {"format": BASELINE_FORMAT, "findings": entries}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def read_baseline(source: Path) -> set[str]:
    """The fingerprints a baseline file records."""
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(f"cannot read baseline {source}: {error.strerror or error}") from None
    except ValueError as error:
        raise BaselineError(f"baseline {source} is not JSON: {error}") from None
    entries = document.get("findings") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("format") != BASELINE_FORMAT
        or not isinstance(entries, list)
        or not all(isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries)
    ):
        raise BaselineError(
            f"{source} is not an owui-lint baseline"
            " (write one with `owui-lint check --write-baseline FILE`)"
        )
    return {e["fingerprint"] for e in entries}


def apply_baseline(report: RunReport, known: Collection[str]) -> None:
    """Drop the findings the baseline knows; the report says how many it hid."""
    kept = [f for f in report.findings if f.fingerprint not in known]
    report.baseline_hidden = len(report.findings) - len(kept)
    report.findings = kept


def add_noqa(
    findings: Iterable[Finding],
    sources: Iterable[Source],
    never: Collection[str],
    warn: Callable[[str], None],
) -> int:
    """Write `# noqa: OWAnnn` on the lines of `findings` (rules in `never` excepted) into
    their files; returns how many comments were added or extended."""
    from analyzer.suppression import add_noqa_comments

    by_display = {s.display: s for s in sources}
    wanted: dict[str, dict[int, set[str]]] = {}
    for f in findings:
        if f.rule not in never:
            wanted.setdefault(f.path, {}).setdefault(f.location.line, set()).add(f.rule)
    added = 0
    for path, lines in sorted(wanted.items()):
        source = by_display.get(path)
        if source is None or source.fs_path is None:
            warn(f"warning: {path}: not a file; no `# noqa` added")
            continue
        try:
            data = Path(source.fs_path).read_bytes()
            text, count, missed = add_noqa_comments(data, lines)
            if count:
                Path(source.fs_path).write_bytes(text)
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            warn(f"warning: {path}: no `# noqa` added: {reason or error}")
            continue
        for line in missed:
            warn(f"warning: {path}:{line}: no place for a `# noqa` comment (inside a string)")
        added += count
    return added
