"""Deterministic generator of the benchmark's action modules (standard library only).

Every module it writes is an Open WebUI action module (a module-level `class Action` with a
nested `Valves` and an `async def action(...)`), checked with `compile()` before it is
written (compiled, never executed). The material is the project's own:

* the bundled examples (`examples/**/*.py`);
* the `VALID` / `INVALID` snippets of the rule classes (`rules/*.py`), read statically from
  the source with `ast` (the rule modules are not imported, the snippets never run);
* the action sources embedded as strings in the test suite (`tests/**/*.py`), read the
  same way;

decomposed into imports, `Valves` fields, `__init__` lines, helper methods and the `action`
method itself, renamed so that several of them fit in one class, and combined with helper
methods written here from templates that mimic community exporters: Markdown-to-docx loops
with long `elif` chains, long f-strings of embedded HTML, CSS and JavaScript, nested
`try`/`except`, status events, role checks, confirmations and data-layer calls
(`Chats.get_chat_by_id`, `Users.get_user_by_id`, ...). No third-party code is used.

`python bench/corpus.py OUT [--quick]` writes the corpus to OUT (for inspection).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import random
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 20240611

# Keyword parameters the composed `action` accepts (what Open WebUI passes to actions).
ACTION_PARAMS = (
    "__user__",
    "__event_emitter__",
    "__event_call__",
    "__model__",
    "__request__",
    "__id__",
)

PLUGIN_CLASSES = {"Action", "Pipe", "Filter", "Tools"}

BASE_IMPORTS = (
    "import base64",
    "import html",
    "import io",
    "import json",
    "import re",
    "import time",
    "import uuid",
    "import zipfile",
    "from datetime import datetime, timezone",
    "from typing import Any, Optional",
    "",
    "from open_webui.models.chats import Chats",
    "from open_webui.models.files import Files",
    "from open_webui.models.users import Users",
    "from pydantic import BaseModel, Field",
)

KINDS = (
    "export_docx",
    "export_pdf",
    "export_html",
    "export_markdown",
    "summarize",
    "archive_chat",
    "admin_tools",
    "share_link",
    "translate",
    "word_count",
    "mindmap",
    "flashcards",
    "report_card",
    "cleanup",
    "image_prompt",
    "timeline",
)

WORDS = (
    "alpha",
    "bravo",
    "chart",
    "delta",
    "entry",
    "field",
    "gamma",
    "header",
    "index",
    "joint",
    "kappa",
    "label",
    "media",
    "note",
    "outline",
    "page",
    "quote",
    "range",
    "section",
    "table",
    "unit",
    "value",
    "width",
    "xref",
    "yield_",
    "zone",
)


# --- snippets of the project --------------------------------------------------------------


def _dedent_example(code: str) -> str:
    """The rule examples' own convention (analyzer.rule.dedent_example)."""
    text = textwrap.dedent(code)
    return text[1:] if text.startswith("\n") else text


def _rule_snippets(path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("Valid", "Invalid")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield _dedent_example(node.args[0].value)


def _test_snippets(path: Path) -> Iterable[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return  # a deliberately broken fixture
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "class Action" in node.value
        ):
            yield _dedent_example(node.value)


def project_snippets(repo: Path = REPO) -> list[tuple[str, str]]:
    """(origin, source) of every action source the project ships, in a stable order."""
    found: list[tuple[str, str]] = []
    for path in sorted((repo / "examples").rglob("*.py")):
        found.append((path.relative_to(repo).as_posix(), path.read_text(encoding="utf-8")))
    for path in sorted((repo / "rules").glob("*.py")):
        for index, text in enumerate(_rule_snippets(path)):
            found.append((f"{path.relative_to(repo).as_posix()}#{index}", text))
    for path in sorted((repo / "tests").rglob("*.py")):
        for index, text in enumerate(_test_snippets(path)):
            found.append((f"{path.relative_to(repo).as_posix()}#{index}", text))
    return found


# --- decomposing a snippet ----------------------------------------------------------------


@dataclass
class Method:
    name: str
    lines: list[str]  # at class-body indentation (4 spaces)
    is_async: bool
    node: ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Part:
    """One action source of the project, taken apart."""

    origin: str
    future: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    toplevel: list[list[str]] = field(default_factory=list)
    valves: dict[str, list[str]] = field(default_factory=dict)
    user_valves: dict[str, list[str]] = field(default_factory=dict)
    init_lines: list[str] = field(default_factory=list)
    methods: list[Method] = field(default_factory=list)
    flow: Method | None = None

    @property
    def size(self) -> int:
        return (
            sum(len(m.lines) + 1 for m in self.methods)
            + (len(self.flow.lines) + 1 if self.flow else 0)
            + sum(len(t) + 2 for t in self.toplevel)
        )


def _depth(node: ast.AST, limit: int = 60) -> int:
    best = 0
    stack = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        best = max(best, depth)
        if best > limit:
            return best
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current))
    return best


def _start(node: ast.stmt) -> int:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return node.lineno


def _segments(
    body: Sequence[ast.stmt], lines: list[str], indent: int
) -> list[tuple[ast.stmt, list[str]]] | None:
    """The source lines of each statement, or None when statements share lines."""
    out: list[tuple[ast.stmt, list[str]]] = []
    for index, node in enumerate(body):
        start, end = _start(node), node.end_lineno or node.lineno
        if index + 1 < len(body) and _start(body[index + 1]) <= end:
            return None
        if index > 0 and start <= (body[index - 1].end_lineno or 0):
            return None
        if node.col_offset != indent:
            return None
        segment = lines[start - 1 : end]
        if not segment[0].startswith(" " * indent) or segment[0][indent : indent + 1].isspace():
            return None
        out.append((node, segment))
    return out


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def decompose(origin: str, source: str) -> Part | None:
    """Take an action source apart; None when it is not a plain, composable action."""
    if source.count("\n") > 400 or "\t" in source:
        return None
    try:
        tree = ast.parse(source)
        compile(source, origin, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if _depth(tree) > 50:
        return None
    lines = source.splitlines()
    top = _segments(tree.body, lines, 0)
    if top is None:
        return None
    part = Part(origin)
    action_class: ast.ClassDef | None = None
    for node, segment in top:
        if isinstance(node, ast.ClassDef) and node.name == "Action":
            if action_class is not None:
                return None
            action_class = node
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            part.future.extend(segment)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            # A module-level `Pipe` / `Filter` would turn the module into another kind.
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if not bound & PLUGIN_CLASSES and not any(a.name == "*" for a in node.names):
                part.imports.append("\n".join(segment))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name not in PLUGIN_CLASSES and not node.name.startswith("__"):
                part.toplevel.append(segment)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if (
                len(names) == len(targets)
                and not PLUGIN_CLASSES & set(names)
                and node.value is not None
                and _literal(node.value)
            ):
                part.toplevel.append(segment)
    if action_class is None:
        return None
    members = _segments(action_class.body, lines, action_class.col_offset + 4)
    if members is None:
        return None
    for node, segment in members:
        if isinstance(node, ast.ClassDef) and node.name in ("Valves", "UserValves"):
            fields = _segments(node.body, lines, 8)
            if fields is None:
                continue
            target = part.valves if node.name == "Valves" else part.user_valves
            for item, item_lines in fields:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    target.setdefault(item.target.id, item_lines)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            method = Method(node.name, segment, isinstance(node, ast.AsyncFunctionDef), node)
            if node.name == "action":
                part.flow = method
            elif node.name == "__init__":
                args = node.args
                if len(args.args) == 1 and not (args.vararg or args.kwarg or args.kwonlyargs):
                    init = _segments(node.body, lines, 8)
                    for stmt, stmt_lines in init or []:
                        text = "\n".join(stmt_lines)
                        if "super()" in text or "self.valves = " in text:
                            continue
                        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr)):
                            part.init_lines.extend(stmt_lines)
            elif not node.name.startswith("__") and node.name != "valves":
                part.methods.append(method)
    if part.flow is None or part.flow.node.args.posonlyargs:
        return None
    return part


def load_parts(repo: Path = REPO) -> list[Part]:
    parts: list[Part] = []
    seen: set[str] = set()
    for origin, source in project_snippets(repo):
        if source in seen:
            continue
        seen.add(source)
        part = decompose(origin, source)
        if part is not None:
            parts.append(part)
    if not parts:
        raise RuntimeError(f"no composable action source found under {repo}")
    return parts


def _rename(lines: list[str], mapping: dict[str, str]) -> list[str]:
    if not mapping:
        return list(lines)
    names = "|".join(sorted(map(re.escape, mapping), key=len, reverse=True))
    member = re.compile(rf"\b(self|cls|Action)\.({names})\b")
    define = re.compile(rf"^(\s*(?:async\s+)?def\s+)({names})\(")
    out = []
    for line in lines:
        line = member.sub(lambda m: f"{m.group(1)}.{mapping[m.group(2)]}", line)
        line = define.sub(lambda m: f"{m.group(1)}{mapping[m.group(2)]}(", line)
        out.append(line)
    return out


def _flow_call(part: Part, name: str) -> str:
    """How the composed `action` calls a part's renamed `action` method."""
    assert part.flow is not None
    args = part.flow.node.args
    positional = args.args[1:]
    call: list[str] = []
    if positional:
        call.append("body")
    defaults_from = len(args.args) - len(args.defaults)
    params = [(a, i + 1 >= defaults_from) for i, a in enumerate(positional[1:], start=1)]
    params += [(a, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    for arg, has_default in params:
        if arg.arg in ACTION_PARAMS:
            call.append(f"{arg.arg}={arg.arg}")
        elif not has_default:
            call.append(f"{arg.arg}=None")
    text = f"self.{name}({', '.join(call)})"
    return f"await {text}" if part.flow.is_async else text


# --- generated helper methods -------------------------------------------------------------


@dataclass
class Helper:
    name: str
    lines: list[str]
    call: str  # a statement for a stage runner (variables: body, user, text, rows, emitter, ask)


def _w(rng: random.Random) -> str:
    return rng.choice(WORDS).rstrip("_")


def _h_markdown_blocks(rng: random.Random, name: str) -> Helper:
    branches = [
        ('line.startswith("###### ")', '{"type": "heading", "level": 6, "text": line[7:]}'),
        ('line.startswith("##### ")', '{"type": "heading", "level": 5, "text": line[6:]}'),
        ('line.startswith("#### ")', '{"type": "heading", "level": 4, "text": line[5:]}'),
        ('line.startswith("### ")', '{"type": "heading", "level": 3, "text": line[4:]}'),
        ('line.startswith("## ")', '{"type": "heading", "level": 2, "text": line[3:]}'),
        ('line.startswith("# ")', '{"type": "heading", "level": 1, "text": line[2:]}'),
        (
            'line.startswith(("- [ ] ", "* [ ] "))',
            '{"type": "task", "done": False, "text": line[6:]}',
        ),
        (
            'line.startswith(("- [x] ", "* [x] "))',
            '{"type": "task", "done": True, "text": line[6:]}',
        ),
        ('line.startswith(("- ", "* ", "+ "))', '{"type": "bullet", "text": line[2:].strip()}'),
        (
            're.match(r"^\\d+[.)] ", line)',
            '{"type": "number", "text": re.sub(r"^\\d+[.)] ", "", line)}',
        ),
        ('line.startswith("> ")', '{"type": "quote", "text": line[2:]}'),
        ('line.strip() in ("---", "***", "___")', '{"type": "rule"}'),
        (
            'line.startswith("![")',
            '{"type": "image", "alt": line[2 : line.find("]")], "src": line[line.find("(") + 1 : -1]}',
        ),
        ('line.startswith("$$")', '{"type": "math", "text": line.strip("$")}'),
        ('line.startswith("<!--")', '{"type": "comment", "text": line[4:].rstrip("->").strip()}'),
    ]
    for _ in range(rng.randint(2, 10)):
        word = _w(rng)
        branches.append(
            (
                f'line.lower().startswith("{word}:")',
                f'{{"type": "admonition", "kind": "{word}", "text": line[{len(word) + 1}:].strip()}}',
            )
        )
    rng.shuffle(branches)
    lines = [
        f"    def {name}(self, text: str) -> list:",
        '        """Split Markdown into blocks for the document writer."""',
        "        blocks: list = []",
        "        in_code = False",
        "        code: list = []",
        '        language = ""',
        "        for raw in text.splitlines():",
        "            line = raw.rstrip()",
        '            if line.startswith("```"):',
        "                if in_code:",
        '                    blocks.append({"type": "code", "lang": language, "text": "\\n".join(code)})',
        "                    code = []",
        "                else:",
        "                    language = line[3:].strip()",
        "                in_code = not in_code",
        "            elif in_code:",
        "                code.append(raw)",
    ]
    for condition, block in branches:
        lines += [f"            elif {condition}:", f"                blocks.append({block})"]
    lines += [
        '            elif line.startswith("|") and line.endswith("|"):',
        '                cells = [cell.strip() for cell in line.strip("|").split("|")]',
        '                if all(set(cell) <= set("-: ") for cell in cells):',
        "                    continue",
        '                blocks.append({"type": "row", "cells": cells})',
        "            elif not line.strip():",
        '                if blocks and blocks[-1].get("type") != "blank":',
        '                    blocks.append({"type": "blank"})',
        "            else:",
        '                blocks.append({"type": "para", "text": line})',
        "        if in_code and code:",
        '            blocks.append({"type": "code", "lang": language, "text": "\\n".join(code)})',
        "        return blocks",
    ]
    return Helper(name, lines, f"blocks = self.{name}(text)")


def _h_docx_writer(rng: random.Random, name: str) -> Helper:
    kinds = [
        (
            "heading",
            'f\'<w:p><w:pPr><w:pStyle w:val="Heading{block.get("level", 1)}"/></w:pPr>{run}</w:p>\'',
        ),
        ("para", "f'<w:p>{run}</w:p>'"),
        (
            "bullet",
            'f\'<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>{run}</w:p>\'',
        ),
        (
            "number",
            'f\'<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="2"/></w:numPr></w:pPr>{run}</w:p>\'',
        ),
        ("quote", "f'<w:p><w:pPr><w:pStyle w:val=\"Quote\"/></w:pPr>{run}</w:p>'"),
        ("code", "f'<w:p><w:pPr><w:pStyle w:val=\"Code\"/></w:pPr>{run}</w:p>'"),
        ("task", 'f\'<w:p><w:r><w:t>{"☑" if block.get("done") else "☐"} </w:t></w:r>{run}</w:p>\''),
        ("math", "f'<w:p><w:pPr><w:jc w:val=\"center\"/></w:pPr>{run}</w:p>'"),
        (
            "admonition",
            "f'<w:p><w:pPr><w:shd w:fill=\"{self.valves.accent}\"/></w:pPr>{run}</w:p>'",
        ),
        (
            "rule",
            '\'<w:p><w:pPr><w:pBdr><w:bottom w:val="single" w:sz="6"/></w:pBdr></w:pPr></w:p>\'',
        ),
        (
            "image",
            'f\'<w:p><w:r><w:t>[image: {html.escape(block.get("alt", ""))}]</w:t></w:r></w:p>\'',
        ),
    ]
    rng.shuffle(kinds)
    kinds = kinds[: rng.randint(6, len(kinds))]
    lines = [
        f"    def {name}(self, blocks: list) -> str:",
        "        parts: list = []",
        "        table: list = []",
        "        for index, block in enumerate(blocks):",
        '            kind = block.get("type", "para")',
        '            text = html.escape(str(block.get("text", "")))',
        '            bold = kind == "heading" or text.startswith("**")',
        '            run = f\'<w:r>{"<w:rPr><w:b/></w:rPr>" if bold else ""}<w:t xml:space="preserve">{text}</w:t></w:r>\'',
        '            if kind == "row":',
        '                table.append(block.get("cells", []))',
        "                continue",
        "            if table:",
        '                cells = "".join(',
        '                    "<w:tr>"',
        '                    + "".join("<w:tc><w:p><w:r><w:t>" + html.escape(str(c)) + "</w:t></w:r></w:p></w:tc>" for c in row)',
        '                    + "</w:tr>"',
        "                    for row in table",
        "                )",
        '                parts.append(f"<w:tbl>{cells}</w:tbl>")',
        "                table = []",
    ]
    first = True
    for kind, xml in kinds:
        keyword = "if" if first else "elif"
        first = False
        lines += [
            f'            {keyword} kind == "{kind}":',
            f"                parts.append({xml})",
        ]
    lines += [
        '            elif kind == "blank":',
        "                if index and index < len(blocks) - 1:",
        '                    parts.append("<w:p/>")',
        "            else:",
        '                parts.append(f"<w:p>{run}</w:p>")',
        '        return "".join(parts)',
    ]
    return Helper(name, lines, f"document = self.{name}(blocks)")


def _css(rng: random.Random, count: int) -> list[str]:
    selectors = [
        "body",
        "h1",
        "h2",
        "h3",
        "table",
        "th",
        "td",
        "pre",
        "code",
        "blockquote",
        ".meta",
        ".message",
        ".message.user",
        ".message.assistant",
        ".toolbar",
        ".toolbar button",
        ".badge",
        "footer",
        "nav a",
        ".hidden",
        ".grid",
        ".card",
        ".card h3",
        "@media print",
    ]
    props = [
        "margin: 0 auto",
        "padding: 12px 16px",
        "font-family: system-ui, sans-serif",
        "color: #1f2933",
        "background: #f8fafc",
        "border-radius: 8px",
        "display: flex",
        "gap: 8px",
        "border: 1px solid #d0d7de",
        "font-size: 14px",
        "line-height: 1.6",
        "max-width: 960px",
        "overflow-x: auto",
        "white-space: pre-wrap",
        "cursor: pointer",
        "box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12)",
        "text-align: left",
        "font-weight: 600",
    ]
    out = []
    for _ in range(count):
        chosen = rng.sample(props, rng.randint(2, 5))
        out.append(f"  {rng.choice(selectors)} {{{{ {'; '.join(chosen)}; }}}}")
    return out


def _js(rng: random.Random, count: int, tag: str) -> list[str]:
    out = ['  const state = {{ page: 0, size: {page_size}, filter: "" }};']
    for index in range(count):
        fn = f"{_w(rng)}{tag}{index}"
        out += rng.choice(
            [
                [
                    f"  function {fn}(items) {{{{",
                    '    const list = document.getElementById("items");',
                    '    list.innerHTML = "";',
                    "    for (const item of items.slice(state.page * state.size, (state.page + 1) * state.size)) {{",
                    '      const li = document.createElement("li");',
                    '      li.textContent = item.role + ": " + item.content;',
                    "      list.appendChild(li);",
                    "    }}",
                    "  }}",
                ],
                [
                    f"  async function {fn}() {{{{",
                    "    try {{",
                    f'      const response = await fetch("/api/v1/{_w(rng)}", {{{{ method: "GET" }}}});',
                    "      if (!response.ok) {{ throw new Error(response.statusText); }}",
                    "      return await response.json();",
                    "    }} catch (error) {{",
                    "      console.error(error);",
                    "      return [];",
                    "    }}",
                    "  }}",
                ],
                [
                    f"  const {fn} = (event) => {{{{",
                    "    state.filter = event.target.value.toLowerCase();",
                    '    document.querySelectorAll(".message").forEach((node) => {{',
                    '      node.classList.toggle("hidden", !node.textContent.toLowerCase().includes(state.filter));',
                    "    }});",
                    "  }};",
                ],
            ]
        )
    out.append(
        '  document.addEventListener("DOMContentLoaded", () => {{ window.print && null; }});'
    )
    return out


def _h_html_page(rng: random.Random, name: str) -> Helper:
    tag = name.strip("_").split("_")[-1]
    css = _css(rng, rng.randint(6, 30))
    js = _js(rng, rng.randint(1, 6), tag)
    lines = [
        f"    def {name}(self, title: str, rows: list) -> str:",
        '        items = "".join(',
        '            f\'<li class="message {html.escape(str(row.get("role", "user")))}">\'',
        '            f\'{html.escape(str(row.get("content", "")))}</li>\'',
        "            for row in rows",
        "        )",
        f"        page_size = {rng.choice([10, 20, 25, 50, 100])}",
        '        generated = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d %H:%M")',
        '        return f"""<!DOCTYPE html>',
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>{html.escape(title)}</title>",
        "<style>",
        *css,
        "</style>",
        "</head>",
        "<body>",
        '<nav class="toolbar"><button onclick="window.print()">Print</button>'
        '<input id="filter" placeholder="Filter"></nav>',
        "<h1>{html.escape(title)}</h1>",
        '<p class="meta">Generated {generated} &middot; {len(rows)} messages</p>',
        '<ul id="items">{items}</ul>',
        "<script>",
        *js,
        "</script>",
        "</body>",
        '</html>"""',
    ]
    return Helper(name, lines, f'page = self.{name}(str(body.get("title", "Chat")), rows)')


def _h_nested_try(rng: random.Random, name: str) -> Helper:
    key = _w(rng)
    lines = [
        f"    def {name}(self, payload: dict) -> dict:",
        "        result: dict = {}",
        "        try:",
        f'            raw = payload.get("{key}") or "{{}}"',
        "            try:",
        "                data = json.loads(raw)",
        "            except json.JSONDecodeError:",
        "                try:",
        '                    data = json.loads(base64.b64decode(raw).decode("utf-8"))',
        "                except (ValueError, UnicodeDecodeError) as error:",
        '                    data = {"error": str(error)}',
        "            for key, value in dict(data).items():",
        "                try:",
        "                    result[key] = float(value)",
        "                except (TypeError, ValueError):",
        "                    try:",
        "                        result[key] = json.dumps(value, ensure_ascii=False)",
        "                    except (TypeError, ValueError):",
        "                        result[key] = repr(value)",
    ]
    if rng.random() < 0.5:
        lines += [
            "        except KeyError as error:",
            '            result["missing"] = str(error)',
        ]
    lines += [
        "        except Exception as error:",
        '            result["error"] = f"{type(error).__name__}: {error}"',
        "        finally:",
        '            result["checked_at"] = time.time()',
        "        return result",
    ]
    return Helper(name, lines, f"parsed = self.{name}(body)")


def _h_status(rng: random.Random, name: str) -> Helper:
    lines = [
        f"    async def {name}(self, emitter, description: str, done: bool = False) -> None:",
        "        if not emitter:",
        "            return",
        "        await emitter(",
        '            {"type": "status", "data": {"description": description, "done": done}}',
        "        )",
    ]
    step = rng.choice(["Rendering", "Collecting", "Formatting", "Packing", "Checking"])
    return Helper(name, lines, f'await self.{name}(emitter, "{step} {_w(rng)}…")')


def _h_confirm(rng: random.Random, name: str) -> Helper:
    lines = [
        f"    async def {name}(self, ask, title: str, message: str) -> bool:",
        "        if ask is None:",
        "            return False",
        "        try:",
        "            answer = await ask(",
        '                {"type": "confirmation", "data": {"title": title, "message": message}}',
        "            )",
        "        except Exception:",
        "            return False",
        "        # True (confirm), False (cancel), or a truthy error dict on timeout.",
        "        return answer is True",
    ]
    noun = _w(rng)
    return Helper(
        name, lines, f'confirmed = await self.{name}(ask, "Export {noun}", "Include {noun}?")'
    )


def _h_load_chat(rng: random.Random, name: str) -> Helper:
    role = rng.choice(["admin", "admin", "user"])
    lines = [
        f"    async def {name}(self, body: dict, user: dict) -> Optional[dict]:",
        f'        if user.get("role") != "{role}":',
        "            return None",
        '        chat_id = body.get("chat_id") or body.get("id") or ""',
        "        chat = Chats.get_chat_by_id(chat_id)",
        "        if chat is None:",
        "            return None",
        '        owner = Users.get_user_by_id(user.get("id", ""))',
        "        return {",
        '            "title": getattr(chat, "title", "Chat"),',
        '            "owner": getattr(owner, "name", "unknown"),',
        '            "messages": body.get("messages", []),',
        "        }",
    ]
    return Helper(name, lines, f"chat = await self.{name}(body, user)")


def _h_purge(rng: random.Random, name: str) -> Helper:
    lines = [
        f"    async def {name}(self, body: dict, user: dict, ask) -> bool:",
        '        if user.get("role") != "admin":',
        "            return False",
        "        answer = await ask(",
        "            {",
        '                "type": "confirmation",',
        '                "data": {"title": "Delete chat", "message": "This cannot be undone."},',
        "            }",
        "        )",
        "        if answer is not True:",
        "            return False",
        '        Chats.delete_chat_by_id(body.get("chat_id", ""))',
        "        return True",
    ]
    return Helper(name, lines, f"removed = await self.{name}(body, user, ask)")


def _h_style(rng: random.Random, name: str) -> Helper:
    entries = []
    for _ in range(rng.randint(6, 24)):
        entries.append(
            f'            "{_w(rng)}_{rng.randint(1, 99)}": {{"font": "{rng.choice(["Calibri", "Arial", "Georgia", "Consolas"])}", '
            f'"size": {rng.randint(8, 28)}, "bold": {rng.choice(["True", "False"])}, '
            f'"color": "#{rng.randint(0, 0xFFFFFF):06x}"}},'
        )
    lines = [
        f"    def {name}(self) -> dict:",
        "        return {",
        *entries,
        "        }",
    ]
    return Helper(name, lines, f"styles = self.{name}()")


def _h_small(rng: random.Random, name: str) -> Helper:
    choice = rng.randrange(5)
    if choice == 0:
        body = [
            f"    def {name}(self, value: str) -> str:",
            '        value = re.sub(r"[^\\w\\s-]", "", value).strip().lower()',
            '        return re.sub(r"[-\\s]+", "-", value) or "untitled"',
        ]
    elif choice == 1:
        body = [
            f"    def {name}(self, value: str, limit: int = {rng.randint(40, 400)}) -> str:",
            "        if len(value) <= limit:",
            "            return value",
            '        return value[: limit - 1].rstrip() + "…"',
        ]
    elif choice == 2:
        body = [
            f"    def {name}(self, items: list, size: int = {rng.randint(2, 50)}) -> list:",
            "        return [items[i : i + size] for i in range(0, len(items), size)]",
        ]
    elif choice == 3:
        body = [
            f"    def {name}(self, value: Any, low: int = 0, high: int = {rng.randint(10, 1000)}) -> int:",
            "        try:",
            "            number = int(value)",
            "        except (TypeError, ValueError):",
            "            number = low",
            "        return max(low, min(high, number))",
        ]
    else:
        body = [
            f"    def {name}(self, text: str) -> str:",
            "        return (",
            '            text.replace("&", "&amp;")',
            '            .replace("<", "&lt;")',
            '            .replace(">", "&gt;")',
            '            .replace(\'"\', "&quot;")',
            "        )",
        ]
    args = {0: "text", 1: "text", 2: "rows", 3: "len(rows)", 4: "text"}[choice]
    return Helper(name, body, f"value = self.{name}({args})")


def _h_table(rng: random.Random, name: str) -> Helper:
    lines = [
        f"    def {name}(self, rows: list) -> str:",
        "        if not rows:",
        '            return ""',
        "        width = max(len(row) for row in rows)",
        "        out = ['<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/></w:tblPr>']",
        "        for index, row in enumerate(rows):",
        '            out.append("<w:tr>")',
        "            for column in range(width):",
        '                cell = row[column] if column < len(row) else ""',
        "                if index == 0:",
        '                    cell = f"<w:r><w:rPr><w:b/></w:rPr><w:t>{html.escape(str(cell))}</w:t></w:r>"',
        "                else:",
        '                    cell = f"<w:r><w:t>{html.escape(str(cell))}</w:t></w:r>"',
        f'                shade = "{rng.choice(["F2F2F2", "EAF1FB", "FFF8E1"])}" if index % 2 else "FFFFFF"',
        "                out.append(f'<w:tc><w:tcPr><w:shd w:fill=\"{shade}\"/></w:tcPr><w:p>{cell}</w:p></w:tc>')",
        '            out.append("</w:tr>")',
        '        out.append("</w:tbl>")',
        '        return "".join(out)',
    ]
    return Helper(
        name, lines, f'grid = self.{name}([[r.get("role"), r.get("content")] for r in rows])'
    )


def _h_inline(rng: random.Random, name: str) -> Helper:
    lines = [
        f"    def {name}(self, text: str) -> list:",
        "        runs: list = []",
        "        position = 0",
        '        pattern = re.compile(r"(\\*\\*[^*]+\\*\\*|\\*[^*]+\\*|`[^`]+`|\\[[^\\]]+\\]\\([^)]+\\))")',
        "        while position < len(text):",
        "            match = pattern.search(text, position)",
        "            if match is None:",
        '                runs.append(("plain", text[position:]))',
        "                break",
        "            if match.start() > position:",
        '                runs.append(("plain", text[position : match.start()]))',
        "            token = match.group(0)",
        '            if token.startswith("**"):',
        '                runs.append(("bold", token[2:-2]))',
        '            elif token.startswith("`"):',
        '                runs.append(("code", token[1:-1]))',
        '            elif token.startswith("["):',
        '                label, _, target = token[1:-1].partition("](")',
        '                runs.append(("link", f"{label} <{target}>"))',
        "            else:",
        '                runs.append(("italic", token[1:-1]))',
        "            position = match.end()",
        "        return runs",
    ]
    return Helper(name, lines, f"runs = self.{name}(text)")


def _h_package(rng: random.Random, name: str) -> Helper:
    parts = rng.sample(
        [
            "[Content_Types].xml",
            "_rels/.rels",
            "word/document.xml",
            "word/styles.xml",
            "word/numbering.xml",
            "docProps/core.xml",
            "docProps/app.xml",
            "word/settings.xml",
        ],
        rng.randint(3, 8),
    )
    lines = [
        f"    def {name}(self, document: str, title: str) -> str:",
        "        buffer = io.BytesIO()",
        '        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:',
    ]
    for part in parts:
        if part == "word/document.xml":
            lines.append(
                '            archive.writestr("word/document.xml", '
                'f\'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                "<w:body>{document}</w:body></w:document>')"
            )
        else:
            lines.append(
                f'            archive.writestr("{part}", '
                f'f\'<?xml version="1.0" encoding="UTF-8"?><!-- {{html.escape(title)}} {part} -->\')'
            )
    lines += [
        '        return base64.b64encode(buffer.getvalue()).decode("ascii")',
    ]
    return Helper(name, lines, f'encoded = self.{name}(document, str(body.get("title", "chat")))')


TEMPLATES: tuple[tuple[Callable[[random.Random, str], Helper], str, int], ...] = (
    (_h_markdown_blocks, "md_blocks", 3),
    (_h_docx_writer, "write_docx", 3),
    (_h_html_page, "html_page", 2),
    (_h_nested_try, "load_payload", 3),
    (_h_status, "emit_status", 2),
    (_h_confirm, "confirm", 1),
    (_h_load_chat, "load_chat", 2),
    (_h_purge, "purge_chat", 1),
    (_h_style, "styles", 2),
    (_h_small, "util", 6),
    (_h_table, "table_xml", 2),
    (_h_inline, "inline_runs", 2),
    (_h_package, "package_docx", 1),
)


class HelperFactory:
    """Draws helper methods from the templates, with unique names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0
        self.weighted = [t for t in TEMPLATES for _ in range(t[2])]

    def make(self) -> Helper:
        template, stem, _ = self.rng.choice(self.weighted)
        self.count += 1
        return template(self.rng, f"_{stem}_{self.count}")


def stage_runners(
    helpers: list[Helper], group: int, prefix: str = "_stage"
) -> tuple[list[list[str]], list[str]]:
    """Stage methods that call every helper once; the calls `_export` makes to them."""
    methods: list[list[str]] = []
    calls: list[str] = []
    for start in range(0, len(helpers), group):
        name = f"{prefix}_{start // group}"
        lines = [
            f"    async def {name}(self, body: dict, user: dict, emitter, ask) -> dict:",
            '        rows = body.get("messages", [])',
            '        text = "\\n\\n".join(str(row.get("content", "")) for row in rows)',
            "        blocks: list = []",
            '        document = ""',
        ]
        for helper in helpers[start : start + group]:
            lines.append(f"        {helper.call}")
        lines.append('        return {"blocks": len(blocks), "document": len(document)}')
        methods.append(lines)
        calls.append(
            f"        results.append(await self.{name}(body, user, __event_emitter__, __event_call__))"
        )
    return methods, calls


def export_method(calls: list[str], name: str, role_check: bool) -> list[str]:
    lines = [
        f"    async def {name}(self, body: dict, __user__, __event_emitter__, __event_call__) -> dict:",
        "        user = __user__ or {}",
    ]
    if role_check:
        lines += [
            '        if user.get("role") != "admin":',
            "            await __event_emitter__(",
            '                {"type": "status", "data": {"description": "Admins only", "done": True}}',
            "            )",
            "            return body",
        ]
    lines += [
        "        await __event_emitter__(",
        '            {"type": "status", "data": {"description": "Preparing export…", "done": False}}',
        "        )",
        "        answer = await __event_call__(",
        '            {"type": "confirmation", "data": {"title": "Export", "message": "Export this chat?"}}',
        "        )",
        "        if answer is not True:",
        "            await __event_emitter__(",
        '                {"type": "status", "data": {"description": "Cancelled", "done": True}}',
        "            )",
        "            return body",
        '        chat = Chats.get_chat_by_id(body.get("chat_id", ""))',
        '        owner = Users.get_user_by_id(user.get("id", ""))',
        "        results: list = []",
        "        try:",
        '            results.append(getattr(chat, "id", None))',
        *["    " + call for call in calls],
        "        except Exception as error:",
        "            await __event_emitter__(",
        '                {"type": "status", "data": {"description": f"Export failed: {error}", "done": True}}',
        "            )",
        "            return body",
        '        encoded = base64.b64encode(json.dumps(len(results)).encode("utf-8")).decode("ascii")',
        '        title = getattr(chat, "title", None) or getattr(owner, "name", None) or "chat"',
        "        await __event_emitter__(",
        "            {",
        '                "type": "files",',
        '                "data": {',
        '                    "files": [',
        "                        {",
        '                            "type": "file",',
        '                            "name": f"{title}.docx",',
        '                            "url": f"data:application/octet-stream;base64,{encoded}",',
        "                        }",
        "                    ]",
        "                },",
        "            }",
        "        )",
        "        await __event_emitter__(",
        '            {"type": "status", "data": {"description": "Export ready", "done": True}}',
        "        )",
        "        return body",
    ]
    return lines


# --- composing a module -------------------------------------------------------------------


@dataclass
class Module:
    name: str
    text: str
    lines: int
    helpers: int  # methods of `class Action` other than action/__init__
    origins: list[str]


def _frontmatter(rng: random.Random, title: str) -> list[str]:
    return [
        '"""',
        f"title: {title}",
        "author: owui-lint bench (generated)",
        f"version: {rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "required_open_webui_version: 0.5.0",
        f"description: Generated from the project's examples and rule snippets ({title}).",
        "license: MIT",
        '"""',
        "",
    ]


def compose(
    rng: random.Random,
    name: str,
    target: int,
    parts: Sequence[Part],
    part_share: float,
    title: str,
    min_helpers: int = 0,
    helpers: list[Helper] | None = None,
) -> Module:
    """A module of about `target` lines: project parts plus generated helpers."""
    chosen: list[Part] = []
    budget = target * part_share
    while parts and sum(p.size for p in chosen) < budget:
        chosen.append(rng.choice(parts))
    factory = HelperFactory(rng)
    generated: list[Helper] = list(helpers or [])
    fixed_status = _h_status(rng, "_status")
    role_check = rng.random() < 0.7
    action_first = rng.random() < 0.5
    frontmatter = _frontmatter(rng, title)

    def assemble() -> tuple[list[str], int]:
        future: list[str] = []
        imports: list[str] = list(BASE_IMPORTS)
        toplevel: list[list[str]] = []
        valves: dict[str, list[str]] = {
            "priority": ['        priority: int = Field(default=0, description="Button order.")'],
            "accent": [
                '        accent: str = Field(default="EAF1FB", description="Callout fill.")'
            ],
        }
        user_valves: dict[str, list[str]] = {}
        init: list[str] = []
        members: list[list[str]] = []
        dispatch: list[str] = []
        helper_count = 0
        for index, part in enumerate(chosen):
            tag = f"p{index}"
            for line in part.future:
                if line not in future:
                    future.append(line)
            for imp in part.imports:
                if imp not in imports:
                    imports.append(imp)
            toplevel.extend(part.toplevel)
            for key, value in part.valves.items():
                valves.setdefault(key, value)
            for key, value in part.user_valves.items():
                user_valves.setdefault(key, value)
            for line in part.init_lines:
                if line not in init:
                    init.append(line)
            mapping = {m.name: f"{m.name}_{tag}" for m in part.methods}
            mapping["action"] = f"_flow_{tag}"
            for method in part.methods:
                members.append(_rename(method.lines, mapping))
                helper_count += 1
            assert part.flow is not None
            members.append(_rename(part.flow.lines, mapping))
            helper_count += 1
            dispatch += [
                f'        if mode == "{tag}":',
                f"            return {_flow_call(part, mapping['action'])}",
            ]
        stages, calls = stage_runners(generated, 8)
        for helper in generated:
            members.append(helper.lines)
        members.extend(stages)
        members.append(fixed_status.lines)
        members.append(export_method(calls, "_export", role_check))
        helper_count += len(generated) + len(stages) + 2
        out: list[str] = list(frontmatter)
        out += future
        out += imports
        out += ["", ""]
        for block in toplevel:
            out += block
            out += ["", ""]
        out += ["class Action:", "    class Valves(BaseModel):"]
        for value in valves.values():
            out += value
        if user_valves:
            out += ["", "    class UserValves(BaseModel):"]
            for value in user_valves.values():
                out += value
        out += ["", "    def __init__(self):", "        self.valves = self.Valves()"]
        out += init
        action = [
            "    async def action(",
            "        self,",
            "        body: dict,",
            *[f"        {param}=None," for param in ACTION_PARAMS],
            "    ) -> dict:",
            '        mode = str(body.get("mode") or "export")',
            '        await self._status(__event_emitter__, f"Running {mode}…")',
            *dispatch,
            "        return await self._export(body, __user__, __event_emitter__, __event_call__)",
        ]
        if action_first:
            members.insert(0, action)
        else:
            members.append(action)
        for block in members:
            out.append("")
            out += block
        return out, helper_count

    lines, count = assemble()
    while len(lines) < target or count < min_helpers:
        # Of a few candidates, the one that lands nearest the target (no big overshoot).
        best: tuple[int, Helper] | None = None
        for _ in range(4):
            candidate = factory.make()
            size = len(lines) + len(candidate.lines) + 2
            miss = abs(target - size) if size >= target else 0
            if best is None or miss < best[0]:
                best = (miss, candidate)
        assert best is not None
        generated.append(best[1])
        lines, count = assemble()
    text = "\n".join(lines) + "\n"
    try:
        tree = ast.parse(text, filename=name)
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as error:  # a bug of this generator
        raise RuntimeError(f"generated module {name} is not valid Python: {error}") from error
    if not any(isinstance(n, ast.ClassDef) and n.name == "Action" for n in tree.body):
        raise RuntimeError(f"generated module {name} has no module-level class Action")
    return Module(name, text, text.count("\n"), count, [p.origin for p in chosen])


def scaling_family(rng: random.Random, base_lines: int, copies: Sequence[int]) -> list[Module]:
    """1x, 2x, 4x, 8x copies of one set of helper methods (renamed per copy)."""
    factory = HelperFactory(rng)
    base: list[Helper] = []
    while sum(len(h.lines) + 1 for h in base) < base_lines:
        base.append(factory.make())
    modules = []
    for count in copies:
        helpers = []
        for copy in range(count):
            for helper in base:
                new = f"{helper.name}_c{copy}"
                lines = _rename(helper.lines, {helper.name: new})
                helpers.append(Helper(new, lines, helper.call.replace(helper.name, new, 1)))
        module = compose(
            random.Random(SEED), f"scale_{count}x.py", 0, [], 0.0, f"Scaling {count}x", 0, helpers
        )
        modules.append(module)
    return modules


@dataclass
class Plan:
    modules: int
    big: int
    small_range: tuple[int, int]
    big_range: tuple[int, int]
    single: int
    largest: int
    largest_helpers: int
    memory: int
    memory_helpers: int
    scale_base: int


FULL = Plan(80, 6, (300, 1500), (2000, 3500), 300, 3500, 100, 5000, 100, 440)
QUICK = Plan(10, 1, (300, 800), (1500, 1800), 300, 1200, 35, 1500, 30, 110)


@dataclass
class Corpus:
    root: Path
    actions: Path
    actions_files: list[Module]
    single: Path
    largest: Path
    largest_module: Module
    memory: Path
    memory_module: Module
    tiny: Path
    scaling: list[tuple[int, Path, Module]]

    def describe(self) -> dict[str, object]:
        sizes = [m.lines for m in self.actions_files]
        buckets = {"<300": 0, "300-1499": 0, "1500-1999": 0, "2000-3500": 0, ">3500": 0}
        for size in sizes:
            if size < 300:
                buckets["<300"] += 1
            elif size < 1500:
                buckets["300-1499"] += 1
            elif size < 2000:
                buckets["1500-1999"] += 1
            elif size <= 3500:
                buckets["2000-3500"] += 1
            else:
                buckets[">3500"] += 1
        return {
            "files": len(sizes),
            "lines": sum(sizes),
            "median_lines": sorted(sizes)[len(sizes) // 2] if sizes else 0,
            "max_lines": max(sizes, default=0),
            "buckets": buckets,
            "project_sources_used": len({o for m in self.actions_files for o in m.origins}),
        }


# The start-up reference of the scaling table: about the smallest useful action.
TINY = '''"""
title: Word Count
description: Shows the number of words of the last message.
"""

from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        priority: int = Field(default=0, description="Button order.")

    def __init__(self):
        self.valves = self.Valves()

    async def action(self, body: dict, __user__=None, __event_emitter__=None) -> dict:
        words = len(str(body["messages"][-1].get("content", "")).split())
        await __event_emitter__(
            {"type": "status", "data": {"description": f"{words} words", "done": True}}
        )
        return body
'''

ROOT_CONFIG = """\
# Generated by bench/corpus.py: makes this directory its own project root, so the
# linters use their defaults and not the configuration of the checkout around it.
[tool.fixit]
root = true
"""


def build(out: Path, quick: bool = False, repo: Path = REPO) -> Corpus:
    """Write the corpus under `out` (emptied first) and describe it."""
    plan = QUICK if quick else FULL
    parts = load_parts(repo)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pyproject.toml").write_text(ROOT_CONFIG, encoding="utf-8")
    actions = out / "actions"
    actions.mkdir(exist_ok=True)
    for old in actions.glob("*.py"):
        old.unlink()
    # One generator per module, so that the sizes stay the same when the project's
    # examples and tests (the parts) change; only what fills them follows the project.
    modules: list[Module] = []
    low, high = plan.small_range
    big = set(random.Random(SEED).sample(range(plan.modules), plan.big))
    for index in range(plan.modules):
        rng = random.Random(SEED * 1000 + index)
        kind = KINDS[index % len(KINDS)]
        if index in big:
            target = rng.randint(*plan.big_range)
            share = 0.1
        else:
            target = int(math.exp(rng.uniform(math.log(low), math.log(high))))
            share = rng.uniform(0.25, 0.5)
        name = f"{index:03d}_{kind}.py"
        module = compose(rng, name, target, parts, share, kind.replace("_", " ").title())
        (actions / name).write_text(module.text, encoding="utf-8")
        modules.append(module)
    single_dir = out / "single"
    single_dir.mkdir(exist_ok=True)
    single = compose(
        random.Random(SEED + 2), "action_300.py", plan.single, parts, 0.4, "Pre-commit sized"
    )
    largest = compose(
        random.Random(SEED + 3),
        "largest.py",
        plan.largest,
        parts,
        0.05,
        "Document exporter",
        plan.largest_helpers,
    )
    memory = compose(
        random.Random(SEED + 4),
        "memory.py",
        plan.memory,
        parts,
        0.05,
        "Very large exporter",
        plan.memory_helpers,
    )
    tiny = single_dir / "tiny.py"
    tiny.write_text(TINY, encoding="utf-8")
    for module in (single, largest, memory):
        (single_dir / module.name).write_text(module.text, encoding="utf-8")
    scaling = []
    copies = (1, 2, 4, 8)
    for count, module in zip(
        copies, scaling_family(random.Random(SEED + 1), plan.scale_base, copies), strict=True
    ):
        path = single_dir / module.name
        path.write_text(module.text, encoding="utf-8")
        scaling.append((count, path, module))
    return Corpus(
        out,
        actions,
        modules,
        single_dir / single.name,
        single_dir / largest.name,
        largest,
        single_dir / memory.name,
        memory,
        tiny,
        scaling,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    corpus = build(args.out, args.quick)
    print(json.dumps(corpus.describe(), indent=2))
    for path, module in [
        (corpus.single, None),
        (corpus.largest, corpus.largest_module),
        (corpus.memory, corpus.memory_module),
    ]:
        lines = path.read_text(encoding="utf-8").count("\n")
        helpers = f", {module.helpers} helper methods" if module else ""
        print(f"{path.relative_to(args.out)}: {lines} lines{helpers}")
    for _, path, module in corpus.scaling:
        print(
            f"{path.relative_to(args.out)}: {module.lines} lines, {module.helpers} helper methods"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
