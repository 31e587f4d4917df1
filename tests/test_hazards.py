"""The OWA6 rules (rules/hazards.py): what users see beyond each rule's own examples."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.api import lint_text
from analyzer.cli import main
from analyzer.config import Settings
from analyzer.findings import Confidence
from analyzer.registry import all_rules, rule_by_code
from rules.hazards import unsafe_requirement
from rules.scaffold import frontmatter

README = Path(__file__).resolve().parent.parent / "README.md"


def findings(source: str, select: str) -> list[tuple[str, int, str, Confidence]]:
    result = lint_text(textwrap.dedent(source).lstrip("\n"), Settings(select=(select,)))
    assert not result.errors, result.errors
    return [(f.rule, f.location.line, f.message, f.confidence) for f in result.findings]


def lines(source: str, select: str) -> list[int]:
    return [line for _, line, _, _ in findings(source, select)]


def test_the_catalog_is_complete() -> None:
    codes = [rule.code for rule in all_rules()]
    assert [c for c in codes if c.startswith("OWA6")] == [f"OWA60{i}" for i in range(1, 8)]
    assert len(codes) == 46
    table = README.read_text(encoding="utf-8")
    for rule in all_rules():
        # Each id links to its generated page (docs/rules, tests/test_rule_docs.py).
        assert f"| [{rule.code}](docs/rules/{rule.code}.md) | {rule.name} |" in table


@pytest.mark.parametrize(
    ("code", "cwes"),
    [("OWA601", ["94", "78", "22"]), ("OWA602", ["829"]), ("OWA606", ["918"])],
)
def test_security_rules_carry_their_cwe_in_sarif(code: str, cwes: list[str]) -> None:
    rule = rule_by_code(code)
    assert rule is not None and rule.security
    assert rule.tags()[: len(cwes) + 1] == ["security", *[f"external/cwe/cwe-{n}" for n in cwes]]
    assert rule.severity_score() is not None


@pytest.mark.parametrize("code", [f"OWA60{i}" for i in range(1, 8)])
def test_explain_shows_the_four_sections(code: str) -> None:
    result = CliRunner().invoke(main, ["explain", code])
    assert result.exit_code == 0, result.output
    for title in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert f"## {title}" in result.output


def test_sarif_output_has_the_rule_metadata(tmp_path: Path) -> None:
    module = tmp_path / "hazard.py"
    module.write_text(
        "import logging\nlogging.basicConfig(level=10)\n\n"
        "class Action:\n    async def action(self, body):\n        return body\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["check", str(module), "--no-cache", "--select", "OWA6", "--format", "sarif"]
    )
    sarif = json.loads(result.output)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert "external/cwe/cwe-918" in rules["OWA606"]["properties"]["tags"]
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["OWA607"]


# --- OWA601 -----------------------------------------------------------------------------------


def test_a_shell_raises_the_confidence_of_a_process_call() -> None:
    source = """
        import subprocess

        class Action:
            async def action(self, body):
                name = body["name"]
                subprocess.run(["convert", name, "out.png"], check=True)
                subprocess.run(f"convert {name} out.png", shell=True)
        """
    found = findings(source, "OWA601")
    assert [(line, confidence) for _, line, _, confidence in found] == [
        (6, Confidence.MEDIUM),
        (7, Confidence.HIGH),
    ]
    assert "command or argument injection" in found[0][2]
    assert "`shlex.quote`" in found[1][2]


def test_server_set_user_fields_are_trusted_in_paths() -> None:
    source = """
        import os

        class Action:
            async def action(self, body, __user__=None):
                os.makedirs(os.path.join("/data", __user__["id"]), exist_ok=True)
                os.makedirs(os.path.join("/data", __user__.get("role", "user")), exist_ok=True)
                os.makedirs(os.path.join("/data", __user__["name"]), exist_ok=True)
        """
    found = findings(source, "OWA601")
    assert [(line, confidence) for _, line, _, confidence in found] == [(7, Confidence.MEDIUM)]


def test_unsafe_yaml_and_marshal() -> None:
    source = """
        import marshal
        import yaml

        class Action:
            async def action(self, body):
                a = yaml.load(body["config"])
                b = yaml.load(body["config"], Loader=yaml.FullLoader)
                c = yaml.load(body["config"], Loader=yaml.SafeLoader)
                d = marshal.loads(bytes.fromhex(body["blob"]))
                return {"content": str((a, b, c, d))}
        """
    assert lines(source, "OWA601") == [6, 7, 9]


# --- OWA602 / OWA603 ---------------------------------------------------------------------------


def test_frontmatter_is_read_like_the_loader() -> None:
    text = '"""\ntitle: X\nrequirements: a, -r extra.txt\n"""\n'
    assert frontmatter(text)["requirements"] == (3, "a, -r extra.txt")
    assert frontmatter("'''\nrequirements: -e x\n'''\n") == {}
    assert "requirements" not in frontmatter('"""\nRequirements: -e x\n"""\n')
    assert frontmatter('#!/usr/bin/env python\n"""\nrequirements: -e x\n"""\n') == {}
    assert unsafe_requirement("requests==2.32.3") is None
    assert unsafe_requirement("pkg[extra]>=1; python_version >= '3.11'") is None
    assert unsafe_requirement("pkg @ https://x/y.whl") is not None
    assert unsafe_requirement("-r extra.txt") is not None


def test_each_unsafe_requirement_is_one_finding_on_line_1() -> None:
    source = '''
        """
        title: T
        requirements: --index-url https://mirror.example/simple, git+https://x/y.git, ok==1
        """

        class Action:
            async def action(self, body):
                return body
        '''
    found = findings(source, "OWA602")
    assert [line for _, line, _, _ in found] == [1, 1]
    assert "(line 3)" in found[0][2]


def test_rewrite_hazard_each_occurrence_comments_skipped() -> None:
    source = """
        # from config files
        import configparser
        HELP = "Pick answers from main sources, from utils, or from apps."

        class Action:
            async def action(self, body):
                return {"content": HELP + " from config"}
        """
    assert lines(source, "OWA603") == [3, 3, 3, 7]


# --- OWA604 -----------------------------------------------------------------------------------


def test_unawaited_module_level_and_builtin_argument() -> None:
    source = """
        from open_webui.models.models import Models

        DEFAULT = Models.get_all_models()

        class Action:
            async def action(self, body):
                print(len(Models.get_all_models()))
                return {"content": str(DEFAULT)}
        """
    found = findings(source, "OWA604")
    assert [line for _, line, _, _ in found] == [3, 7]
    assert "module-level code cannot await" in found[0][2]
    assert "passed to `len`" in found[1][2]


def test_a_helper_returning_the_coroutine_is_fine_when_awaited() -> None:
    source = """
        import asyncio
        from open_webui.models.chats import Chats

        class Action:
            def _chat(self, chat_id):
                return Chats.get_chat_by_id(chat_id)

            def _threaded(self, chat_id):
                return Chats.get_chat_by_id(chat_id)

            async def action(self, body):
                chat = await self._chat(body["chat_id"])
                other = await asyncio.to_thread(self._threaded, body["chat_id"])
                return {"content": chat.title + other.title}
        """
    found = findings(source, "OWA604")
    assert [line for _, line, _, _ in found] == [9]
    assert "the thread of line 13 returns unawaited" in found[0][2]


# --- OWA605 / OWA606 / OWA607 ------------------------------------------------------------------


def test_instance_state_in_a_helper_names_the_path() -> None:
    source = """
        class Action:
            async def _prepare(self, body, emitter):
                self.emit = emitter
                self.title = body["title"]

            async def action(self, body, __event_emitter__=None):
                await self._prepare(body, __event_emitter__)
        """
    found = findings(source, "OWA605")
    assert [line for _, line, _, _ in found] == [3, 4]
    assert all("line 7 reaches it through Action._prepare" in m for _, _, m, _ in found)


def test_url_host_from_admin_valves_or_a_literal_is_fixed() -> None:
    source = """
        import httpx

        class Action:
            async def action(self, body, __user__=None):
                uv = __user__["valves"]
                async with httpx.AsyncClient() as client:
                    await client.get(f"https://api.example.com/{uv.path}")
                    await client.get(self.valves.base_url + "/" + body["chat_id"])
                    await client.get(f"{uv.base_url}/v1/models")
                    await client.get("https://" + uv.host + "/v1/models")
        """
    assert lines(source, "OWA606") == [9, 10]


def test_side_effects_inside_module_functions_called_at_import() -> None:
    source = """
        import os
        import sys

        def _setup():
            _prepare_dirs()

        def _prepare_dirs():
            os.makedirs("/tmp/exports", exist_ok=True)

        _setup()
        sys.path.insert(0, "/opt/vendor")

        class Action:
            async def action(self, body):
                return body
        """
    found = findings(source, "OWA607")
    assert [line for _, line, _, _ in found] == [10, 11]
    assert "`_setup()` runs at import and calls `os.makedirs` (line 8)" in found[0][2]
    assert "import path" in found[1][2]


def test_sinks_called_for_you_by_a_thread() -> None:
    source = """
        import asyncio
        import os

        import requests

        class Action:
            async def action(self, body, __user__=None):
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, os.remove, "/tmp/" + body["name"])
                await asyncio.to_thread(requests.get, body["url"], timeout=10)
                await asyncio.to_thread(requests.get, "https://api.example.com/" + body["id"])
        """
    assert lines(source, "OWA601") == [9]
    assert lines(source, "OWA606") == [10]


def test_one_line_blocks_and_the_else_of_a_main_guard_run_at_import() -> None:
    source = """
        import logging

        if not logging.getLogger().handlers: logging.basicConfig(level=logging.INFO)

        if __name__ == "__main__":
            logging.basicConfig(level=logging.DEBUG)
        else:
            logging.getLogger().setLevel(logging.WARNING)

        class Action:
            async def action(self, body):
                logging.basicConfig()
                return body
        """
    assert lines(source, "OWA607") == [3, 8]


def test_nested_blocks_share_what_decides_they_run_at_import() -> None:
    """Statements under the same blocks are decided together: the `else` of a main guard
    runs, its body (nested blocks included) does not, nor does a function's body."""
    source = """
        import logging
        from typing import TYPE_CHECKING

        if __name__ == "__main__":
            if logging:
                logging.basicConfig(level=logging.DEBUG)
            logging.basicConfig()
        else:
            if TYPE_CHECKING:
                logging.basicConfig()
            else:
                logging.basicConfig(level=logging.INFO)
            logging.getLogger().setLevel(logging.WARNING)

        class Action:
            if __name__ == "__main__":
                logging.basicConfig()
            logging.basicConfig()

            def helper(self):
                if TYPE_CHECKING:
                    logging.basicConfig()
                logging.basicConfig()

            async def action(self, body):
                return body
        """
    assert lines(source, "OWA607") == [12, 13, 18]


def test_instance_state_grown_with_augmented_assignment() -> None:
    source = """
        class Action:
            def __init__(self):
                self.history = []
                self.clicks = 0

            async def action(self, body, __user__=None):
                self.clicks += 1
                self.history += [m["content"] for m in body["messages"]]
                return {"content": str(len(self.history))}
        """
    assert lines(source, "OWA605") == [8]


def test_instance_state_on_a_base_class_of_action() -> None:
    source = """
        class Base:
            def _remember(self, body):
                self.last_chat = body["chat_id"]

        class Action(Base):
            async def action(self, body):
                self._remember(body)
                return body
        """
    assert lines(source, "OWA605") == [3]


def test_process_wide_settings_at_import() -> None:
    source = """
        import warnings
        import nest_asyncio

        warnings.filterwarnings("ignore")
        nest_asyncio.apply()

        class Action:
            async def action(self, body):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                return body
        """
    found = findings(source, "OWA607")
    assert [line for _, line, _, _ in found] == [4, 5]
    assert "process-wide setting" in found[0][2]


def test_a_session_kept_on_the_instance_is_a_client() -> None:
    source = """
        import requests

        class Action:
            def __init__(self):
                self.session = requests.Session()

            async def action(self, body):
                page = self.session.get(body["messages"][-1]["content"].strip(), timeout=10)
                return {"content": page.text[:200]}
        """
    assert lines(source, "OWA606") == [8]


def test_a_data_layer_singleton_re_exported_by_another_module() -> None:
    source = """
        from open_webui.routers.users import Users

        class Action:
            async def action(self, body, __user__=None):
                user = Users.get_user_by_id(__user__["id"])
                return {"content": user.name}
        """
    assert lines(source, "OWA604") == [5]


def test_import_time_code_is_found_around_functions_lambdas_and_nested_classes() -> None:
    """OWA607 skips function and lambda bodies by position; the code between, after and
    around them (module level, class bodies, module-level blocks) is still read."""
    source = """
        import requests

        requests.get("https://a.example")  # 3

        def helper():
            requests.get("https://b.example")

            class Inner:
                requests.get("https://c.example")

            return lambda: requests.get("https://d.example")

        class Action:
            requests.get("https://e.example")  # 14

            def action(self, body):
                def nested():
                    requests.get("https://f.example")
                requests.get("https://g.example")

            requests.get("https://h.example")  # 21

        if __name__ == "__main__":
            requests.get("https://i.example")
        else:
            requests.get("https://j.example")  # 26
        f = lambda: requests.get("https://k.example")
        requests.get("https://l.example")  # 28
        """
    assert lines(source, "OWA607") == [3, 14, 21, 26, 28]
