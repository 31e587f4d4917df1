"""Lines as Python's tokenizer sees them: only CRLF, CR and LF end a line (`str.splitlines`
also splits at form feeds, vertical tabs and Unicode separators, which Python does not)."""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of `text`, without their line ends (one more than the line ends)."""
    return LINE_BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """The offset in `text` where each line starts, the first line's 0 included."""
    return [0, *(m.end() for m in LINE_BREAK.finditer(text))]


def first_newline(text: str) -> str:
    """The first line end of `text`, or "\\n" when it has none."""
    found = LINE_BREAK.search(text)
    return found.group() if found else "\n"
