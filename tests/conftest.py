from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
