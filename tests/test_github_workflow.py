"""examples/github-workflow.yml: the commands it runs do what docs/github-code-scanning.md
says (SARIF written, findings do not stop the upload, errors still fail the job)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from analyzer.cli import main

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-workflow.yml"


def steps(job: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {step.get("name", step.get("uses", "")): step for step in document["jobs"][job]["steps"]}


def owui_lint(command: str) -> tuple[int, str, str]:
    argv = shlex.split(command)
    assert argv[0] == "owui-lint"
    result = CliRunner().invoke(main, argv[1:], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "plugins")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_workflow_uploads_sarif_with_a_category_and_the_needed_permission() -> None:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert document["permissions"]["security-events"] == "write"
    upload = steps("code-scanning")["Upload to code scanning"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"] == {"sarif_file": "owui-lint.sarif", "category": "owui-lint"}


def test_the_workflows_run_step_writes_sarif_and_lets_findings_through(repository: Path) -> None:
    command = steps("code-scanning")["Run owui-lint"]["run"]
    assert "--format sarif -o owui-lint.sarif --exit-zero" in command
    code, out, _ = owui_lint(command)
    assert code == 0 and out == ""  # examples/defective has findings: still 0
    sarif = json.loads((repository / "owui-lint.sarif").read_text())
    assert sarif["runs"][0]["results"], "the defective examples are reported"

    # --exit-zero hides findings only: a configuration error still fails the job.
    (repository / "pyproject.toml").write_text("[tool.owui-lint]\nselect = 3\n")
    assert owui_lint(command)[0] == 2


def test_the_annotation_step_fails_on_findings(repository: Path) -> None:
    command = steps("annotations")["Lint (annotations)"]["run"]
    code, out, _ = owui_lint(command)
    assert code == 1
    assert out.startswith("::") and "::error file=plugins/defective/" in out
