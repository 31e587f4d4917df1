"""The result cache: a warm run reads results back (same output, no analysis), and every
change that could alter a result invalidates it. See `analyzer.cache`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import api, cache
from analyzer.cli import main
from analyzer.config import Settings
from analyzer.engine import FileResult
from analyzer.findings import Confidence, Finding, Level, Location
from analyzer.sources import Source

FORMATS = ["text", "json", "sarif", "github"]
CACHE = ".owui-lint-cache"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cached(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fixture project as the current directory, with the cache on (conftest turns it
    off for every other test), and fresh per-process memos."""
    monkeypatch.delenv("OWUI_LINT_NO_CACHE", raising=False)
    monkeypatch.delenv("OWUI_LINT_CACHE_DIR", raising=False)
    memos = (cache.installation_digest, cache._runtime)  # tests may replace them
    for memo in memos:
        memo.cache_clear()
    yield project
    for memo in memos:
        memo.cache_clear()


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The display paths analysed (not read from the cache) in this process, in order."""
    seen: list[str] = []
    real = api.lint_source

    def counting(source: Source, settings: Settings) -> FileResult:
        seen.append(source.display)
        return real(source, settings)

    monkeypatch.setattr(api, "lint_source", counting)
    return seen


def fresh(*args: str) -> tuple[int, str, str]:
    """The same run without the cache: what every cached run must print."""
    return run(*args, "--no-cache")


def entries(root: Path) -> list[Path]:
    return sorted((root / CACHE).glob("*/??/*.json"))


ALL = ["broken.py", "no_method.py", "sub/clean.py", "sub/helper.py", "suppressed.py"]


def test_fixture_files() -> None:
    # The tests below count analyses per file of the fixture project.
    from tests.conftest import FIXTURES

    found = sorted(
        p.relative_to(FIXTURES / "project").as_posix() for p in FIXTURES.glob("project/**/*.py")
    )
    assert found == ALL


# --- warm runs ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_warm_run_prints_the_same_and_analyses_nothing(
    cached: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = run("check", ".", "--format", fmt)
    assert cold[0] == 1 and cold == fresh("check", ".", "--format", fmt)

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("a warm run analysed a file")

    import concurrent.futures

    import analyzer.engine

    # Nothing parses, nothing is analysed, no process pool starts.
    monkeypatch.setattr(api, "lint_source", forbidden)
    monkeypatch.setattr(analyzer.engine, "lint_bytes", forbidden)
    monkeypatch.setattr(analyzer.engine, "parse", forbidden)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", forbidden)
    assert run("check", ".", "--format", fmt) == cold
    assert run("check", ".", "--format", fmt, "--jobs", "2") == cold


def test_warm_run_with_source_lines_and_statistics(cached: Path, analysed: list[str]) -> None:
    args = ("check", ".", "--show-source", "--statistics", "--jobs", "1")
    cold = run(*args)
    assert analysed == ALL
    assert run(*args) == cold == fresh(*args)
    assert analysed == ALL + ALL  # the --no-cache run


def test_layout_gitignore_and_cachedir_tag(cached: Path) -> None:
    run("check", ".")
    root = cached / CACHE
    assert (root / ".gitignore").read_text() == "# Automatically created by owui-lint.\n*\n"
    assert (
        (root / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    )
    from analyzer.reporters.base import tool_version

    found = entries(cached)
    assert len(found) == len(ALL)  # one per file (a syntax error and a skipped file too)
    for entry in found:
        assert entry.parent.parent.name == tool_version()
        assert entry.parent.name == entry.name[:2] and len(entry.stem) == 64
    (catalogue,) = (root / tool_version()).glob("rules-*.json")
    codes = [rule["code"] for rule in json.loads(catalogue.read_text())["rules"]]
    assert "OWA301" in codes
    # `git status` would not show it, and nothing else is left behind.
    assert not list(root.rglob("*.tmp"))


def test_default_location_is_next_to_the_config(cached: Path) -> None:
    (cached / "pyproject.toml").write_text("[tool.owui-lint]\nignore = ['OWA002']\n")
    os.chdir(cached / "sub")
    code, _, _ = run("check", ".")
    assert code == 0
    assert (cached / CACHE / ".gitignore").is_file()
    assert not (cached / "sub" / CACHE).exists()


def test_cache_dir_option_environment_and_config(
    cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("check", ".", "--cache-dir", "elsewhere")
    assert (cached / "elsewhere" / ".gitignore").is_file() and not (cached / CACHE).exists()

    monkeypatch.setenv("OWUI_LINT_CACHE_DIR", str(cached / "from-env"))
    run("check", ".")
    assert (cached / "from-env" / ".gitignore").is_file()
    monkeypatch.delenv("OWUI_LINT_CACHE_DIR")

    (cached / "pyproject.toml").write_text("[tool.owui-lint]\ncache-dir = 'build/lint'\n")
    os.chdir(cached / "sub")
    run("check", ".")
    assert (cached / "build" / "lint" / ".gitignore").is_file()
    assert not (cached / CACHE).exists()


def test_the_cache_is_read_and_no_cache_ignores_it(cached: Path, analysed: list[str]) -> None:
    cold = run("check", ".", "--format", "json", "--jobs", "1")
    # Tamper with the stored results: a warm run must print what the cache says...
    for entry in entries(cached):
        data = json.loads(entry.read_text())
        for finding in data["findings"]:
            finding[9] = "from the cache"
        entry.write_text(json.dumps(data))
    warm = run("check", ".", "--format", "json", "--jobs", "1")
    assert warm != cold and '"message": "from the cache"' in warm[1]
    # ...and --no-cache neither reads it nor writes it.
    before = {p: p.read_bytes() for p in (cached / CACHE).rglob("*") if p.is_file()}
    analysed.clear()
    assert run("check", ".", "--format", "json", "--jobs", "1", "--no-cache") == cold
    assert analysed == ALL
    assert {p: p.read_bytes() for p in (cached / CACHE).rglob("*") if p.is_file()} == before


def test_no_cache_creates_nothing(cached: Path) -> None:
    run("check", ".", "--no-cache")
    assert not (cached / CACHE).exists()


# --- invalidation ---------------------------------------------------------------------


def test_a_changed_file_is_analysed_again(cached: Path, analysed: list[str]) -> None:
    run("check", ".", "--jobs", "1")
    analysed.clear()
    path = cached / "no_method.py"
    path.write_text(path.read_text() + "\n\nclass Other:\n    pass\n")
    args = ("check", ".", "--format", "json", "--jobs", "1")
    assert run(*args) == fresh(*args)
    assert analysed == ["no_method.py", *ALL]  # then the --no-cache run
    # Back to the old content: its entry is still there.
    path.write_text(path.read_text().split("\n\nclass Other")[0])
    analysed.clear()
    run(*args)
    assert analysed == []


def test_a_new_tool_version_uses_a_new_cache(
    cached: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run("check", ".", "--jobs", "1")
    analysed.clear()
    monkeypatch.setattr(cache, "tool_version", lambda: "99.0.0")
    cache._runtime.cache_clear()
    run("check", ".", "--jobs", "1")
    assert analysed == ALL
    assert (cached / CACHE / "99.0.0").is_dir()


@pytest.mark.parametrize("part", ["python", "libcst"])
def test_a_new_python_or_libcst_invalidates(
    cached: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    run("check", ".", "--jobs", "1")
    analysed.clear()
    real = cache._runtime()
    monkeypatch.setattr(cache, "_runtime", lambda: {**real, part: "other"})
    run("check", ".", "--jobs", "1")
    assert analysed == ALL


@pytest.mark.parametrize(
    ("toml", "cli"),
    [
        ("ignore = ['OWA103']", ()),
        ("select = ['OWA0', 'OWA1']", ()),
        ("extend-select = ['OWA1']\nignore = ['OWA1']", ()),
        ("[tool.owui-lint.per-file-ignores]\n'no_method.py' = ['OWA103']", ()),
        ("[tool.owui-lint.per-file-ignores]\n'other.py' = ['OWA103']", ()),
        ("[tool.owui-lint.privileged]\nextra = ['mypkg.admin.nuke']", ()),
        ("exclude = ['nothing_here']", ()),
        ("", ("--ignore", "OWA103")),
        ("", ("--select", "OWA1")),
        ("", ("--extend-select", "OWA1")),
    ],
)
def test_a_configuration_change_invalidates(
    cached: Path, analysed: list[str], toml: str, cli: tuple[str, ...]
) -> None:
    config = cached / "pyproject.toml"
    config.write_text("[tool.owui-lint]\n")
    args = ("check", ".", "--format", "sarif", "--jobs", "1")
    run(*args)
    analysed.clear()
    config.write_text(f"[tool.owui-lint]\n{toml}\n")
    assert run(*args, *cli) == fresh(*args, *cli)
    assert analysed[: len(ALL)] == ALL  # all analysed again (then the --no-cache run)
    # The previous configuration's results are still there.
    config.write_text("[tool.owui-lint]\n")
    analysed.clear()
    run(*args)
    assert analysed == []


def test_the_timeout_does_not_invalidate(cached: Path, analysed: list[str]) -> None:
    run("check", ".", "--jobs", "1")
    analysed.clear()
    run("check", ".", "--jobs", "1", "--timeout", "30")
    assert analysed == []


def test_the_key_covers_path_explicitness_settings_and_enabled_rules(tmp_path: Path) -> None:
    store = cache.Cache(tmp_path)
    settings = Settings()
    base = store.results(settings, ["OWA101", "OWA102"])
    source = Source("a.py", "a.py")
    key = base.key(source, b"x = 1\n")
    assert key == store.results(settings, ["OWA102", "OWA101"]).key(source, b"x = 1\n")
    assert key != store.results(settings, ["OWA101"]).key(source, b"x = 1\n")
    assert key != base.key(source, b"x = 2\n")
    assert key != base.key(Source("b.py", "a.py"), b"x = 1\n")
    assert key != base.key(Source("a.py", "a.py", explicit=True), b"x = 1\n")
    other = Settings.validate({"privileged": {"extra": ["x.y"]}})
    assert key != store.results(other, ["OWA101", "OWA102"]).key(source, b"x = 1\n")
    slower = settings.replace(timeout=99.0)
    assert key == store.results(slower, ["OWA101", "OWA102"]).key(source, b"x = 1\n")


def _fake_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in package directories for the installation digest."""
    fake = tmp_path / "installed"
    (fake / "data").mkdir(parents=True)
    (fake / "rule.py").write_text("CODE = 1\n")
    (fake / "data" / "risky.tsv").write_text("a\tb\n")
    monkeypatch.setattr(cache, "_package_dirs", lambda: [str(fake)])
    cache.installation_digest.cache_clear()
    return fake


def test_the_installation_digest_follows_code_and_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_installation(tmp_path, monkeypatch)
    digests = [cache.installation_digest()]

    def changed() -> bool:
        cache.installation_digest.cache_clear()
        digests.append(cache.installation_digest())
        return digests[-1] != digests[-2]

    assert not changed()
    (fake / "rule.py").write_text("CODE = 2\n")  # same size, new content
    assert changed()
    os.utime(fake / "rule.py", ns=(1, 1))  # same content, another modification time
    assert changed()
    (fake / "data" / "risky.tsv").write_text("a\tc\n")
    assert changed()
    (fake / "new.py").write_text("")
    assert changed()
    (fake / "__pycache__").mkdir()
    (fake / "__pycache__" / "rule.cpython-311.pyc").write_bytes(b"\0")
    (fake / CACHE).mkdir()
    (fake / CACHE / "x.json").write_text("{}")
    assert not changed()  # byte code and a cache directory inside do not count


def test_an_analyzer_change_invalidates(
    cached: Path, analysed: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_installation(tmp_path, monkeypatch)
    run("check", ".", "--jobs", "1")
    analysed.clear()
    cache.installation_digest.cache_clear()
    run("check", ".", "--jobs", "1")
    assert analysed == []
    (fake / "rule.py").write_text("CODE = 3\n")
    cache.installation_digest.cache_clear()
    run("check", ".", "--jobs", "1")
    assert analysed == ALL


def test_a_cache_from_another_installation_is_never_used(
    cached: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Copied, restored or committed to a repository: its keys cannot match this machine's.
    run("check", ".", "--jobs", "1")
    analysed.clear()
    monkeypatch.setattr(cache, "installation_digest", lambda: "0" * 64)
    assert run("check", ".", "--jobs", "1") == fresh("check", ".", "--jobs", "1")
    assert analysed[: len(ALL)] == ALL


# --- robustness -----------------------------------------------------------------------


def test_corrupt_entries_are_misses(cached: Path, analysed: list[str]) -> None:
    args = ("check", ".", "--format", "sarif", "--jobs", "1")
    cold = run(*args)
    found = entries(cached)
    spoilt = sorted(json.loads(entry.read_text())["path"] for entry in found[:4])
    found[0].write_bytes(found[0].read_bytes()[:20])  # truncated
    found[1].write_bytes(b"\xff\xfe garbage")
    data = json.loads(found[2].read_text())
    data["findings"] = [["OWA103", 1, 2]]
    found[2].write_text(json.dumps(data))
    found[3].write_text("")
    for catalogue in (cached / CACHE).glob("*/rules-*.json"):
        catalogue.write_text('{"format": 1, "rules": [{"code": 5}]}')
    analysed.clear()
    assert run(*args) == cold
    assert sorted(analysed) == spoilt
    analysed.clear()
    assert run(*args) == cold  # repaired
    assert analysed == []


def test_an_entry_under_another_key_is_a_miss(cached: Path, analysed: list[str]) -> None:
    run("check", ".", "--jobs", "1")
    found = entries(cached)
    found[1].write_bytes(found[0].read_bytes())  # a valid entry, in the wrong file
    analysed.clear()
    assert run("check", ".", "--jobs", "1") == fresh("check", ".", "--jobs", "1")
    assert len(analysed) == 1 + len(ALL)


def test_an_unwritable_cache_is_one_warning(cached: Path) -> None:
    (cached / "blocker").write_text("a file, not a directory")
    args = ("check", ".", "--format", "json", "--cache-dir", "blocker/cache")
    code, out, err = run(*args)
    assert (code, out) == fresh(*args)[:2]
    assert err.count("owui-lint: warning: cannot write the cache in blocker/cache:") == 1
    assert err.count("\n") == 1


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere"
)
def test_a_read_only_cache_is_still_read(cached: Path, analysed: list[str]) -> None:
    cold = run("check", ".", "--jobs", "1")
    modes = {}
    for path in [cached / CACHE, *(cached / CACHE).rglob("*")]:
        if path.is_dir():
            modes[path] = path.stat().st_mode
            path.chmod(0o555)
    try:
        analysed.clear()
        assert run("check", ".", "--jobs", "1") == cold
        assert analysed == []
        (cached / "no_method.py").write_text("class Action:\n    pass\n")
        code, _, err = run("check", ".", "--jobs", "1")
        assert code == 1 and "cannot write the cache" in err
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_a_cache_that_refuses_writes_is_still_read(
    cached: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a read-only cache looks like from inside (the test above cannot run as root).
    cold = run("check", ".", "--jobs", "1")

    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cache, "_atomic_write", refuse)
    analysed.clear()
    assert run("check", ".", "--jobs", "1") == cold
    assert analysed == []
    (cached / "no_method.py").write_text("class Action:\n    pass\n")
    code, _, err = run("check", ".", "--jobs", "1")
    assert code == 1 and analysed == ["no_method.py"]
    assert err == (
        f"owui-lint: warning: cannot write the cache in {cached / CACHE}: Permission denied;"
        " going on without it\n"
    )


def test_incomplete_results_are_not_stored(tmp_path: Path) -> None:
    store = cache.Cache(tmp_path / "c")
    results = store.results(Settings(), ["OWA101"])
    source = Source("a.py", str(tmp_path / "a.py"))
    (tmp_path / "a.py").write_text("class Action: pass\n")
    probe = results.probe(source)
    assert probe.key is not None and probe.hit is None and probe.source.data is not None
    for bad in (
        FileResult("a.py", "unreadable", errors=["a.py: analysis exceeded the 1 s budget"]),
        FileResult("a.py", "action", errors=["a.py: internal error"], internal_error=True),
    ):
        results.store(probe, bad)
        assert results.probe(source).hit is None
    good = FileResult("a.py", "action")
    results.store(probe, good)
    hit = results.probe(source).hit
    assert hit is not None and (hit.path, hit.status, hit.findings) == ("a.py", "action", [])


def test_findings_round_trip_exactly(tmp_path: Path) -> None:
    store = cache.Cache(tmp_path / "c")
    results = store.results(Settings(), ["OWA101"])
    (tmp_path / "é.py").write_text("class Action: pass\n")
    source = Source("dir/é.py", str(tmp_path / "é.py"))
    finding = Finding(
        "OWA101",
        "name",
        Level.NOTE,
        Confidence.LOW,
        "dir/é.py",
        Location(3, 4, 5, 60),
        "`é€😀` \\x1b and a lone \udcff surrogate",
        "f" * 32,
    )
    probe = results.probe(source)
    results.store(probe, FileResult("dir/é.py", "error", [finding]))
    hit = results.probe(source).hit
    assert hit is not None and hit.findings == [finding] and hit.status == "error"


def test_standard_input_is_not_cached(cached: Path) -> None:
    code, out, _ = run("check", "-", "--stdin-filename", "x.py", stdin="class Action:\n  pass\n")
    assert code == 1 and "OWA103" in out
    assert entries(cached) == []


# --- runs sharing a cache -------------------------------------------------------------


def test_parallel_runs_sharing_a_cache(cached: Path) -> None:
    for i in range(12):
        shutil.copy(cached / "no_method.py", cached / f"copy_{i}.py")
        (cached / f"edit_{i}.py").write_text(
            f"class Action:\n    async def action(self, body):\n        return {i}\n"
        )
    args = ["check", ".", "--format", "sarif", "--jobs", "2"]
    expected = fresh(*args)
    env = {k: v for k, v in os.environ.items() if k != "OWUI_LINT_NO_CACHE"}
    command = [sys.executable, "-m", "analyzer", *args, "--cache-dir", str(cached / "shared")]
    for _ in range(2):  # cold, both writing; then warm, both reading
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            for _ in range(3)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert (proc.returncode, out.decode(), err.decode()) == expected
    assert len(list((cached / "shared").glob("*/??/*.json"))) == len(ALL) + 24
    assert not list((cached / "shared").rglob("*.tmp"))


def test_the_rule_catalogue_round_trips_every_rule() -> None:
    from analyzer.registry import RuleInfo, all_rules

    for rule in all_rules():
        info = RuleInfo.of(rule)
        back = RuleInfo.from_json(json.loads(json.dumps(info.to_json())))
        assert back.to_json() == info.to_json()
        for name in ("docs", "full_description", "tags", "severity_score", "family"):
            assert getattr(back, name)() == getattr(rule, name)(), (rule.code, name)
        assert (back.code, back.level, back.confidence, back.summary) == (
            rule.code,
            rule.level,
            rule.confidence,
            rule.summary,
        )
