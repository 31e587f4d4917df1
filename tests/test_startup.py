"""Fast start: each command imports only what it needs (checked by module, never by clock).

`--version` and `--help` import neither LibCST nor pydantic; a check of one file starts no
process pool; a check whose results all come from the cache imports no rule, no LibCST
and no pool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in a fresh interpreter and prints, at exit, every module it imported.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr))\n"
    "from analyzer.cli import main\n"
    "main()\n"
)
LIBCST = {"libcst", "libcst.matchers"}
POOL = {"concurrent.futures.process", "multiprocessing.pool", "multiprocessing.context"}


def imported(*args: str, cache: bool = False, codes: tuple[int, ...] = (0, 1)) -> set[str]:
    env = dict(os.environ)
    if cache:
        env.pop("OWUI_LINT_NO_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode in codes, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    assert len(lines) == 1, proc.stderr
    return set(lines[0].split()[1:])


@pytest.mark.parametrize(
    "args", [("--version",), ("--help",), ("check", "--help"), ("audit", "--help")]
)
def test_version_and_help_import_no_libcst_nor_pydantic(args: tuple[str, ...]) -> None:
    modules = imported(*args)
    assert "analyzer.cli" in modules  # the probe works
    assert not modules & (LIBCST | POOL | {"pydantic", "sarif_om", "analyzer.engine"})
    assert not any(m == "rules" or m.startswith("rules.") for m in modules)


def test_an_audit_of_a_bad_source_imports_no_rule_nor_libcst(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("not json")
    modules = imported("audit", str(tmp_path / "notes.json"), codes=(2,))
    assert "analyzer.audit" in modules
    assert not modules & (LIBCST | POOL | {"analyzer.engine", "pydantic", "analyzer.config"})
    assert not any(m == "rules" or m.startswith("rules.") for m in modules)


def test_explain_and_rules_start_no_pool_nor_sarif_nor_pydantic() -> None:
    for args in (("explain", "OWA301"), ("rules",)):
        modules = imported(*args)
        assert "rules.authorization" in modules
        assert not modules & (
            POOL | {"sarif_om", "analyzer.api", "analyzer.cache", "pydantic", "analyzer.config"}
        )


def test_one_file_check_starts_no_pool(project: Path) -> None:
    modules = imported("check", "no_method.py")
    assert "analyzer.engine" in modules  # it was analysed
    # No configuration file and no selection to validate: pydantic is not needed.
    assert "pydantic" not in modules
    assert not modules & POOL
    # The version (for the cache) is a constant: importlib.metadata costs about 8 ms.
    assert "importlib.metadata" not in modules


def test_sarif_is_imported_only_for_sarif(project: Path) -> None:
    assert "sarif_om" not in imported("check", "no_method.py", "--format", "json")
    assert "sarif_om" in imported("check", "no_method.py", "--format", "sarif")


def test_a_check_from_the_cache_imports_no_rule_nor_libcst(project: Path) -> None:
    for args in (("check", ".", "--jobs", "2"), ("check", "no_method.py")):
        cold = imported(*args, cache=True)
        assert "analyzer.engine" in cold
        warm = imported(*args, cache=True)
        assert "analyzer.cache" in warm
        assert not warm & (LIBCST | POOL | {"analyzer.engine", "analyzer.model"})
        assert not any(m.startswith("rules.") for m in warm)
