from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Hypothesis profiles. "default" keeps the suite fast; "long" runs the fuzz tests
# (tests/test_fuzz.py) with thousands of examples: `pytest --hypothesis-profile=long` or
# `OWUI_LINT_HYPOTHESIS=long pytest`. Tests that fix `max_examples` scale it by the profile.
hypothesis_settings.register_profile("default", deadline=None, max_examples=100)
hypothesis_settings.register_profile(
    "long",
    deadline=None,
    max_examples=3000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.load_profile(os.environ.get("OWUI_LINT_HYPOTHESIS", "default"))

# No test writes a result cache unless it asks for one (tests/test_cache.py): the CLI runs
# in-process and in subprocesses, which inherit this. Expected outputs stay those of a
# fresh analysis, and no `.owui-lint-cache` appears in the checkout or the fixtures.
os.environ["OWUI_LINT_NO_CACHE"] = "1"
os.environ.pop("OWUI_LINT_CACHE_DIR", None)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/fixtures/project as the current directory."""
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "project", target)
    monkeypatch.chdir(target)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return target


def update_golden() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"
