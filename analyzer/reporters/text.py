"""Human-readable output: `path:line:col: OWA301 [error] message` and a summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from analyzer.findings import Finding, Level
from analyzer.reporters.base import RunReport, mask_strings, secret_lines

_COLOURS = {Level.ERROR: "31", Level.WARNING: "33", Level.NOTE: "36"}


@dataclass(frozen=True)
class TextOptions:
    colour: bool = False
    show_source: bool = False
    statistics: bool = False
    quiet: bool = False
    # Reads a file's lines for --show-source (the reporter itself never opens files).
    source_lines: Callable[[str], list[str]] | None = None


def _paint(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if on else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _source_excerpt(f: Finding, options: TextOptions, secrets: set[tuple[str, int]]) -> list[str]:
    if options.source_lines is None:
        return []
    lines = options.source_lines(f.path)
    index = f.location.line - 1
    if not 0 <= index < len(lines):
        return []
    text = lines[index].expandtabs(1).rstrip()
    if (f.path, f.location.line) in secrets:
        text = mask_strings(text)
    start = f.location.column - 1
    end = f.location.end_column - 1 if f.location.end_line == f.location.line else len(text)
    width = max(1, min(end, len(text)) - start)
    gutter = f"{f.location.line:>5} | "
    return [
        f"{gutter}{text}",
        " " * (len(gutter) - 2) + "| " + " " * start + _paint("^" * width, "31", options.colour),
    ]


def render_text(report: RunReport, options: TextOptions) -> str:
    out: list[str] = []
    secrets = secret_lines(report) if options.show_source else set()
    for f in report.findings:
        loc = f.location
        where = _paint(f"{f.path}:{loc.line}:{loc.column}:", "1", options.colour)
        rule = _paint(f.rule, _COLOURS[f.level], options.colour)
        out.append(f"{where} {rule} [{f.level.value}] {f.message}")
        if options.show_source:
            out += _source_excerpt(f, options, secrets)
    if options.statistics and report.findings:
        if out:
            out.append("")
        names = {f.rule: f.name for f in report.findings}
        for rule, count in sorted(Counter(f.rule for f in report.findings).items()):
            out.append(f"{count:>5}  {rule}  {names[rule]}")
    if not options.quiet:
        out.append(summary_line(report))
    return "".join(line + "\n" for line in out)


def summary_line(report: RunReport) -> str:
    """One sentence whose counts add up: every file is in exactly one of them."""
    counts = Counter(f.level for f in report.findings)
    scanned = [f"{_plural(report.actions, 'action')} analysed"]
    if report.not_analysed:
        scanned.append(
            f"{_plural(report.not_analysed, 'file')} checked, not analysed (syntax error)"
        )
    if report.unreadable:
        scanned.append(f"{_plural(report.unreadable, 'file')} could not be read or analysed")
    if report.skipped:
        scanned.append(
            f"{report.skipped} skipped (not {'an action' if report.skipped == 1 else 'actions'})"
        )
    where = f"{_plural(report.files, 'file')}: {', '.join(scanned)}"
    if not report.files:
        return "No files checked."
    hidden = ""
    if report.baseline_hidden:
        known = _plural(report.baseline_hidden, "known finding")
        hidden = f" {known} hidden by the baseline."
    if report.fixed:
        total = report.fixed + len(report.findings)
        fixes = f"{report.fixed} fixed, {len(report.findings)} remaining"
        return f"Found {_plural(total, 'finding')} ({fixes}) in {where}.{hidden}"
    if not report.findings:
        return f"No {'new ' if report.baseline_hidden else ''}findings in {where}.{hidden}"
    parts = [_plural(counts[level], level.value) for level in Level if counts[level]]
    fixable = report.fixable()
    if fixable:
        parts.append(f"{fixable} fixable with `--fix`")
    found = _plural(len(report.findings), "finding")
    return f"Found {found} ({', '.join(parts)}) in {where}.{hidden}"
