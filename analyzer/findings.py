"""Findings: what a rule reports, where, and how sure it is."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace


class Level(str, enum.Enum):
    """Default severity of a rule; also SARIF's `level` vocabulary."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Confidence(str, enum.Enum):
    """How sure the rule is that the finding is real (Bandit's confidence)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line/column range; `end_column` is exclusive (SARIF's convention)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text at `location` with `replacement` (an empty range inserts there).

    Line breaks in `replacement` are written as `\n`; the engine writes the file's own.
    """

    location: Location
    replacement: str


@dataclass(frozen=True)
class Fix:
    """A safe autofix a rule offers with its finding: edits of the file's text, applied
    together (all or none) by the engine; rules never write files."""

    description: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    level: Level
    confidence: Confidence
    path: str
    location: Location
    message: str
    fingerprint: str = ""
    fix: Fix | None = field(default=None, compare=False)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (self.path, loc.line, loc.column, self.rule, self.message)


def _normalise(line: str) -> str:
    return " ".join(line.split())


def with_fingerprints(findings: Iterable[Finding], lines: list[str]) -> list[Finding]:
    """Give each finding a fingerprint that survives unrelated line shifts.

    The hash covers the rule, the path, the whitespace-normalised text of the reported line
    and the occurrence index of that (rule, text) pair in the file, never the line number.
    """
    seen: dict[tuple[str, str], int] = {}
    out: list[Finding] = []
    for f in sorted(findings, key=Finding.sort_key):
        index = f.location.line - 1
        text = _normalise(lines[index]) if 0 <= index < len(lines) else ""
        key = (f.rule, text)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        digest = hashlib.sha256(
            "\0".join((f.rule, f.path, text, str(occurrence))).encode("utf-8", "surrogatepass")
        ).hexdigest()[:32]
        out.append(replace(f, fingerprint=digest))
    return out
