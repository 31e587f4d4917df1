"""owui-lint's benchmark: wall time and memory against bandit, fixit and a bare LibCST parse.

`bench/run` (this file) installs bandit, fixit and libcst into a throwaway virtual
environment under bench/.cache/, generates its corpora (bench/corpus.py), runs each command
several times, alternating with its peers (A B A B ...), and prints medians and ratios, all
measured in the same run on the same files. It reports; it does not assert: the exit status
is 0 whether or not the targets are met, and non-zero only when the harness itself failed
(or a measured command crashed). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus as corpus_module  # noqa: E402

CACHE = HERE / ".cache"
REQUIREMENTS = HERE / "requirements.txt"
LAUNCH = HERE / "launch.py"
BIN = "Scripts" if os.name == "nt" else "bin"
GROUPS = ("corpus", "single", "largest", "memory", "mixed", "scaling")
MEMORY_LIMIT_MB = 150
SCALING_LIMIT = 1.5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class HarnessError(Exception):
    """The benchmark itself cannot go on (not a missed target)."""


# --- running one command --------------------------------------------------------------


@dataclass
class Sample:
    round: int  # -1: warm-up (not counted)
    seconds: float
    rss_mb: float
    code: int | None  # None: killed on the timeout


@dataclass
class Command:
    key: str
    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    ok: tuple[int, ...] = (0,)
    warmup: bool = True  # an untimed first run when warm-ups are on
    prime: bool = False  # an untimed first run always (fills a cache)
    prepare: Callable[[], None] | None = None  # before every run (e.g. an empty cache dir)
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False

    @property
    def usable(self) -> bool:
        return self.error is None and not self.timed_out

    def timed(self) -> list[Sample]:
        return [s for s in self.samples if s.round >= 0 and s.code is not None]

    def median(self) -> float | None:
        values = [s.seconds for s in self.timed()]
        return statistics.median(values) if values else None

    def median_rss(self) -> float | None:
        values = [s.rss_mb for s in self.timed()]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "argv": self.argv,
            "cwd": str(self.cwd),
            "median_s": self.median(),
            "median_rss_mb": self.median_rss(),
            "error": self.error,
            "timed_out": self.timed_out,
            "samples": [s.__dict__ for s in self.samples],
        }


def _rss_mb(maxrss: int) -> float:
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def run_once(command: Command, timeout: float, round_: int, scratch: Path) -> Sample:
    """Wall time of the whole process and its peak RSS (of its largest single process, a
    worker of a pool included), as bench/launch.py measures them: see there why not here."""
    if command.prepare is not None:
        command.prepare()
    err_path = scratch / f"{command.key}.stderr"
    probe = scratch / f"{command.key}.probe"
    probe.unlink(missing_ok=True)
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-S", str(LAUNCH), str(probe), *command.argv],
            cwd=command.cwd,
            env=command.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout > 0 else None
        if timer is not None:
            timer.start()
        try:
            # Wait without reaping, so that the timer can never signal a recycled id.
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        except BaseException:
            kill()
            raise
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()
            _, status, _ = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        outer = time.perf_counter() - start
    if killed.is_set():
        sample = Sample(round_, outer, 0.0, None)
    elif probe.exists():
        seconds, maxrss, raw = probe.read_text(encoding="ascii").split()
        code = os.waitstatus_to_exitcode(int(raw))
        sample = Sample(round_, float(seconds), _rss_mb(int(maxrss)), code)
    else:  # the launcher could not start the command
        sample = Sample(round_, outer, 0.0, process.returncode or 127)
    command.samples.append(sample)
    if sample.code is None:
        command.timed_out = True
    elif sample.code not in command.ok:
        tail = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
        command.error = f"exit {sample.code}" + (": " + " | ".join(tail) if tail else "")
    return sample


def measure(
    title: str,
    commands: Sequence[Command],
    runs: int,
    warmup: bool,
    timeout: float,
    scratch: Path,
) -> None:
    """Warm-ups, then `runs` rounds of every command in turn (A B A B ...)."""
    log(f"== {title}")
    for command in commands:
        if command.usable and (command.prime or (warmup and command.warmup)):
            sample = run_once(command, timeout, -1, scratch)
            log(f"   warm-up  {command.label}: {sample.seconds:.2f} s")
    for round_ in range(runs):
        for command in commands:
            if not command.usable:
                continue
            sample = run_once(command, timeout, round_, scratch)
            state = ""
            if sample.code is None:
                state = f"  TIMEOUT (> {timeout:g} s), not run again"
            elif command.error:
                state = f"  FAILED ({command.error})"
            log(
                f"   run {round_ + 1}/{runs} {command.label}: {sample.seconds:.2f} s,"
                f" {sample.rss_mb:.0f} MB{state}"
            )


def pair_ratio(a: Command, b: Command) -> float | None:
    """The median of the per-round ratios a/b."""
    first = {s.round: s.seconds for s in a.timed()}
    ratios = [first[s.round] / s.seconds for s in b.timed() if s.round in first and s.seconds]
    return statistics.median(ratios) if ratios else None


# --- tools ----------------------------------------------------------------------------


def _output(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise HarnessError(
            f"`{shlex.join(argv)}` exited {result.returncode}: {result.stderr.strip()[-800:]}"
        )
    return result.stdout


def bench_venv(rebuild: bool) -> Path:
    """The throwaway virtual environment with the peers, reused while requirements match."""
    requirements = REQUIREMENTS.read_text(encoding="utf-8")
    key = hashlib.sha256(
        f"{requirements}\n{sys.version}\n{platform.platform()}\n{sys.executable}".encode()
    ).hexdigest()[:12]
    venv = CACHE / f"venv-{key}"
    marker = venv / ".bench-ready"
    if marker.exists() and not rebuild:
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob("venv-*"):
        shutil.rmtree(old, ignore_errors=True)
    log(f"== building the peers' virtual environment {venv.relative_to(REPO)} (once)")
    python = venv / BIN / "python"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = [str(python), "-m", "pip"]
    except subprocess.CalledProcessError:
        # No ensurepip (Debian without python3-venv): a bare venv, filled by this pip.
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)],
            check=True,
            capture_output=True,
        )
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
    result = subprocess.run(
        [*pip, "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(
            "could not install the peers (bandit, fixit, libcst) with pip: "
            + result.stderr.strip()[-1500:]
        )
    marker.write_text(key, encoding="utf-8")
    return venv


def versions(python: str, names: Sequence[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return 'missing'\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    data: dict[str, str] = json.loads(_output([python, "-c", code, *names]))
    return data


def mixed_corpus(venv: Path, refresh: bool) -> tuple[Path | None, str]:
    """The Python sources of the open-webui wheel (downloaded by pip once, cached)."""
    wheels = CACHE / "wheels"
    found = sorted(wheels.glob("open_webui-*.whl"), key=lambda p: p.stat().st_mtime)
    if refresh or not found:
        log("== downloading the open-webui wheel with pip (once; about 100 MB)")
        python = venv / BIN / "python"
        has_pip = (venv / BIN / "pip").exists()
        pip = [str(python), "-m", "pip"] if has_pip else [sys.executable, "-m", "pip"]
        try:
            result = subprocess.run(
                [
                    *pip,
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "open-webui",
                    "-d",
                    str(wheels),
                    "--disable-pip-version-check",
                    "--quiet",
                ],
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
            failed = result.returncode != 0
            reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        except subprocess.TimeoutExpired:
            failed, reason = True, "timed out"
        found = sorted(wheels.glob("open_webui-*.whl"), key=lambda p: p.stat().st_mtime)
        if failed and found:
            log(f"   the download failed ({reason}); using the wheel downloaded before")
        elif failed or not found:
            return None, f"skipped: `pip download open-webui` failed (no network?): {reason}"
    wheel = found[-1]
    target = CACHE / "mixed" / wheel.name.removesuffix(".whl")
    done = target / ".bench-complete"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if (
                    name.endswith(".py")
                    and ".." not in Path(name).parts
                    and not name.startswith("/")
                ):
                    archive.extract(name, target)
        (target / "pyproject.toml").write_text(corpus_module.ROOT_CONFIG, encoding="utf-8")
        done.write_text(wheel.name, encoding="utf-8")
    return target, wheel.name


def _environment() -> dict[str, str]:
    """The caller's environment, with bytecode caching on for every command.

    An installed package runs from bytecode that pip compiled at install time; an editable
    checkout under `PYTHONDONTWRITEBYTECODE=1` would recompile its 20,000 lines at every
    start, and the peers (installed by pip) would not.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class OwuiLint:
    """The command under test, and the options its `check --help` offers."""

    def __init__(self, spec: str | None) -> None:
        # No colour, and none of the user's OWUI_LINT_* settings (OWUI_LINT_NO_CACHE=1 would
        # turn every warm run cold).
        self.env = _environment()
        self.env = {k: v for k, v in self.env.items() if not k.startswith("OWUI_LINT_")}
        self.env["NO_COLOR"] = "1"
        self.env.pop("FORCE_COLOR", None)
        if spec:
            self.base = shlex.split(spec)
        elif shutil.which("owui-lint"):
            self.base = [str(shutil.which("owui-lint"))]
        elif (REPO / ".venv" / BIN / "owui-lint").exists():
            self.base = [str(REPO / ".venv" / BIN / "owui-lint")]
        else:
            self.base = [sys.executable, "-m", "analyzer"]
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
            )
        try:
            self.version = _output([*self.base, "--version"], self.env).strip()
            help_text = _output([*self.base, "check", "--help"], self.env)
        except (HarnessError, OSError) as error:
            raise HarnessError(
                f"cannot run owui-lint as `{shlex.join(self.base)}` ({error}); install it "
                "(pip install -e .) or pass --owui-lint 'COMMAND'"
            ) from error
        self.cache_dir = "--cache-dir" in help_text
        self.no_cache = "--no-cache" in help_text
        self.timeout = "--timeout" in help_text
        self.exit_zero = "--exit-zero" in help_text

    def compile_bytecode(self) -> None:
        """Compile the installed analyzer's and rules' bytecode, as `pip install` would."""
        python = self.python()
        if python is None:
            return
        script = (
            "import compileall, importlib.util, os\n"
            "for name in ('analyzer', 'rules'):\n"
            "    spec = importlib.util.find_spec(name)\n"
            "    for folder in (spec.submodule_search_locations or []) if spec else []:\n"
            "        compileall.compile_dir(folder, quiet=1)\n"
        )
        subprocess.run([python, "-c", script], env=self.env, capture_output=True, check=False)

    @property
    def cache_mode(self) -> str:
        if self.cache_dir:
            return (
                "cold runs get a fresh, empty --cache-dir each; warm runs reuse the one just filled"
            )
        if self.no_cache:
            return "cold runs pass --no-cache; warm runs use the default cache (filled first)"
        return "no cache options in `check --help`: every run is cold; no warm row"

    def python(self) -> str | None:
        """The interpreter that runs owui-lint (for the bare-parse peers), if known."""
        if len(self.base) >= 3 and self.base[1] == "-m":
            return self.base[0]
        try:
            first = Path(self.base[0]).read_bytes()[:512].split(b"\n")[0].decode()
        except (OSError, UnicodeDecodeError):
            return None
        if first.startswith("#!"):
            words = first[2:].split()
            if words and "python" in Path(words[0]).name:
                return words[0]
            if len(words) >= 2 and Path(words[0]).name == "env" and "python" in words[1]:
                return shutil.which(words[1])
        return None

    def argv(self, paths: Sequence[Path], jobs: int | None, *extra: str) -> list[str]:
        argv = [*self.base, "check", *map(str, paths)]
        if jobs is not None:
            argv += ["-j", str(jobs)]
        if self.timeout:
            argv += ["--timeout", "0"]
        return argv + list(extra)

    def cold(
        self, key: str, label: str, paths: Sequence[Path], jobs: int | None, cwd: Path, work: Path
    ) -> Command:
        if self.cache_dir:
            cache = work / "owui-cache" / key

            def fresh() -> None:
                shutil.rmtree(cache, ignore_errors=True)
                cache.mkdir(parents=True)

            argv = self.argv(paths, jobs, "--cache-dir", str(cache))
            return Command(key, label, argv, cwd, self.env, (0, 1), prepare=fresh)
        extra = ["--no-cache"] if self.no_cache else []
        return Command(key, label, self.argv(paths, jobs, *extra), cwd, self.env, (0, 1))

    def warm(self, cold: Command, label: str) -> Command | None:
        """Re-runs after `cold` (which runs just before it in each round) filled its cache."""
        if self.cache_dir:
            argv = [a for a in cold.argv]
            return Command(cold.key + "-warm", label, argv, cold.cwd, self.env, (0, 1))
        if self.no_cache:
            argv = [a for a in cold.argv if a != "--no-cache"]
            return Command(cold.key + "-warm", label, argv, cold.cwd, self.env, (0, 1), prime=True)
        return None

    def summary(self, command: Command, timeout: float) -> dict[str, Any] | None:
        """One JSON run of a cold command: what owui-lint saw (files, actions, skipped)."""
        if command.prepare is not None:
            command.prepare()
        argv = [*command.argv, "--format", "json"] + (["--exit-zero"] if self.exit_zero else [])
        try:
            result = subprocess.run(
                argv,
                cwd=command.cwd,
                env=command.env,
                capture_output=True,
                text=True,
                timeout=timeout or None,
                check=False,
            )
            data = json.loads(result.stdout)
            summary: dict[str, Any] = data["summary"]
            return summary
        except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
            return None


def count_lines(paths: Sequence[Path]) -> tuple[int, int]:
    files = lines = 0
    for root in paths:
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            files += 1
            with open(path, "rb") as handle:
                lines += sum(1 for _ in handle)
    return files, lines


# --- rows -----------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    what: str
    ours: str
    peer: str
    ratio: str
    target: str
    met: str
    data: dict[str, Any] = field(default_factory=dict)


def _s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def _state(command: Command, timeout: float) -> str | None:
    if command.error:
        return f"failed ({command.error.split(':')[0]})"
    if command.timed_out and not command.timed():
        return f"timeout (> {timeout:g} s)"
    return None


def time_row(
    key: str,
    what: str,
    ours: Command,
    peer: Command,
    peer_name: str,
    limit: float,
    target: str,
    timeout: float,
) -> Row:
    ratio = pair_ratio(ours, peer)
    ours_text = _state(ours, timeout) or _s(ours.median())
    peer_text = f"{peer_name}: " + (_state(peer, timeout) or _s(peer.median()))
    if ours.error or peer.error:
        met = "error"
    elif ratio is not None:
        met = "yes" if ratio <= limit else "no"
    elif ours.timed_out and not peer.timed_out:
        met = "no"
    else:
        met = "?"
    data = {
        "ours_s": ours.median(),
        "peer_s": peer.median(),
        "ratio": ratio,
        "limit": limit,
        "met": met == "yes",
    }
    ratio_text = f"{ratio:.2f}x" if ratio is not None else "—"
    if ratio is not None and ratio < 1 and limit < 1:
        ratio_text += f" ({1 / ratio:.1f}x faster)"
    return Row(key, what, ours_text, peer_text, ratio_text, target, met, data)


def skipped_row(key: str, what: str, target: str, reason: str) -> Row:
    return Row(key, what, "—", "—", "—", target, "skipped", {"skipped": reason})


# --- the benchmark --------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    runs: int
    corpus_runs: int
    warmup: bool
    timeout: float
    jobs: int
    only: tuple[str, ...]


@dataclass
class ScalePoint:
    copies: int
    lines: int
    helpers: int
    median_s: float | None
    net_s: float | None
    us_per_line: float | None
    state: str | None


class Bench:
    """One run of the benchmark: the tools, the corpora, the measured groups, the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        quick: bool = args.quick
        self.settings = Settings(
            quick=quick,
            runs=args.runs or (2 if quick else 5),
            corpus_runs=args.corpus_runs or args.runs or (1 if quick else 3),
            warmup=(not quick) if args.warmup is None else args.warmup,
            timeout=args.cmd_timeout if args.cmd_timeout is not None else (300 if quick else 900),
            jobs=2,
            only=tuple(args.only.split(",")) if args.only else GROUPS,
        )
        unknown = set(self.settings.only) - set(GROUPS)
        if unknown:
            raise HarnessError(f"--only: unknown {sorted(unknown)}; known: {', '.join(GROUPS)}")
        self.started = time.perf_counter()
        self.owui = OwuiLint(args.owui_lint)
        self.venv = bench_venv(args.rebuild_venv)
        venv_python = str(self.venv / BIN / "python")
        self.peers = versions(venv_python, ["bandit", "fixit", "libcst"])
        self.bandit = str(self.venv / BIN / "bandit")
        self.fixit = str(self.venv / BIN / "fixit")
        self.parse_script = str(HERE / "bare_parse.py")
        python = args.python or self.owui.python() or sys.executable
        self.python_note = ""
        try:
            libcst = versions(python, ["libcst"])["libcst"]
        except (HarnessError, OSError):
            libcst = "missing"
        if libcst == "missing":
            self.python_note = f" ({python} has no libcst)"
            python, libcst = venv_python, self.peers["libcst"]
        self.python, self.python_libcst = python, libcst
        self.env = _environment()
        self.owui.compile_bytecode()
        self.work = CACHE / "work"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.scratch = self.work / "stderr"
        self.scratch.mkdir()
        log("== generating the corpora")
        self.corpus = corpus_module.build(self.work / "corpus", quick=quick)
        self.described = self.corpus.describe()
        self.rows: list[Row] = []
        self.summaries: dict[str, Any] = {}
        self.commands: list[Command] = []
        self.scaling: list[ScalePoint] = []
        self.startup: float | None = None

    # --- helpers ---

    def peer(
        self, key: str, label: str, argv: list[str], cwd: Path, ok: tuple[int, ...] = (0,)
    ) -> Command:
        return Command(key, label, argv, cwd, self.env, ok)

    def parse(self, key: str, label: str, target: Path, jobs: int = 1) -> Command:
        argv = [
            self.python,
            self.parse_script,
            *(["-j", str(jobs)] if jobs > 1 else []),
            str(target),
        ]
        return self.peer(key, label, argv, self.corpus.root)

    def measure(self, title: str, commands: list[Command], runs: int) -> None:
        s = self.settings
        measure(title, commands, runs, s.warmup, s.timeout, self.scratch)
        self.commands += commands

    def time_row(
        self,
        key: str,
        what: str,
        ours: Command,
        peer: Command,
        name: str,
        limit: float,
        target: str,
    ) -> None:
        self.rows.append(
            time_row(key, what, ours, peer, name, limit, target, self.settings.timeout)
        )

    # --- groups ---

    def group_corpus(self) -> None:
        j, corpus, root = self.settings.jobs, self.corpus, self.corpus.root
        cold = self.owui.cold(
            "corpus-cold", f"owui-lint -j {j} (cold)", [corpus.actions], j, root, self.work
        )
        warm = self.owui.warm(cold, f"owui-lint -j {j} (warm)")
        bandit = self.peer(
            "corpus-bandit",
            "bandit -r -q",
            [self.bandit, "-r", "-q", str(corpus.actions)],
            root,
            (0, 1),
        )
        parse = self.parse("corpus-parse", f"bare parse, {j} processes", corpus.actions, j)
        fixit = self.peer(
            "corpus-fixit", "fixit lint", [self.fixit, "lint", str(corpus.actions)], root, (0, 1)
        )
        fixit.warmup = False  # slow enough that a warm-up changes nothing but the wait
        log("== owui-lint on the action corpus, once, in JSON (what it sees)")
        self.summaries["action"] = self.owui.summary(cold, self.settings.timeout)
        cold.warmup = False  # that run was its warm-up
        group = [cold, *([warm] if warm else []), bandit, parse, fixit]
        self.measure("action corpus", group, self.settings.corpus_runs)
        d = self.described
        size = f"{d['files']} files, {d['lines']:,} lines"
        self.time_row(
            "cold_vs_bandit",
            f"cold, `-j {j}`, action corpus ({size})",
            cold,
            bandit,
            "bandit -r -q",
            1.0,
            "≤ 1.0x",
        )
        self.time_row(
            "cold_vs_parse",
            f"cold, `-j {j}`, action corpus, vs bare LibCST parse",
            cold,
            parse,
            f"parse, {j} procs",
            2.5,
            "≤ 2.5x",
        )
        self.time_row(
            "cold_vs_fixit",
            "LibCST-based peer: `fixit lint`, same files",
            cold,
            fixit,
            "fixit lint",
            0.25,
            "≤ 0.25x (≥ 4x faster)",
        )
        what = "warm re-run, nothing changed (vs the cold run)"
        if warm:
            self.time_row("warm", what, warm, cold, "cold", 0.1, "≤ 0.1x")
        else:
            self.rows.append(
                skipped_row(
                    "warm", what, "≤ 0.1x", "owui-lint check has no --cache-dir / --no-cache option"
                )
            )

    def group_single(self) -> None:
        corpus = self.corpus
        _, lines = count_lines([corpus.single])
        ours = self.owui.cold(
            "single",
            f"owui-lint FILE ({lines}-line action)",
            [corpus.single],
            None,
            corpus.root,
            self.work,
        )
        peer = self.peer(
            "import-libcst",
            'python -c "import libcst"',
            [self.python, "-c", "import libcst"],
            corpus.root,
        )
        self.measure(f"one {lines}-line action (pre-commit)", [ours, peer], self.settings.runs)
        self.time_row(
            "single",
            f"one {lines}-line action (pre-commit: one file, default -j)",
            ours,
            peer,
            "import libcst",
            2.0,
            "≤ 2.0x",
        )

    def group_largest(self) -> None:
        corpus, module = self.corpus, self.corpus.largest_module
        ours = self.owui.cold(
            "largest", "owui-lint -j 1 largest.py", [corpus.largest], 1, corpus.root, self.work
        )
        peer = self.parse("largest-parse", "bare parse of largest.py", corpus.largest)
        self.measure(f"largest module ({module.lines} lines)", [ours, peer], self.settings.runs)
        what = f"largest module: {module.lines:,} lines, {module.helpers} helper methods, vs its bare parse"
        self.time_row("largest", what, ours, peer, "parse", 3.0, "≤ 3.0x")

    def group_memory(self) -> None:
        corpus, module = self.corpus, self.corpus.memory_module
        ours = self.owui.cold(
            "memory", "owui-lint -j 1 memory.py", [corpus.memory], 1, corpus.root, self.work
        )
        peer = self.parse("memory-parse", "bare parse of memory.py", corpus.memory)
        self.measure(f"memory ({module.lines} lines)", [ours, peer], self.settings.runs)
        mine, theirs = ours.median_rss(), peer.median_rss()
        if ours.error:
            met = "error"
        elif mine is None:
            met = "?"
        else:
            met = "yes" if mine <= MEMORY_LIMIT_MB else "no"
        self.rows.append(
            Row(
                "memory",
                f"memory: peak RSS of a worker, {module.lines:,}-line module (`-j 1`)",
                _state(ours, self.settings.timeout) or ("—" if mine is None else f"{mine:.0f} MB"),
                "—" if theirs is None else f"parse: {theirs:.0f} MB",
                f"{mine / theirs:.2f}x" if mine and theirs else "—",
                f"≤ {MEMORY_LIMIT_MB} MB",
                met,
                {
                    "ours_mb": mine,
                    "peer_mb": theirs,
                    "limit_mb": MEMORY_LIMIT_MB,
                    "met": met == "yes",
                },
            )
        )

    def group_mixed(self) -> None:
        mixed, what = mixed_corpus(self.venv, self.args.refresh_wheel)
        title = "mixed corpus (Python sources of the open-webui wheel), pre-filter"
        target = "≤ 0.2x (≥ 5x faster)"
        if mixed is None:
            log(f"== mixed corpus: {what}")
            self.rows.append(skipped_row("mixed", title, target, what))
            return
        j = self.settings.jobs
        files, lines = count_lines([mixed])
        ours = self.owui.cold("mixed", f"owui-lint -j {j} (mixed)", [mixed], j, mixed, self.work)
        peer = self.peer(
            "mixed-bandit",
            "bandit -r -q (mixed)",
            [self.bandit, "-r", "-q", str(mixed)],
            mixed,
            (0, 1),
        )
        log("== owui-lint on the mixed corpus, once, in JSON (what it sees)")
        self.summaries["mixed"] = self.owui.summary(ours, self.settings.timeout)
        ours.warmup = False
        self.measure(f"mixed corpus ({what})", [ours, peer], self.settings.corpus_runs)
        what = f"mixed corpus: {what} sources, {files} files, {lines:,} lines (pre-filter)"
        self.time_row("mixed", what, ours, peer, "bandit -r -q", 0.2, target)

    def group_scaling(self) -> None:
        corpus = self.corpus
        base = self.owui.cold(
            "scale-startup", "owui-lint -j 1 tiny.py", [corpus.tiny], 1, corpus.root, self.work
        )
        family = [
            self.owui.cold(
                f"scale-{copies}x", f"owui-lint -j 1 {path.name}", [path], 1, corpus.root, self.work
            )
            for copies, path, _ in corpus.scaling
        ]
        self.measure(
            "linear scaling (1x, 2x, 4x, 8x copies of the helper methods)",
            [base, *family],
            self.settings.runs,
        )
        self.startup = startup = base.median()
        for command, (copies, _, module) in zip(family, corpus.scaling, strict=True):
            median = command.median()
            net = None if median is None or startup is None else max(median - startup, 0.0)
            per = None if net is None else net / module.lines * 1e6
            state = _state(command, self.settings.timeout)
            self.scaling.append(
                ScalePoint(copies, module.lines, module.helpers, median, net, per, state)
            )
        first, last = self.scaling[0].us_per_line, self.scaling[-1].us_per_line
        growth = last / first if first and last is not None else None
        if any(p.state and p.state.startswith("failed") for p in self.scaling) or base.error:
            met = "error"
        elif growth is not None:
            met = "yes" if growth <= SCALING_LIMIT else "no"
        else:
            met = "no" if self.scaling[-1].state else "?"
        self.rows.append(
            Row(
                "scaling",
                "linear scaling: time per line, 8x vs 1x copies of the helpers (net of start-up)",
                f"{first:.0f} → {last:.0f} µs/line" if first and last is not None else "—",
                "—",
                "—" if growth is None else f"{growth:.2f}x",
                f"≤ {SCALING_LIMIT}x (flat)",
                met,
                {"growth": growth, "limit": SCALING_LIMIT, "met": met == "yes"},
            )
        )

    # --- report ---

    def header(self) -> list[str]:
        s, d, owui = self.settings, self.described, self.owui
        cpus = os.cpu_count() or 1
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        busy = " (busy machine: timings are noisy)" if load > 0.5 * cpus else ""
        warmups = "one warm-up run each (fixit: none)" if s.warmup else "no warm-ups"
        return [
            "owui-lint benchmark"
            + (" (--quick: smaller corpus and modules, fewer runs)" if s.quick else ""),
            f"machine: {cpus} CPUs, {platform.platform()}, Python {platform.python_version()}, "
            f"load average {load:.2f}{busy}",
            f"owui-lint: `{shlex.join(owui.base)}` ({owui.version}); {owui.cache_mode}",
            f"peers: bandit {self.peers['bandit']}, fixit {self.peers['fixit']} (bench venv); "
            f"bare parse and `import libcst`: {self.python}{self.python_note}, libcst {self.python_libcst}",
            f"action corpus: {d['files']} files, {d['lines']:,} lines (median {d['median_lines']}, "
            f"max {d['max_lines']}; by size {d['buckets']}), from {d['project_sources_used']} of "
            "the project's example/rule/test sources plus generated helper methods",
            f"runs: {s.corpus_runs} per corpus command, {s.runs} per single-file command, {warmups}, "
            "alternating; medians of the wall time of the whole process; ratio = median of the "
            "per-round ratios (owui-lint / peer)",
        ]

    def report(self) -> None:
        print()
        for line in self.header():
            print(line)
        for name, summary in self.summaries.items():
            if summary is None:
                print(f"owui-lint on the {name} corpus: no JSON summary (failed or timed out)")
            else:
                seen = ", ".join(
                    f"{k} {summary.get(k)}" for k in ("files", "actions", "skipped", "findings")
                )
                print(f"owui-lint on the {name} corpus sees: {seen}")
        print()
        print("| what | owui-lint | peer | ratio | target | met? |")
        print("|---|---|---|---|---|---|")
        for row in self.rows:
            print(
                f"| {row.what} | {row.ours} | {row.peer} | {row.ratio} | {row.target} | {row.met} |"
            )
        for row in self.rows:
            if "skipped" in row.data:
                print(f"\n{row.key}: {row.data['skipped']}")
        if self.scaling:
            tiny = count_lines([self.corpus.tiny])[1]
            print(
                f"\nScaling: owui-lint -j 1 on one module; start-up = on a {tiny}-line action: {_s(self.startup)}\n"
            )
            print(
                "| copies | lines | helper methods | median | net of start-up | µs/line (net) | vs 1x |"
            )
            print("|---|---|---|---|---|---|---|")
            first = self.scaling[0].us_per_line
            for p in self.scaling:
                per = "—" if p.us_per_line is None else f"{p.us_per_line:.0f}"
                vs = "—" if p.us_per_line is None or not first else f"{p.us_per_line / first:.2f}x"
                print(
                    f"| {p.copies}x | {p.lines:,} | {p.helpers} | {p.state or _s(p.median_s)} | {_s(p.net_s)} | {per} | {vs} |"
                )
        print("\nSamples: median [min - max] wall time; median peak RSS of one process")
        for command in self.commands:
            values = [sample.seconds for sample in command.timed()]
            rss = command.median_rss()
            spread = (
                f"{_s(statistics.median(values))} [{min(values):.3f} - {max(values):.3f}]"
                if values
                else "—"
            )
            state = _state(command, self.settings.timeout)
            print(
                f"  {command.label}: {spread}, {'—' if rss is None else f'{rss:.0f} MB'}{', ' + state if state else ''}"
            )

    def to_json(self, elapsed: float) -> dict[str, Any]:
        return {
            "settings": self.settings.__dict__,
            "header": self.header(),
            "owui_lint": {
                "command": self.owui.base,
                "version": self.owui.version,
                "cache_dir": self.owui.cache_dir,
                "no_cache": self.owui.no_cache,
            },
            "peers": self.peers,
            "python": self.python,
            "corpus": self.described,
            "summaries": self.summaries,
            "rows": [row.__dict__ for row in self.rows],
            "scaling": {"startup_s": self.startup, "points": [p.__dict__ for p in self.scaling]},
            "commands": {c.key: c.to_json() for c in self.commands},
            "seconds": elapsed,
        }

    def run(self) -> int:
        groups: dict[str, Callable[[], None]] = {
            "corpus": self.group_corpus,
            "single": self.group_single,
            "largest": self.group_largest,
            "memory": self.group_memory,
            "mixed": self.group_mixed,
            "scaling": self.group_scaling,
        }
        for name in GROUPS:
            if name in self.settings.only:
                groups[name]()
        self.report()
        elapsed = time.perf_counter() - self.started
        kept = " (kept)" if self.args.keep else " (removed; --keep keeps them)"
        print(f"\nbenchmark took {elapsed:.0f} s; corpora in {self.work}{kept}")
        if self.args.json:
            text = json.dumps(self.to_json(elapsed), indent=2) + "\n"
            Path(self.args.json).write_text(text, encoding="utf-8")
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        failed = [c for c in self.commands if c.error]
        if failed:
            detail = "; ".join(f"{c.label}: {c.error}" for c in failed)
            print(f"\nbench/run: measured commands failed: {detail}", file=sys.stderr)
            return 1
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Benchmark owui-lint against bandit, fixit and a bare LibCST parse.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: smaller corpus and modules, fewer runs, no warm-ups",
    )
    parser.add_argument("--runs", type=int, help="timed runs per command (default 5; quick 2)")
    parser.add_argument(
        "--corpus-runs",
        type=int,
        help="timed runs per corpus command (default 3, or --runs; quick 1)",
    )
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one untimed run of each command first (default: on; quick: off)",
    )
    parser.add_argument(
        "--owui-lint",
        metavar="CMD",
        help="the command to benchmark (default: owui-lint on PATH, else "
        ".venv/bin/owui-lint, else python -m analyzer)",
    )
    parser.add_argument(
        "--python",
        help="interpreter for the bare-parse peers (default: the one owui-lint runs with)",
    )
    parser.add_argument(
        "--only", metavar="GROUPS", help=f"comma-separated subset of: {', '.join(GROUPS)}"
    )
    parser.add_argument(
        "--cmd-timeout",
        type=float,
        metavar="SECONDS",
        help="kill a measured command after this long (default 900; quick 300; 0: "
        "never); it is then reported as a timeout and not run again",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated corpora (bench/.cache/work) for inspection",
    )
    parser.add_argument(
        "--rebuild-venv", action="store_true", help="rebuild the peers' virtual environment"
    )
    parser.add_argument(
        "--refresh-wheel", action="store_true", help="download the open-webui wheel again"
    )
    args = parser.parse_args(argv)
    if not hasattr(os, "wait4"):
        print("bench/run needs a POSIX system (os.wait4)", file=sys.stderr)
        return 2
    try:
        return Bench(args).run()
    except HarnessError as error:
        print(f"bench/run: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench/run: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
