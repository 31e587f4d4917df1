"""The pre-commit hook, run by the real `pre-commit` as a user's repository would run it.

`pre-commit try-repo <this checkout>` clones the hook repository, builds the hook's
environment (a virtualenv into which it pip-installs this package) and runs the hook on
every file of a user's repository. In a clean clone (CI) it uses HEAD; in a work tree with
uncommitted changes it commits them to a shadow copy first, so the test sees them. Each
try-repo builds its environment afresh in a temporary store (about 20 s; pip's cache keeps
the second one quicker).

It needs the package's dependencies from pip (its cache, find-links or index); when pip
cannot get them the test is skipped and says why, rather than failing for the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.integration

GIT_ENV = {
    "GIT_AUTHOR_NAME": "owui-lint tests",
    "GIT_AUTHOR_EMAIL": "tests@invalid",
    "GIT_COMMITTER_NAME": "owui-lint tests",
    "GIT_COMMITTER_EMAIL": "tests@invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
# What pip prints when it cannot reach or find a package: an offline machine, not a bug.
OFFLINE = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(cwd)}
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def checkout() -> Path:
    if shutil.which("git") is None or not PRE_COMMIT.exists():
        pytest.skip("needs git and pre-commit (pip install -e '.[dev]')")
    probe = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("this checkout is not a git repository with a commit")
    return ROOT


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "plugins"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copy(EXAMPLES / "clean" / "word_count.py", repo / "word_count.py")
    shutil.copy(EXAMPLES / "defective" / "echo_button.py", repo / "echo_button.py")
    # `exclude` must hold although pre-commit names the files one by one (--force-exclude).
    (repo / "pyproject.toml").write_text('[tool.owui-lint]\nexclude = ["vendor"]\n')
    (repo / "vendor").mkdir()
    shutil.copy(EXAMPLES / "defective" / "echo_button.py", repo / "vendor" / "copied.py")
    git(repo, "add", "-A")
    return repo


def try_repo(repo: Path, checkout: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "NO_COLOR": "1"}
    env.pop("PRE_COMMIT", None)
    done = subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(checkout), "owui-lint", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    if "An unexpected error has occurred" in output:
        # pip's own error is part of pre-commit's message (its log lives in a temporary
        # store that try-repo deletes).
        if any(marker in output for marker in OFFLINE):
            pytest.skip(f"pre-commit cannot build the hook's environment offline: {output[-300:]}")
        pytest.fail(f"pre-commit failed:\n{output}")
    return done


def test_hook_blocks_a_defective_action_and_passes_once_fixed(
    user_repo: Path, checkout: Path
) -> None:
    first = try_repo(user_repo, checkout)
    out = first.stdout
    assert first.returncode == 1, out
    assert "owui-lint" in out and "Failed" in out
    assert "echo_button.py:9:7: OWA103 [error] `class Action` has no `action` method" in out
    assert "vendor/copied.py" not in out  # excluded by the configuration
    assert "word_count.py:" not in out

    # Fix the action: the same hook, from the same environment, now passes.
    shutil.copy(EXAMPLES / "clean" / "export_markdown.py", user_repo / "echo_button.py")
    git(user_repo, "add", "-A")
    second = try_repo(user_repo, checkout)
    assert second.returncode == 0, second.stdout
    assert "owui-lint" in second.stdout and "Passed" in second.stdout
