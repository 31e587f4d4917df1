"""`--format html`: one self-contained page, parsed the way a browser parses it (html5lib
implements the WHATWG parsing algorithm), for `audit` and for `check`.

Function names, ids, descriptions and source come from the audited server and are
untrusted: none of them may become markup, let alone a script.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest

from tests.test_audit import (
    CLEAN,
    DELETES_USERS,
    FUNCTIONS,
    SYNC_ACTION,
    build_db,
    build_export,
    run,
)

EXAMPLES = Path(__file__).parent.parent / "examples"


def parse(text: str) -> Element:
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    root: Element = parser.parse(text)
    assert not parser.errors, parser.errors[:5]  # well-formed: a browser builds the same tree
    return root


def text_of(node: Element | None) -> str:
    assert node is not None, "element missing from the page"
    return "".join(node.itertext())


def by_class(root: Element, tag: str, css: str) -> list[Element]:
    return [e for e in root.iter(tag) if css in (e.get("class") or "").split()]


def assert_inert(root: Element) -> None:
    """No script, no handler, nothing loaded from anywhere: the page works offline."""
    tags = {e.tag for e in root.iter()}
    assert not tags & {"script", "iframe", "object", "embed", "link", "img", "base", "form"}
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert value.startswith("#"), (element.tag, name, value)
        assert "javascript:" not in (element.get("href") or "")
    csp = [m for m in root.iter("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and "default-src 'none'" in (csp[0].get("content") or "")
    styles = "".join(text_of(s) for s in root.iter("style"))
    assert "url(" not in styles and "@import" not in styles


@pytest.fixture
def audit_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Element:
    monkeypatch.chdir(tmp_path)
    build_db(tmp_path / "webui.db")
    code, out, err = run("audit", "webui.db", "--format", "html", "-o", "report.html")
    assert (code, out, err) == (1, "", "")
    return parse((tmp_path / "report.html").read_text("utf-8"))


def test_audit_page_structure(audit_page: Element) -> None:
    assert_inert(audit_page)
    assert text_of(audit_page.find(".//title")) == "owui-lint audit of webui.db"
    summary = text_of(by_class(audit_page, "p", "summary")[0])
    assert summary == (
        "3 findings (2 errors, 1 warning): 5 functions audited of 7"
        " (2 of other types not audited; --all-types lints them)."
    )
    # Ranked by risk, with badges for type, active/inactive and global.
    rows = by_class(audit_page, "tr", "subject-row")
    ranked = [
        (
            row.get("data-path"),
            text_of(row[0]),
            [text_of(b) for b in by_class(row, "span", "badge")],
        )
        for row in rows
    ]
    assert ranked == [
        ("function:delete_users", "error", ["action", "active", "global"]),
        ("function:dormant_delete", "error", ["action", "inactive"]),
        ("function:sync_one", "warning", ["action", "active"]),
        ("function:clean_one", "clean", ["action", "active"]),
        ("function:helper_only", "skipped", ["action", "inactive"]),
    ]
    # Counts per rule family.
    families = {
        row.get("data-family"): [text_of(td) for td in row[1:]]
        for row in audit_page.iter("tr")
        if row.get("data-family")
    }
    assert families == {"authorization": ["2", "2", "0", "0"], "scaffold": ["1", "0", "1", "0"]}
    # Each finding: its location, message, source excerpt (the reported line marked) and
    # the rule's "why" and "fix" from its documentation.
    findings = by_class(audit_page, "div", "finding")
    assert [f.get("data-rule") for f in findings] == ["OWA301", "OWA301", "OWA107"]
    first = findings[0]
    assert text_of(by_class(first, "p", "location")[0]) == "function:delete_users:12:15"
    hit = by_class(first, "span", "hit")
    assert len(hit) == 1
    assert (
        text_of(hit[0])
        == '12         await Users.delete_user_by_id(body["messages"][-1]["content"])'
    )
    code = by_class(first, "pre", "excerpt")[0].find("code")
    assert code is not None
    excerpt = [text_of(line) for line in code]  # two lines of context on each side
    assert [line.split(" ", 1)[0] for line in excerpt] == ["10", "11", "12", "13", "14"]
    assert excerpt[2] == text_of(hit[0])
    why = text_of(by_class(first, "div", "why")[0])
    fix = by_class(first, "div", "fix")[0]
    assert "and runs action for whoever clicks it" in " ".join(why.split())
    assert "action" in [text_of(c) for c in by_class(first, "div", "why")[0].iter("code")]
    assert 'if __user__["role"] != "admin":' in text_of(fix.find(".//pre"))
    # Each function's section links from the ranking and carries its badges.
    links = [a.get("href") or "" for a in audit_page.iter("a")]
    sections = {s.get("id") for s in by_class(audit_page, "section", "subject")}
    assert links and {link[1:] for link in links} == sections


def test_valve_values_stay_out_of_the_page(audit_page: Element) -> None:
    text = "".join(audit_page.itertext()) + json.dumps([e.attrib for e in audit_page.iter()])
    assert "STORED-VALVE" not in text


HOSTILE_NAME = '</td></tr></table><script>alert("name")</script><img src=x onerror=alert(1)>'
HOSTILE_ID = 'x"><svg onload=alert(2)>'
HOSTILE_DESCRIPTION = "<iframe src=https://evil.example/></iframe>"
HOSTILE_ROLE = "</p><script>alert(`role`)</script>"
HOSTILE_LINE = "# </code></pre><script>alert('source')</script><a href=javascript:alert(3)>"


def test_untrusted_names_ids_and_source_stay_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    content = SYNC_ACTION.replace("    def action", f"    {HOSTILE_LINE}\n    def action")
    hostile = dict(FUNCTIONS[3], id=HOSTILE_ID, name=HOSTILE_NAME, content=content)
    # A rule message that quotes source text (OWA302 quotes the role compared with).
    quoted = DELETES_USERS.replace(
        "        await",
        f'        if __user__["role"] != "{HOSTILE_ROLE}":\n            return None\n        await',
    )
    build_export(tmp_path / "export.json", [hostile, dict(FUNCTIONS[1], content=quoted)])
    data = json.loads((tmp_path / "export.json").read_text())
    data[0]["meta"]["description"] = HOSTILE_DESCRIPTION
    (tmp_path / "export.json").write_text(json.dumps(data))
    code, _, _ = run("audit", "export.json", "--format", "html", "-o", "report.html")
    assert code == 1
    page = (tmp_path / "report.html").read_text("utf-8")
    root = parse(page)
    assert_inert(root)
    # The hostile strings are there, as text, where the page shows them.
    row = next(r for r in by_class(root, "tr", "subject-row") if "svg" in r.get("data-path", ""))
    assert row.get("data-path") == f"function:{HOSTILE_ID}"
    assert HOSTILE_NAME in text_of(row)
    section = next(
        s
        for s in by_class(root, "section", "subject")
        if s.get("data-path") == row.get("data-path")
    )
    assert HOSTILE_NAME in text_of(section.find("h2"))
    assert HOSTILE_DESCRIPTION in text_of(section)
    excerpt = text_of(by_class(section, "pre", "excerpt")[0])
    assert HOSTILE_LINE in excerpt
    messages = [text_of(p) for p in by_class(root, "p", "message")]
    assert any('compared with "</p><script>alert(role)</script>"' in m for m in messages)
    # And nothing of them became markup.
    assert "<script" not in page.replace("&lt;script", "")
    assert "<svg" not in page and "<iframe" not in page and "<img" not in page


def test_check_html_ranks_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "admin.py").write_text(DELETES_USERS)
    (tmp_path / "plugins" / "sync.py").write_text(SYNC_ACTION)
    (tmp_path / "plugins" / "clean.py").write_text(CLEAN)
    code, out, _ = run("check", "plugins", "--format", "html")
    assert code == 1
    root = parse(out)
    assert_inert(root)
    assert text_of(root.find(".//title")) == "owui-lint check of plugins"
    rows = [(r.get("data-path"), text_of(r[0])) for r in by_class(root, "tr", "subject-row")]
    assert rows == [("plugins/admin.py", "error"), ("plugins/sync.py", "warning")]
    assert not by_class(root, "span", "badge-active")  # files have no active/global state
    assert text_of(by_class(root, "p", "summary")[0]) == (
        "2 findings (1 error, 1 warning): 3 files checked, 3 actions analysed, 0 skipped"
        " (not actions)."
    )
    assert len(by_class(root, "div", "finding")) == 2


def test_check_html_on_the_bundled_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    code, out, _ = run("check", "examples", "--format", "html", "--no-cache")
    assert code == 1
    root = parse(out)
    assert_inert(root)
    findings = by_class(root, "div", "finding")
    assert findings and all(by_class(f, "pre", "excerpt") for f in findings)
    assert all(by_class(f, "div", "why") and by_class(f, "div", "fix") for f in findings)


HARDCODED = "sk-proj-Qw8eR4tY2uI9oP3aS7dF1gH6jK0lZ5xC"
SECRET_ACTION = (
    '"""\ntitle: T\nauthor: me\nversion: 0.1.0\ndescription: D\n"""\n'
    "from pydantic import BaseModel\n"
    "\n"
    "\n"
    "class Action:\n"
    "    class Valves(BaseModel):\n"
    f'        api_key: str = "{HARDCODED}"\n'
    "        region: str\n"
    "\n"
    "    def __init__(self):\n"
    '        self.valves = self.Valves(region="eu")\n'
    "\n"
    "    async def action(self, body, __user__=None):\n"
    "        return None\n"
)


def test_a_hardcoded_secret_is_masked_in_every_excerpt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    build_export(tmp_path / "export.json", [dict(FUNCTIONS[0], content=SECRET_ACTION)])
    code, out, _ = run("audit", "export.json", "--format", "html")
    assert code == 1
    root = parse(out)
    rules = [f.get("data-rule") for f in by_class(root, "div", "finding")]
    assert rules == ["OWA204", "OWA205", "OWA202"]  # OWA202's excerpt shows line 12 too
    assert HARDCODED not in out and HARDCODED[3:12] not in out
    masked = f'api_key: str = "sk-{"*" * (len(HARDCODED) - 3)}"'
    excerpts = [text_of(p) for p in by_class(root, "pre", "excerpt")]
    assert len(excerpts) == 3 and all(masked in e for e in excerpts)
    assert "class Valves(BaseModel):" in excerpts[2]  # the other lines are shown as they are
