"""OWA2 (Valves) beyond the embedded examples: the secret classifier, masking, name tokens,
and edge cases of name resolution and alias tracking."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.config import Settings
from analyzer.findings import Confidence
from analyzer.model import ActionModule, SourceFile
from analyzer.rule import LintRule, Report, RuleContext
from rules.valves import (
    HardcodedSecret,
    PriorityOutsideValves,
    SecretValveNotMasked,
    UserValvesAsDict,
    ValvesFieldRequired,
    ValvesNotBaseModel,
    ValvesNotInitialized,
    classify_secret,
    is_secret_name,
    name_tokens,
)


def run(rule: type[LintRule], source: str) -> list[Report]:
    """Run one rule's `check()` on a snippet, without the registry (rules here need no visits)."""
    text = textwrap.dedent(source).lstrip("\n")
    module = ActionModule(SourceFile("example.py", text), cst.parse_module(text))
    context = RuleContext(module, Settings())
    instance = rule(context)
    instance.run_check()
    assert instance.crash is None, instance.crash
    return context.reports


def lines(rule: type[LintRule], source: str) -> list[int]:
    return sorted(r.location.line for r in run(rule, source))


# --- secret-named fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apikey",
        "API_KEY",
        "openaiApiKey",
        "OPENAI_API_KEY",
        "secret_key",
        "AWS_SECRET_ACCESS_KEY",
        "aws_access_key_id",
        "private_key",
        "token",
        "github_token",
        "accessToken",
        "client_secret",
        "password",
        "db_passwd",
        "smtp_pwd",
        "credentials",
        "gcp_credential",
        "bearer",
        "HF_TOKEN",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "tokens",
        "key",
        "sort_key",
        "cache_key",
        "keyboard_shortcut",
        "monkey",
        "api_base",
        "token_url",
        "api_key_header",
        "api_key_env",
        "password_hint",
        "secret_name",
        "tokenizer",
        "secretary",
        "model",
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_name_tokens_split_snake_and_camel_case() -> None:
    assert name_tokens("openAIApiKey") == ["open", "ai", "api", "key"]
    assert name_tokens("AWS_SECRET_ACCESS_KEY") == ["aws", "secret", "access", "key"]
    assert name_tokens("maxTokens2") == ["max", "tokens", "2"]


# --- the secret classifier ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sk-proj-Q3v9Lr2mXk7Tz4Wb8Nc1Hd6Fj0Ps5Ya2Ge7Ku", "sk-proj-"),
        ("sk-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "sk-"),
        ("ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q", "ghp_"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_"),
        ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-"),
        ("AKIAZ7Q3R5T8W2Y4U6I9", "AKIA"),
        ("AIzaSyD4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "AIza"),
    ],
)
def test_known_prefixes_are_high_and_only_the_prefix_is_shown(value: str, shown: str) -> None:
    verdict = classify_secret(value)
    assert verdict.confidence is Confidence.HIGH and not verdict.placeholder
    assert f"`{shown}`" in verdict.description
    assert value[len(shown) :][:4] not in verdict.description


def test_shapes_and_entropy_are_high() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    assert classify_secret(jwt).confidence is Confidence.HIGH
    assert "JWT-shaped" in classify_secret(jwt).description
    uuid = "3f2b8c1e-9a4d-4e7b-8c6f-1d2e3f4a5b6c"
    assert classify_secret(uuid).confidence is Confidence.HIGH
    assert classify_secret("secret_8fK2pQ9xLm3Vn7Rt1Yw5Zc4Bh6Jd0Gs").confidence is Confidence.HIGH


@pytest.mark.parametrize(
    "value",
    [
        "your-api-key",
        "YOUR_API_KEY_HERE",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
        "changeme",
        "<your token>",
        "paste-key-here",
        "AKIAIOSFODNN7EXAMPLE",
        "my-secret-key",
        "sk-...",
        "00000000-0000-0000-0000-000000000000",
        "password",
        "${OPENAI_API_KEY}",
    ],
)
def test_placeholders_are_low(value: str) -> None:
    verdict = classify_secret(value)
    assert verdict.confidence is Confidence.LOW and verdict.placeholder


@pytest.mark.parametrize("value", ["admin123", "hunter2", "Winter2024!", "correct horse"])
def test_human_passwords_are_medium(value: str) -> None:
    assert classify_secret(value).confidence is Confidence.MEDIUM


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
        min_size=12,
        max_size=80,
    )
)
def test_description_never_contains_the_value(value: str) -> None:
    description = classify_secret(value).description
    # At most a known issuer prefix is shown; no 6 consecutive characters of the key material.
    tail = value[8:] if value.startswith(("sk-proj-", "github_pat_")) else value[4:]
    for i in range(len(tail) - 5):
        assert tail[i : i + 6] not in description


def test_messages_never_print_the_secret() -> None:
    secrets = [
        "sk-proj-Q3v9Lr2mXk7Tz4Wb8Nc1Hd6Fj0Ps5Ya2Ge7Ku",
        "hunter2",
        "your-api-key-here",
        "hf_kP3nR8sT2vW6xY9zA1bC4dE7fG0hJ5mQ",
    ]
    source = f"""
    import os
    from pydantic import BaseModel, Field, SecretStr

    class Action:
        class Valves(BaseModel):
            api_key: str = Field(default="{secrets[0]}")
            smtp_password: SecretStr = SecretStr("{secrets[1]}")
            token = "{secrets[2]}"

        class UserValves(BaseModel):
            hf_token: str = os.getenv("HF_TOKEN", "{secrets[3]}")

        def __init__(self):
            self.valves = self.Valves()

        async def action(self, body, __user__=None):
            return body
    """
    for rule in (HardcodedSecret, SecretValveNotMasked):
        reports = run(rule, source)
        assert len(reports) == 4
        for report in reports:
            for secret in secrets:
                assert secret not in report.message
    confidences = [r.confidence for r in run(HardcodedSecret, source)]
    assert confidences == [Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW, Confidence.HIGH]


# --- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "flagged"),
    [
        ('Field(default="", json_schema_extra={"input": {"type": "password"}})', False),
        ('Field("", json_schema_extra=dict(input={"type": "password"}))', False),
        ('Field(default="", json_schema_extra=MASK)', False),
        ('Field(default="", json_schema_extra={"input": INPUT})', False),  # unknown: silent
        ('Field(default="", json_schema_extra={**BASE})', False),  # unknown: silent
        ('Field(default="", **OPTIONS)', False),  # unknown: silent
        ('Field(default="", json_schema_extra={"type": "password"})', True),
        ('Field(default="", json_schema_extra={"input": {"type": "text"}})', True),
        ('Field(default="", json_schema_extra={"ui": {"type": "password"}})', True),
        ('Field(default="", extra={"input": {"type": "password"}})', True),
        ('Field(default="", description="API key")', True),
        ('""', True),
    ],
)
def test_masking_spellings(field: str, flagged: bool) -> None:
    source = f"""
    from pydantic import BaseModel, Field

    MASK = {{"input": {{"type": "password"}}}}
    INPUT = {{"type": "password"}}
    BASE = {{"input": {{"type": "password"}}}}
    OPTIONS = {{"json_schema_extra": {{"input": {{"type": "password"}}}}}}

    class Action:
        class Valves(BaseModel):
            api_key: str = {field}

        async def action(self, body):
            return body
    """
    assert bool(run(SecretValveNotMasked, source)) is flagged


# --- name resolution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "base", "flagged"),
    [
        ("from pydantic import BaseModel as BM", "BM", False),
        ("import pydantic as pd", "pd.BaseModel", False),
        ("import pydantic.main", "pydantic.main.BaseModel", False),
        ("from pydantic_settings import BaseSettings", "BaseSettings", False),
        ("from mylib import SettingsBase", "SettingsBase", False),
        ("from pydantic import BaseModel\nBase = BaseModel", "Base", False),
        ("import typing", "typing.TypedDict", True),
        ("from types import SimpleNamespace", "SimpleNamespace", True),
        ("from pydantic.v1 import BaseModel", "BaseModel", True),
        ("", "object", True),
        ("", "dict", True),
    ],
)
def test_base_resolution(header: str, base: str, flagged: bool) -> None:
    source = f"{header}\n\nclass Action:\n    class Valves({base}):\n        x: int = 0\n\n    async def action(self, body):\n        return body\n"
    assert bool(run(ValvesNotBaseModel, source)) is flagged


def test_base_cycle_and_metaclass_are_silent() -> None:
    source = """
    class A(B):
        pass

    class B(A):
        pass

    class Action:
        class Valves(A):
            x: int = 0

        class UserValves(metaclass=Meta):
            y: int = 0

        async def action(self, body):
            return body
    """
    assert run(ValvesNotBaseModel, source) == []


def test_string_annotations_and_required_detection() -> None:
    source = """
    from typing import Optional
    from pydantic import BaseModel, Field

    class Action:
        class Valves(BaseModel):
            a: "Optional[str]"
            b: "str" = "x"
            c: Optional[int] = Field(None)
            d: int = Field(default_factory=lambda: 3)
            e: str = Field(**{"default": ""})

        async def action(self, body):
            return body
    """
    assert lines(ValvesFieldRequired, source) == [6]


# --- self.valves ---------------------------------------------------------------------------


def test_computed_setattr_in_init_is_silent() -> None:
    source = """
    from pydantic import BaseModel

    class Action:
        class Valves(BaseModel):
            x: int = 0

        def __init__(self):
            for name, cls in (("valves", self.Valves),):
                setattr(self, name, cls())

        async def action(self, body):
            return body
    """
    assert run(ValvesNotInitialized, source) == []


def test_valves_set_through_tuple_assignment() -> None:
    source = """
    from pydantic import BaseModel

    class Action:
        class Valves(BaseModel):
            x: int = 0

        def __init__(self):
            self.valves, self.cache = self.Valves(), {}

        async def action(self, body):
            return body
    """
    assert run(ValvesNotInitialized, source) == []


# --- __user__["valves"] --------------------------------------------------------------------------


def test_user_valves_aliases_and_copies() -> None:
    source = """
    from pydantic import BaseModel

    class Action:
        class UserValves(BaseModel):
            lang: str = "en"

        async def action(self, body, __user__=None):
            copy = dict(__user__)
            a = copy["valves"]["lang"]
            if (uv := __user__.get("valves")) is not None:
                b = uv.get("lang")
            c = (__user__ or {}).get("valves", {}).keys()
            d = dict(__user__["valves"])["lang"]
            e = __user__["valves"].model_dump().get("lang")
            f = getattr(__user__["valves"], "lang", "en")
            user = __user__
            user = {"valves": {}}
            g = user["valves"]["lang"]
            return body
    """
    assert lines(UserValvesAsDict, source) == [9, 11, 12]


def test_user_valves_through_constructor_and_keyword() -> None:
    source = """
    from pydantic import BaseModel

    class Client:
        def __init__(self, settings):
            self.base = settings["base_url"]

    class Action:
        class UserValves(BaseModel):
            base_url: str = ""

        @staticmethod
        def _lang(*, uv):
            return "de" if "lang" in uv else "en"

        async def action(self, body, __user__=None):
            client = Client(__user__["valves"])
            lang = self._lang(uv=__user__["valves"])
            return body
    """
    reports = run(UserValvesAsDict, source)
    assert sorted(r.location.line for r in reports) == [5, 13]
    assert all("which gets it from line" in r.message for r in reports)


def test_no_user_param_or_no_user_valves_is_silent() -> None:
    without_param = """
    from pydantic import BaseModel

    class Action:
        class UserValves(BaseModel):
            x: str = ""

        async def action(self, body, user=None):
            return user["valves"]["x"]
    """
    assert run(UserValvesAsDict, without_param) == []


# --- priority ---------------------------------------------------------------------------------


def test_priority_in_annotated_class_attribute_and_unrelated_objects() -> None:
    source = """
    from pydantic import BaseModel

    class Action:
        priority: int = 3
        order: int = 1

        class Valves(BaseModel):
            x: int = 0

        def __init__(self):
            self.valves = self.Valves()
            other = object()
            other.priority = 4

        async def action(self, body):
            return body
    """
    assert lines(PriorityOutsideValves, source) == [4]


def test_module_level_str_subclass_is_a_string_type() -> None:
    source = """
    from pydantic import BaseModel, Field

    class EncryptedStr(str):
        pass

    class Action:
        class Valves(BaseModel):
            GOOGLE_API_KEY: EncryptedStr = Field(default="")
            MAX_TOKENS: int = 0

        async def action(self, body):
            return body
    """
    assert lines(SecretValveNotMasked, source) == [8]


def test_user_valves_through_offloads() -> None:
    source = """
    import asyncio
    from functools import partial
    from pydantic import BaseModel

    def render(settings, text):
        return settings["template"].format(text=text)

    class Action:
        class UserValves(BaseModel):
            template: str = "{text}"

        def _sync(self, uv):
            return uv.get("template")

        async def action(self, body, __user__=None):
            uv = __user__["valves"]
            a = await asyncio.to_thread(render, uv, "x")
            loop = asyncio.get_running_loop()
            b = await loop.run_in_executor(None, self._sync, uv)
            c = partial(render, dict(uv))
            return body
    """
    assert lines(UserValvesAsDict, source) == [6, 13]


def test_long_alias_chains_stay_fast() -> None:
    chain = "\n".join("        x = x or x" for _ in range(300))
    source = f"""
from pydantic import BaseModel

class Action:
    class UserValves(BaseModel):
        a: str = ""

    async def action(self, body, __user__=None):
        x = body
{chain}
        return x["a"], __user__["valves"]["a"]
"""
    assert lines(UserValvesAsDict, source) == [309]
