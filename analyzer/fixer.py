"""Safe autofixes: apply the fixes rules offered, re-lint, repeat until stable.

Rules offer a `Fix` (text edits located with the CST) with a finding; they never write.
Here all fixes of a file are applied in one pass (a fix whose edits overlap one already
taken waits for the next round), the result is linted again, and that repeats until no
fix is left or `MAX_ROUNDS` is reached. A round whose result does not parse is thrown
away: a fix never makes a file worse. Nothing here writes files either; the command line
does, only for files that were analysed without a syntax error.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from analyzer.config import Settings
from analyzer.engine import FileResult, SourceError, decode_source, lint_bytes
from analyzer.findings import Fix
from analyzer.lines import first_newline, line_starts

MAX_ROUNDS = 4


@dataclass
class FixOutcome:
    """A file before and after fixing, and the findings that remain."""

    path: str
    data: bytes  # the bytes the fixes were computed from
    original: str
    fixed: str
    encoding: str
    bom: bool
    applied: int
    result: FileResult
    # A fix that broke the file (a bug in a rule): the round was dropped.
    errors: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def encoded(self) -> bytes:
        """The fixed text in the file's own encoding, with its BOM if it had one."""
        data = self.fixed.encode(self.encoding)
        if self.bom and not data.startswith(codecs.BOM_UTF8):
            data = codecs.BOM_UTF8 + data
        return data

    def diff(self) -> str:
        """A unified diff of the change (empty when there is none)."""
        before = self.original.splitlines(keepends=True)
        after = self.fixed.splitlines(keepends=True)
        relative = not self.path.startswith("/")
        old, new = (f"a/{self.path}", f"b/{self.path}") if relative else (self.path, self.path)
        lines = difflib.unified_diff(before, after, old, new)
        return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """`text` with every fix applied whose edits overlap no fix taken before it (in source
    order); the number of fixes applied."""
    starts = line_starts(text)
    newline = first_newline(text)

    def offset(line: int, column: int) -> int:
        if line > len(starts):
            return len(text)
        base = starts[line - 1]
        end = starts[line] if line < len(starts) else len(text)
        return min(base + column - 1, end)

    spans: list[tuple[int, int, str]] = []
    applied = 0
    ordered = sorted((f for f in fixes if f.edits), key=lambda f: min(e.location for e in f.edits))
    for fix in ordered:
        mine = [
            (
                offset(e.location.line, e.location.column),
                offset(e.location.end_line, e.location.end_column),
                e.replacement.replace("\n", newline),
            )
            for e in fix.edits
        ]
        if any(s > e for s, e, _ in mine):
            continue
        taken = [*spans, *mine]
        if any(_overlap(a, b) for i, a in enumerate(taken) for b in taken[i + 1 :]):
            continue
        spans = taken
        applied += 1
    out = text
    for start, end, replacement in sorted(spans, key=lambda s: (s[0], s[1]), reverse=True):
        out = out[:start] + replacement + out[end:]
    return out, applied


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    """Two edits conflict when their ranges share text, or when one inserts inside (or at
    an end of) the other: their order would be a guess."""
    (s1, e1, _), (s2, e2, _) = a, b
    if s1 == e1 or s2 == e2:
        return s2 <= s1 <= e2 or s1 <= s2 <= e1
    return s1 < e2 and s2 < e1


def fixable(result: FileResult) -> bool:
    return result.status == "action" and any(f.fix is not None for f in result.findings)


def fix_bytes(path: str, data: bytes, settings: Settings, *, explicit: bool) -> FixOutcome:
    """Lint `data`, apply its fixes and lint again, until stable (at most `MAX_ROUNDS`)."""
    result = lint_bytes(path, data, settings, explicit=explicit)
    try:
        text, encoding = decode_source(data)
    except SourceError:  # then the result is OWA001 and there is nothing to fix
        return FixOutcome(path, data, "", "", "utf-8", False, 0, result)
    bom = data.startswith(codecs.BOM_UTF8)
    outcome = FixOutcome(path, data, text, text, encoding, bom, 0, result)
    for _ in range(MAX_ROUNDS):
        if not fixable(outcome.result):
            break
        fixes = [f.fix for f in outcome.result.findings if f.fix is not None]
        new_text, count = apply_fixes(outcome.fixed, fixes)
        if count == 0 or new_text == outcome.fixed:
            break
        candidate = FixOutcome(path, data, text, new_text, encoding, bom, 0, result)
        try:
            new_data = candidate.encoded()
        except UnicodeEncodeError:
            outcome.errors += (f"{path}: a fix cannot be written in {encoding}; not applied",)
            break
        new_result = lint_bytes(path, new_data, settings, explicit=explicit)
        if new_result.status != "action" or new_result.internal_error:
            rules = ", ".join(sorted({f.rule for f in outcome.result.findings if f.fix}))
            outcome.errors += (
                f"{path}: internal error: the fixes of {rules} would break the file;"
                " not applied (please report this bug)",
            )
            break
        outcome.fixed = new_text
        outcome.applied += count
        outcome.result = new_result
    return outcome
