"""One self-contained HTML page: what an admin reads instead of a terminal.

The page has no script and loads nothing (its Content-Security-Policy forbids both), so it
works offline and a crafted function name or source line cannot run code in it: every
piece of text from the analysed code, the audited server or a rule message goes through
`html.escape`. Sections: a summary, counts per rule family, the functions (or files)
ranked by risk with active/global badges, and each finding with its source excerpt and
the rule's "why" and "fix" (from the rule's documentation).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from analyzer.findings import Finding, Level
from analyzer.reporters.base import (
    TOOL_NAME,
    AuditedFunction,
    RuleMeta,
    RunReport,
    mask_strings,
    secret_lines,
)

# Scripts, frames, fonts, images and connections: none. Only the inline style sheet.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CONTEXT = 2  # source lines shown around a finding
_LEVEL_RANK = {Level.ERROR: 0, Level.WARNING: 1, Level.NOTE: 2}

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1f2328;background:#f6f8fa}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 20px}
header{padding-top:18px}h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.summary{font-size:16px}.muted{color:#59636e}
.badge{display:inline-block;border-radius:10px;padding:0 8px;margin-right:4px;font-size:12px;
font-weight:600;border:1px solid transparent}
.badge-active{background:#dafbe1;color:#116329;border-color:#4ac26b}
.badge-inactive{background:#eef1f4;color:#59636e;border-color:#d0d7de}
.badge-global{background:#fff1e5;color:#953800;border-color:#fb8f44}
.badge-security{background:#ffebe9;color:#a40e26;border-color:#ff8182}
.badge-type{background:#ddf4ff;color:#0550ae;border-color:#54aeff}
.risk{font-weight:700;text-transform:uppercase;font-size:12px;white-space:nowrap}
.risk-error{color:#cf222e}.risk-warning{color:#9a6700}.risk-note{color:#0969da}
.risk-clean{color:#1a7f37}.risk-skipped,.risk-failed{color:#59636e}
.subject{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:16px 0;padding:12px 16px}
.finding{border-left:4px solid #d0d7de;padding:8px 12px;margin:12px 0;background:#fbfcfd}
.finding.level-error{border-left-color:#cf222e}.finding.level-warning{border-left-color:#d4a72c}
.finding.level-note{border-left-color:#0969da}
.message{margin:4px 0 8px}
pre.excerpt{background:#f6f8fa;border:1px solid #d0d7de;padding:6px 0;overflow-x:auto}
pre.excerpt span{display:block;padding:0 10px;white-space:pre}
pre.excerpt span.hit{background:#ffebe9}
pre.excerpt span.hit .ln{color:#cf222e}
.ln{color:#8c959f;display:inline-block;min-width:3.5em;user-select:none}
details{margin-top:6px}summary{cursor:pointer;color:#0969da}
.docs pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow-x:auto}
footer{padding:24px 20px;color:#59636e;font-size:13px}
"""


@dataclass(frozen=True)
class HtmlOptions:
    # Reads a file's (or function's) lines for the excerpts; the reporter opens nothing.
    source_lines: Callable[[str], list[str]] | None = None
    # What was analysed, for the title: "plugins/", "webui.db".
    source: str = ""
    # `owui-lint audit`: the functions, ranked by risk; None for `check` (files).
    functions: Sequence[AuditedFunction] | None = None


@dataclass
class _Subject:
    """A function (audit) or a file (check), with its findings."""

    path: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    function: AuditedFunction | None = None

    @property
    def worst(self) -> Level | None:
        return min((f.level for f in self.findings), key=_LEVEL_RANK.__getitem__, default=None)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _subjects(report: RunReport, options: HtmlOptions) -> list[_Subject]:
    by_path: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_path.setdefault(f.path, []).append(f)
    if options.functions is not None:
        return [
            _Subject(fn.path, fn.name, by_path.get(fn.path, []), fn)
            for fn in options.functions
            if fn.status != "not-audited"
        ]
    subjects = [_Subject(path, path, found) for path, found in by_path.items()]
    return sorted(
        subjects,
        key=lambda s: (
            4 if s.worst is None else _LEVEL_RANK[s.worst],
            -len(s.findings),
            s.path,
        ),
    )


def _risk(subject: _Subject) -> str:
    if subject.worst is not None:
        return subject.worst.value
    if subject.function is not None and subject.function.status == "skipped":
        return "skipped"
    if subject.function is not None and subject.function.status == "unreadable":
        return "failed"
    return "clean"


def _badges(fn: AuditedFunction | None) -> str:
    if fn is None:
        return ""
    out = [f'<span class="badge badge-type">{_e(fn.type)}</span>']
    if fn.active:
        out.append('<span class="badge badge-active">active</span>')
    else:
        out.append('<span class="badge badge-inactive">inactive</span>')
    if fn.global_:
        out.append('<span class="badge badge-global">global</span>')
    return "".join(out)


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code> (on the escaped text: no markup leaks)."""
    parts = text.split("`")
    out = []
    for i, part in enumerate(parts):
        escaped = _e(part)
        out.append(f"<code>{escaped}</code>" if i % 2 and i < len(parts) - 1 else escaped)
    if len(parts) % 2 == 0:  # an unpaired backtick: keep it as text
        out[-1] = "`" + out[-1]
    return "".join(out)


_FENCE = re.compile(r"^```[\w-]*\n(.*?)^```\s*$", re.M | re.S)


def _markdown(text: str) -> str:
    """The small Markdown subset rule docs use: paragraphs, fenced code, `code` spans."""
    out: list[str] = []
    position = 0
    for match in _FENCE.finditer(text):
        out += _paragraphs(text[position : match.start()])
        out.append(f"<pre><code>{_e(match.group(1).rstrip())}</code></pre>")
        position = match.end()
    out += _paragraphs(text[position:])
    return "".join(out)


def _paragraphs(text: str) -> list[str]:
    return [
        f"<p>{_inline(' '.join(p.split()))}</p>" for p in re.split(r"\n\s*\n", text) if p.strip()
    ]


def doc_section(rule: RuleMeta, title: str) -> str:
    """The text under `## title` in a rule's docs, or "" when there is none."""
    match = re.search(rf"^## {re.escape(title)}\s*\n(.*?)(?=^## |\Z)", rule.docs(), re.M | re.S)
    return match.group(1).strip() if match else ""


def _excerpt(f: Finding, options: HtmlOptions, secrets: set[tuple[str, int]]) -> str:
    if options.source_lines is None:
        return ""
    lines = options.source_lines(f.path)
    if not lines:
        return ""
    first = max(1, f.location.line - _CONTEXT)
    last = min(len(lines), max(f.location.end_line, f.location.line) + _CONTEXT)
    if first > last:
        return ""
    rows = []
    for number in range(first, last + 1):
        hit = f.location.line <= number <= f.location.end_line
        css = ' class="hit"' if hit else ""
        text = lines[number - 1].expandtabs(4).rstrip()
        if (f.path, number) in secrets:  # a hard-coded secret: masked as its message masks it
            text = mask_strings(text)
        rows.append(f'<span{css}><span class="ln">{number} </span>{_e(text)}</span>')
    return f'<pre class="excerpt"><code>{"".join(rows)}</code></pre>'


def _finding(
    f: Finding, rule: RuleMeta | None, options: HtmlOptions, secrets: set[tuple[str, int]]
) -> str:
    loc = f.location
    docs = ""
    if rule is not None:
        why = doc_section(rule, "Why is this bad?")
        fix = doc_section(rule, "Use instead")
        parts = []
        if why:
            parts.append(f'<div class="why"><h4>Why it matters</h4>{_markdown(why)}</div>')
        if fix:
            parts.append(f'<div class="fix"><h4>How to fix it</h4>{_markdown(fix)}</div>')
        if parts:
            docs = (
                f'<details class="docs"><summary>Why this matters and how to fix it'
                f" ({_e(f.rule)})</summary>{''.join(parts)}</details>"
            )
    security = rule is not None and "security" in rule.tags()
    tag = ' <span class="badge badge-security">security</span>' if security else ""
    return (
        f'<div class="finding level-{_e(f.level.value)}" data-rule="{_e(f.rule)}">'
        f'<h3><span class="risk risk-{_e(f.level.value)}">{_e(f.level.value)}</span> '
        f"{_e(f.rule)} {_e(f.name)}{tag}</h3>"
        f'<p class="location"><code>{_e(f.path)}:{loc.line}:{loc.column}</code></p>'
        f'<p class="message">{_inline(f.message)}</p>'
        f"{_excerpt(f, options, secrets)}{docs}</div>"
    )


def _family_table(report: RunReport) -> str:
    families = {r.code: r.family() for r in report.rules}
    counts: dict[str, Counter[Level]] = {}
    for f in report.findings:
        counts.setdefault(families.get(f.rule, "other"), Counter())[f.level] += 1
    if not counts:
        return '<p class="muted">No findings.</p>'
    rows = []
    for family in sorted(counts, key=lambda name: (-sum(counts[name].values()), name)):
        c = counts[family]
        rows.append(
            f'<tr data-family="{_e(family)}"><td>{_e(family)}</td>'
            f'<td class="num">{sum(c.values())}</td><td class="num">{c[Level.ERROR]}</td>'
            f'<td class="num">{c[Level.WARNING]}</td><td class="num">{c[Level.NOTE]}</td></tr>'
        )
    return (
        '<table class="families"><thead><tr><th>Rule family</th><th>Findings</th>'
        "<th>Errors</th><th>Warnings</th><th>Notes</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _ranking(subjects: list[_Subject], audit: bool) -> str:
    if not subjects:
        return '<p class="muted">Nothing to rank.</p>'
    head = "Function" if audit else "File"
    rows = []
    for number, s in enumerate(subjects, 1):
        counts = Counter(f.level.value for f in s.findings)
        detail = ", ".join(
            _plural(counts[level.value], level.value) for level in Level if counts[level.value]
        )
        if not detail and s.function is not None and s.function.status == "skipped":
            detail = "not an action module; not analysed"
        name = f'<a href="#s{number}">{_e(s.title)}</a>' if s.findings else _e(s.title)
        where = f' <code class="muted">{_e(s.path)}</code>' if audit else ""
        rows.append(
            f'<tr class="subject-row" data-path="{_e(s.path)}">'
            f'<td class="risk risk-{_risk(s)}">{_risk(s)}</td>'
            f"<td>{name}{where}</td><td>{_badges(s.function)}</td><td>{_e(detail)}</td></tr>"
        )
    state = "<th>State</th>" if audit else "<th></th>"
    return (
        f'<table class="ranking"><thead><tr><th>Risk</th><th>{head}</th>{state}'
        f"<th>Findings</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(report: RunReport, options: HtmlOptions) -> str:
    audit = options.functions is not None
    subjects = _subjects(report, options)
    rules = {r.code: r for r in report.rules}
    secrets = secret_lines(report)
    counts = Counter(f.level for f in report.findings)
    levels = ", ".join(_plural(counts[level], level.value) for level in Level if counts[level])
    source = options.source or "."
    if audit:
        assert options.functions is not None
        audited = [f for f in options.functions if f.status != "not-audited"]
        others = len(options.functions) - len(audited)
        scope = f"{_plural(len(audited), 'function')} audited of {len(options.functions)}" + (
            f" ({others} of other types not audited; --all-types lints them)" if others else ""
        )
        title = f"owui-lint audit of {source}"
    else:
        scope = (
            f"{_plural(report.files, 'file')} checked, {_plural(report.actions, 'action')}"
            f" analysed, {report.skipped} skipped (not actions)"
        )
        title = f"owui-lint check of {source}"
    verdict = (
        f"{_plural(len(report.findings), 'finding')} ({levels})"
        if report.findings
        else "No findings"
    )
    details = []
    for number, s in enumerate(subjects, 1):
        if not s.findings:
            continue
        description = ""
        if s.function is not None and s.function.description:
            description = f'<p class="muted">{_e(s.function.description)}</p>'
        heading = _e(s.title)
        if s.function is not None:
            heading += f' <code class="muted">{_e(s.path)}</code>'
        body = "".join(_finding(f, rules.get(f.rule), options, secrets) for f in s.findings)
        details.append(
            f'<section class="subject" id="s{number}" data-path="{_e(s.path)}">'
            f"<h2>{heading} {_badges(s.function)}</h2>{description}{body}</section>"
        )
    notes = ""
    if report.notifications:
        items = "".join(
            f"<li><code>{_e(n.path)}</code>: {_e(n.message)}</li>"
            for n in sorted(report.notifications, key=lambda n: (n.path, n.message))
        )
        notes = f'<h2>Not analysed</h2><ul class="notifications">{items}</ul>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="summary">{_e(verdict)}: {_e(scope)}.</p></header><main>'
        f'<section id="families"><h2>Findings per rule family</h2>{_family_table(report)}</section>'
        f'<section id="ranking"><h2>{"Functions" if audit else "Files"} by risk</h2>'
        f"{_ranking(subjects, audit)}</section>"
        f'<section id="findings"><h2>Findings</h2>{"".join(details) or "<p>None.</p>"}</section>'
        f"{notes}</main>"
        f"<footer>{_e(TOOL_NAME)} {_e(report.version)}. Static analysis: the code was read,"
        " never imported or run.</footer></body></html>\n"
    )
