"""What reporters show beyond the findings: source excerpts without secrets, and SARIF's
links to the tool and its rule pages, CWE tags and notifications."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.reporters.base import ProjectUrls, _from_direct_url, project_urls

SECRET = "sk-live-0123456789abcdef0123"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
MODULE = f'''"""
title: Secrets
description: fixture
"""

from pydantic import BaseModel, Field


class Action:
    class Valves(BaseModel):
        api_key: str = Field(
            default="{SECRET}", json_schema_extra={{"input": {{"type": "password"}}}}
        )
        token: str = "{TOKEN}"

    def __init__(self):
        self.valves = self.Valves()

    async def action(self, body):
        return None
'''


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets.py").write_text(MODULE)
    return tmp_path


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_show_source_never_prints_a_hardcoded_secret(secrets: Path, fmt: str) -> None:
    code, out, err = run("check", ".", "--show-source", "--format", fmt, "--statistics")
    assert code == 1
    for value in (SECRET, TOKEN, SECRET[4:], TOKEN[4:]):
        assert value not in out and value not in err
    if fmt == "text":
        # The excerpts are there, masked at the same width, so the carets still line up.
        assert f'   14 |         token: str = "ghp{"*" * (len(TOKEN) - 3)}"' in out
        assert "   11 |         api_key: str = Field(" in out


def test_sarif_links_cwe_and_notifications(secrets: Path) -> None:
    (secrets / "broken.py").write_text("class Action:\n    def f(self)\n")
    code, out, _ = run("check", ".", "--format", "sarif")
    assert code == 1
    run_ = json.loads(out)["runs"][0]
    driver = run_["tool"]["driver"]
    urls = project_urls()
    assert urls.home is not None, "this checkout's tests run from an installed checkout"
    assert driver["informationUri"] == urls.home
    rules = {r["id"]: r for r in driver["rules"]}
    assert "external/cwe/cwe-356" in rules["OWA401"]["properties"]["tags"]
    assert "security" in rules["OWA401"]["properties"]["tags"]
    for rule in rules.values():
        assert rule["helpUri"].endswith(f"/docs/rules/{rule['id']}.md")
        if rule["helpUri"].startswith("file://"):  # a local checkout: the page exists
            assert Path(unquote(urlparse(rule["helpUri"]).path)).is_file()
    [note] = run_["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"] == "expected ':'"  # the location names the file
    location = note["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "broken.py"


def test_links_come_from_where_the_tool_was_installed() -> None:
    github = {
        "url": "https://github.com/example/owui-lint.git",
        "vcs_info": {"vcs": "git", "commit_id": "0123abc"},
    }
    assert _from_direct_url(github) == ProjectUrls(
        "https://github.com/example/owui-lint",
        "https://github.com/example/owui-lint/blob/0123abc/docs/rules/",
    )
    assert _from_direct_url({**github, "url": "git+https://git.example.org/owui-lint"}) == (
        ProjectUrls("https://git.example.org/owui-lint")
    )
    # A token in the install URL never becomes a link in a report.
    leaked = {**github, "url": "https://x-access-token:ghs_1@github.com/example/owui-lint"}
    assert _from_direct_url(leaked) == ProjectUrls()
    assert _from_direct_url({"url": "ssh://git@github.com/x/y", "vcs_info": {}}) == ProjectUrls()
    checkout = Path(__file__).resolve().parent.parent
    local = _from_direct_url({"url": checkout.as_uri(), "dir_info": {"editable": True}})
    assert local.home == checkout.as_uri() + "/"
    assert local.rule_uri("OWA301") == checkout.as_uri() + "/docs/rules/OWA301.md"
    assert _from_direct_url({"url": "https://example.org/x.whl", "archive_info": {}}) == (
        ProjectUrls()
    )
